"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
ROTOMAIL_TEST_DATABASE_URL points at a server (each test gets its own schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from sample_data import COMPANY_CONFIG, CUSTOMERS_TSV, LEDGER_TSV
from smtp_server import SmtpServer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from rotomail.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PG_URL = os.environ.get("ROTOMAIL_TEST_DATABASE_URL", "")


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'home' / 'rotomail.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("ROTOMAIL_") and name != "ROTOMAIL_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    path = tmp_path / "home"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("ROTOMAIL_HOME", str(path))
    monkeypatch.setenv("ROTOMAIL_DATABASE_URL", db_url)
    monkeypatch.setenv("ROTOMAIL_OPERATOR", "operador.prueba")
    # Tests never have a person at a terminal; those that need one provide it.
    monkeypatch.setattr("rotomail.cli.common.open_terminal", lambda: None)
    return path


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None):
        return self.runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli()


@pytest.fixture
def customers(cli: Cli, home: Path) -> Cli:
    """The customer master loaded and the test company configured."""
    (home / "config.toml").write_text(COMPANY_CONFIG, encoding="utf-8")
    result = cli("customers", "import", "-", input=CUSTOMERS_TSV.encode())
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def loaded(customers: Cli, home: Path) -> Cli:
    """The test company configured, open items at 2026-11-30 and three catalog entries."""
    (home / "config.toml").write_text(COMPANY_CONFIG, encoding="utf-8")
    result = customers("ledger", "import", "-", "--date", "2026-11-30", input=LEDGER_TSV.encode())
    assert result.exit_code == 0, result.output
    for cliente, correos in [
        ("1006210", "a@agro.example.mx;b@agro.example.mx"),
        ("1004273", "pagos@ferrelopez.example.mx"),
        ("1001400", "cxp@plomeria.example.mx"),
    ]:
        assert customers("catalog", "add", "SM02", cliente, correos).exit_code == 0
    return customers


def command_tree() -> dict[tuple[str, ...], Any]:
    """Every command and group of the CLI by its path (the root is ``()``), loading the
    lazily imported command modules. Typer 0.29 vendors Click, hence duck typing."""
    tree: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        tree[path] = command
        if hasattr(command, "list_commands"):
            context = typer.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), (*path, name))

    walk(typer.main.get_command(app), ())
    return tree


@pytest.fixture
def smtp(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 that rotomail sends to (no TLS, no rate limit)."""
    with SmtpServer() as server:
        monkeypatch.setenv("ROTOMAIL_SMTP_HOST", server.host)
        monkeypatch.setenv("ROTOMAIL_SMTP_PORT", str(server.port))
        monkeypatch.setenv("ROTOMAIL_SMTP_SECURITY", "none")
        monkeypatch.setenv("ROTOMAIL_SMTP_RATE_PER_MINUTE", "0")
        monkeypatch.setenv("ROTOMAIL_SMTP_RETRY_WAIT", "0.01")
        monkeypatch.setenv("ROTOMAIL_SMTP_ROUND_WAIT", "0.01")
        yield server

"""The CLI as a whole: help everywhere, settings precedence, the console script itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sample_data import CUSTOMERS_TSV

from tests.conftest import PG_URL, Cli, command_tree


def all_commands() -> list[list[str]]:
    return [list(path) for path in command_tree()]


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "rotomail")
def test_every_command_has_help(cli: Cli, path: list[str]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    command = command_tree()[tuple(path)]
    assert command.help, f"{' '.join(path)} has no help text"


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from rotomail.cli import app; "
        "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'fpdf', 'keyring', 'textual', 'babel') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_and_python_m(home: Path) -> None:
    env = {**os.environ}
    script = Path(sys.executable).with_name("rotomail")
    for argv in ([str(script)], [sys.executable, "-m", "rotomail"]):
        done = subprocess.run(
            [*argv, "catalog", "search", "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]"


def test_unknown_option_is_usage_error(cli: Cli) -> None:
    result = cli("catalog", "search", "--bogus")
    assert result.exit_code == 2


def config_rows(cli: Cli, *args: str) -> dict[str, tuple[str, str]]:
    result = cli(*args, "config", "show")
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.stdout.splitlines()[2:]:
        key, value, source = _split(line)
        rows[key] = (value, source)
    return rows


def _split(line: str) -> tuple[str, str, str]:
    parts = [p.strip() for p in line.split("  ") if p.strip()]
    return parts[0], " ".join(parts[1:-1]), parts[-1]


def test_config_precedence_option_env_file_default(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "config.toml").write_text(
        '[smtp]\nhost = "smtp.file.example.mx"\nport = 2525\nuser = "file@example.mx"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ROTOMAIL_SMTP_PORT", "465")
    monkeypatch.setenv("ROTOMAIL_SMTP_PASSWORD", "no-debe-verse")
    rows = config_rows(cli)
    assert rows["smtp.host"] == ("smtp.file.example.mx", "config.toml")
    assert rows["smtp.port"] == ("465", "ROTOMAIL_SMTP_PORT")
    assert rows["smtp.security"] == ("starttls", "predeterminado")
    assert rows["smtp.password"] == ("(oculta)", "ROTOMAIL_SMTP_PASSWORD")
    other = home.parent / "otra"
    other.mkdir()
    assert config_rows(cli, "--home", str(other))["home"] == (str(other), "opción")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[smtp\nhost=", "no es TOML válido"),
        ('[smtp]\nport = "abc"\n', "Configuración inválida: smtp.port = «abc»"),
        ('[smtp]\nsecurity = "tls"\n', "smtp.security = «tls»"),
        ('[companies.SM02]\nlanguage = "fr"\n', "language = «fr»; use es, pt o en."),
        (
            '[companies.SM02]\nclabe = "99918000123456789"\n',
            "[companies.SM02] clabe = «99918000123456789»: la CLABE lleva 18 dígitos y "
            "esta tiene 17.",
        ),
        (
            '[companies.SM02]\nclabe = "999180001234567898"\n',
            "clabe = «999180001234567898»: el dígito verificador de la CLABE no coincide; "
            "revise los 18 dígitos.",
        ),
        ('[companies.SM02]\nclabe = "9991800012345678 9O"\n', "la CLABE solo lleva dígitos."),
    ],
)
def test_bad_config_is_exit_2_with_a_message(
    cli: Cli, home: Path, content: str, message: str
) -> None:
    (home / "config.toml").write_text(content, encoding="utf-8")
    result = cli("config", "show")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_database_url_is_exit_2(cli: Cli) -> None:
    result = cli("--database-url", "postgresql+psycopg://nadie@127.0.0.1:1/x", "catalog", "search")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: No se pudo abrir la base de datos")


def test_demo_runs_the_whole_job_on_the_examples(cli: Cli) -> None:
    import shutil

    result = cli("demo")
    home = Path(result.stdout.splitlines()[0].removeprefix("Carpeta de la demostración: "))
    try:
        assert result.exit_code == 0, result.output
        assert "Clientes: 13 importados de clientes_sap.csv" in result.stdout
        assert "Catálogo: 6 de 6 filas de catalogo_pegado.tsv" in result.stdout
        run_folder = home / "outbox" / "corrida-1"
        assert len(list(run_folder.glob("*.pdf"))) == 5
        assert len(list(run_folder.glob("100*.eml"))) == 5
        assert f"Archivos (PDF y .eml): {run_folder}" in result.stdout
        first_log = sorted((home / "logs").glob("*.txt"))[0]
        assert first_log.read_text(encoding="utf-8").count(" guardado ") == 5
        # the Brazilian company: its own run, in Portuguese
        [eml] = (home / "outbox" / "corrida-2").glob("2000145*.eml")
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        assert message["Subject"] == "Extrato de Conta Reservatórios Exemplo Ltda."
        # it ends with a bounce read back from a Maildir in the demo folder
        assert "Clientes rebotados     1" in result.stdout
        assert list((home / "rebotes" / "cur").iterdir())
        bounced = cli("--home", str(home), "--database-url", f"sqlite:///{home / 'rotomail.db'}",
                      "history", "1", "--format", "json")  # fmt: skip
        assert "rebotado" in {row["estado"] for row in json.loads(bounced.stdout)}
        assert "Demostración terminada." in result.stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_start_up_runs_without_the_garbage_collector_and_the_command_with_it(home: Path) -> None:
    """``main`` starts with the collector off (imports make no garbage); the command's own
    code runs with it on, start-up's objects frozen out of its sight."""
    code = """
import gc, sys
import rotomail.cli.catalog.search as search
import rotomail.cli.group as group
from rotomail.cli import main

seen = {}
get_command, search_entries = group.LazyGroup.get_command, search.search_entries

def loading(self, ctx, name):
    seen.setdefault("loading", (gc.isenabled(), gc.get_freeze_count() > 0))
    return get_command(self, ctx, name)

def running(*args, **kwargs):
    seen["running"] = (gc.isenabled(), gc.get_freeze_count() > 0)
    return search_entries(*args, **kwargs)

group.LazyGroup.get_command, search.search_entries = loading, running
sys.argv = ["rotomail", "catalog", "search", "--format", "json"]
try:
    main()
finally:
    print(seen, file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    seen = done.stderr.strip().splitlines()[-1]
    assert seen == "{'loading': (False, False), 'running': (True, True)}"


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's WAL file")
def test_a_command_closes_the_database_so_the_file_alone_holds_everything(home: Path) -> None:
    """Start-up's objects stay frozen at exit (never collected), so the database is closed
    when the command ends, not by the collector: SQLite then moves its WAL into the file."""
    done = subprocess.run(
        [sys.executable, "-m", "rotomail", "customers", "import", "-"],
        input=CUSTOMERS_TSV.encode(),
        capture_output=True,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    assert (home / "rotomail.db").exists()
    assert not (home / "rotomail.db-wal").exists()

"""The installed console script in a real pseudo-terminal: rows piped on stdin, the question
asked and answered on the controlling terminal (what ``pbpaste | rotomail catalog import``
does at a clerk's desk)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from smtp_server import SmtpServer

from tests.conftest import EXAMPLES

ROTOMAIL = str(Path(sys.executable).parent / "rotomail")
PASTE = EXAMPLES / "catalogo_pegado.tsv"


@pytest.fixture
def env(home: Path, db_url: str) -> dict[str, str]:
    variables = {
        **os.environ,
        "ROTOMAIL_HOME": str(home),
        "ROTOMAIL_DATABASE_URL": db_url,
        "TERM": "xterm",
        "COLUMNS": "120",
        "LINES": "40",
    }
    imported = subprocess.run(
        [ROTOMAIL, "customers", "import", str(EXAMPLES / "clientes_sap.csv")],
        env=variables,
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    return variables


def catalog_size(env: dict[str, str]) -> int:
    result = subprocess.run(
        [ROTOMAIL, "catalog", "search", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return len(json.loads(result.stdout))


def paste_in_terminal(env: dict[str, str]) -> pexpect.spawn:
    """``cat FILE | rotomail catalog import`` with a pty as the controlling terminal."""
    return pexpect.spawn(
        "bash",
        ["-c", f"cat {PASTE} | {ROTOMAIL} catalog import"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )


@pytest.mark.parametrize(
    ("answers", "code", "saved"),
    [
        (["g"], 0, True),
        (["sí"], 0, True),
        (["Grabar"], 0, True),
        (["c"], 1, False),
        (["no"], 1, False),
        (["quizá", "", "s"], 0, True),
    ],
)
def test_paste_asks_on_the_controlling_terminal(
    env: dict[str, str], answers: list[str], code: int, saved: bool
) -> None:
    child = paste_in_terminal(env)
    for answer in answers:
        child.expect_exact("¿Grabar o Cancelar? [g/c]: ")
        child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert "repita el comando con --yes" not in (child.before or "")
    assert (catalog_size(env) > 0) is saved


def test_paste_without_a_terminal_only_previews(env: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", "-c", f"cat {PASTE} | {ROTOMAIL} catalog import"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,  # no controlling terminal, as under cron
    )
    assert result.returncode == 2
    assert result.stderr.endswith(
        "Vista previa: no se grabó nada. Para grabar, repita el comando con --yes.\n"
    )
    assert catalog_size(env) == 0


@pytest.mark.parametrize(
    ("answers", "code", "left"), [(["si"], 0, 0), (["x", "sí"], 0, 0), (["n"], 1, 1)]
)
def test_delete_asks_s_n_in_spanish(
    env: dict[str, str], answers: list[str], code: int, left: int
) -> None:
    subprocess.run(
        [ROTOMAIL, "catalog", "add", "SM02", "1004273", "pagos@ferrelopez.example.mx"],
        env=env,
        check=True,
        capture_output=True,
    )
    child = pexpect.spawn(
        ROTOMAIL, ["catalog", "delete", "SM02", "1004273"], env=env, encoding="utf-8", timeout=30
    )
    for answer in answers:
        child.expect_exact("(pagos@ferrelopez.example.mx)? [s/N]: ")
        child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert "invalid input" not in (child.before or "")
    assert catalog_size(env) == left


def test_progress_bar_eta_counts_the_rate_limit(loaded: object) -> None:
    """3 customers at 20 messages a minute take at least 9 s: the bar says so from the start,
    before any message has gone out."""
    with SmtpServer() as server:
        env = {
            **os.environ,
            "ROTOMAIL_SMTP_HOST": server.host,
            "ROTOMAIL_SMTP_PORT": str(server.port),
            "ROTOMAIL_SMTP_SECURITY": "none",
            "ROTOMAIL_SMTP_RATE_PER_MINUTE": "20",
            "TERM": "xterm",
        }
        child = pexpect.spawn(
            ROTOMAIL,
            ["send", "--sociedad", "SM02", "--all", "--date", "2026-11-30"],
            env=env,
            encoding="utf-8",
            timeout=60,
            dimensions=(24, 100),
        )
        child.expect(r"quedan (\d+:\d\d:\d\d)")
        first_eta = child.match.group(1)
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0, child.before
    assert first_eta in ("0:00:09", "0:00:08", "0:00:07", "0:00:06"), first_eta


def test_set_password_asks_twice_in_spanish(env: dict[str, str]) -> None:
    env = {**env, "ROTOMAIL_SMTP_HOST": "smtp.example.mx", "ROTOMAIL_SMTP_USER": "op@example.mx"}
    child = pexpect.spawn(
        ROTOMAIL, ["config", "set-password"], env=env, encoding="utf-8", timeout=30
    )
    child.expect_exact("Contraseña SMTP: ")
    child.sendline("uno")
    child.expect_exact("Repita para confirmar: ")
    child.sendline("dos")
    child.expect_exact("Los dos valores no coinciden; escríbalo de nuevo.")
    child.expect_exact("Contraseña SMTP: ")
    child.sendline("tres")
    child.expect_exact("Repita para confirmar: ")
    child.sendline("tres")
    child.expect(pexpect.EOF)
    child.close()
    # Saved in the system keyring, or (no keyring here) one Spanish line saying so.
    assert "Repeat" not in child.before and "Error: The" not in child.before
    assert child.exitstatus in (0, 2), child.before

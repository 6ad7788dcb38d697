"""What a send prints and records, in words that are true: under cron a header and only what
needs attention; outbox, dry-run and rehearsal say what really happened."""

from __future__ import annotations

import json
import re
import socket

import pytest
from smtp_server import SmtpServer

from tests.conftest import Cli

DATE = "2026-11-30"
SEND = ("send", "--sociedad", "SM02", "--all", "--date", DATE)
HEADER = re.compile(
    r"Corrida 1 · sociedad SM02 · fecha de corte 30/11/2026 · modo (envío|ensayo|simulación) · "
    r"transporte (buzón de salida .+|smtp 127\.0\.0\.1:\d+ \(none\)) · "
    r"inicio \d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
)


def customer_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line[:1] in "✓✗–?·" and line[1:2] == " "]


def summary(stdout: str) -> dict[str, int]:
    """The summary table: result -> customers."""
    rows = re.findall(r"^([^\d\n-][^\d\n]*?) +(\d+)$", stdout.split("Resultado", 1)[1], re.M)
    return {name: int(count) for name, count in rows}


def history(cli: Cli, *args: str) -> list[dict]:
    result = cli("history", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- cron-friendly output ------------------------------------------------------------------


def test_without_a_terminal_only_what_needs_attention(smtp: SmtpServer, loaded: Cli) -> None:
    smtp.reply_at_rcpt("pagos@ferrelopez.example.mx", "550 5.1.1 No such user")
    result = loaded(*SEND)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert HEADER.fullmatch(lines[0]), lines[0]
    assert customer_lines(result.stdout) == [
        "✗ 1004273 Ferretería López: fallido - 550 5.1.1 No such user"
    ]
    assert summary(result.stdout) == {"Enviados": 2, "Fallidos": 1}


def test_verbose_prints_every_customer(smtp: SmtpServer, loaded: Cli) -> None:
    result = loaded(*SEND, "--verbose")
    assert result.exit_code == 0, result.output
    assert HEADER.fullmatch(result.stdout.splitlines()[0])
    assert sorted(customer_lines(result.stdout)) == [
        "✓ 1001400 Plomería Central S.A. de C.V. → cxp@plomeria.example.mx",
        "✓ 1004273 Ferretería López → pagos@ferrelopez.example.mx",
        "✓ 1006210 Agroequipos del Bajío S.A. de C.V. → a@agro.example.mx;b@agro.example.mx",
    ]


def test_quiet_prints_only_the_summary(smtp: SmtpServer, loaded: Cli) -> None:
    smtp.reply_at_rcpt("pagos@ferrelopez.example.mx", "550 5.1.1 No such user")
    result = loaded(*SEND, "--quiet")
    assert result.exit_code == 1
    assert customer_lines(result.stdout) == []
    assert not HEADER.search(result.stdout)
    assert result.stdout.startswith("Resultado ")
    assert summary(result.stdout) == {"Enviados": 2, "Fallidos": 1}


def test_skips_are_shown_with_their_reason(loaded: Cli) -> None:
    result = loaded(*SEND, "--skip-zero")
    assert result.exit_code == 0, result.output
    assert customer_lines(result.stdout) == [
        "– 1001400 Plomería Central S.A. de C.V.: omitido - sin saldo pendiente (--skip-zero)"
    ]


def test_verbose_and_quiet_together_is_a_usage_error(loaded: Cli) -> None:
    result = loaded(*SEND, "--verbose", "--quiet")
    assert result.exit_code == 2
    assert result.stderr == "Error: Use --verbose o --quiet, no ambos.\n"


# --- truthful words ----------------------------------------------------------------------


def test_outbox_says_saved_not_sent(loaded: Cli, home) -> None:
    result = loaded(*SEND)
    assert result.exit_code == 0, result.output
    assert "Guardados en el buzón de salida  3" in result.stdout.splitlines()
    assert "Enviados" not in result.stdout
    assert "Registro guardado en el buzón de salida para operador@example.mx." in result.stdout
    assert {row["estado"] for row in history(loaded, "1")} == {"guardado"}
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Guardados en el buzón de salida: 3" in log
    assert "enviado" not in log.split("\n\n", 1)[1]


def test_dry_run_says_built(loaded: Cli, home) -> None:
    result = loaded(*SEND, "--dry-run", "--verbose")
    assert result.exit_code == 0, result.output
    assert "Generados (simulación)  3" in result.stdout.splitlines()
    assert "Enviados" not in result.stdout
    assert "modo simulación" in result.stdout.splitlines()[0]
    [run] = history(loaded)
    assert (run["modo"], run["estado"]) == ("simulación", "terminada")
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Modo:           simulación (--dry-run: nada se envió)" in log


def test_rehearsal_lines_name_the_operator(smtp: SmtpServer, loaded: Cli) -> None:
    result = loaded(*SEND, "--test", "--verbose")
    assert result.exit_code == 0, result.output
    assert (
        "✓ 1004273 Ferretería López → operador@example.mx "
        "(ensayo; del cliente: pagos@ferrelopez.example.mx)"
    ) in result.stdout.splitlines()
    [run] = history(loaded)
    assert (run["modo"], run["estado"]) == ("ensayo", "terminada")


def test_history_words_are_spanish_keys_unchanged(smtp: SmtpServer, loaded: Cli) -> None:
    assert loaded(*SEND).exit_code == 0
    [run] = history(loaded)
    assert (run["modo"], run["estado"], run["enviados"]) == ("envío", "terminada", 3)
    table = loaded("history")
    assert " finished" not in table.stdout and " send " not in table.stdout
    assert "Enviados" not in table.stdout  # the count is of sent, saved or built, as the mode says
    assert "terminada" in table.stdout and "envío" in table.stdout


def test_test_smtp_tells_no_connection_from_refusal(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ROTOMAIL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ROTOMAIL_SMTP_PORT", str(port))
    monkeypatch.setenv("ROTOMAIL_SMTP_SECURITY", "none")
    monkeypatch.setenv("ROTOMAIL_SMTP_ATTEMPTS", "1")
    result = loaded("config", "test-smtp")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: No se pudo conectar con el servidor SMTP 127.0.0.1:{port}: "
    )
    assert "rechazó" not in result.stderr


def test_test_smtp_refused_by_the_server(smtp: SmtpServer, loaded: Cli) -> None:
    smtp.reply_at_rcpt("operador@example.mx", "550 5.7.1 Relaying denied")
    result = loaded("config", "test-smtp")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: El servidor SMTP rechazó el mensaje de prueba: 550")

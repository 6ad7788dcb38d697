"""The send job end to end: catalog + open items -> PDFs -> outbox or a real SMTP server.

What the customer would get is checked at the receiving end (aiosmtpd on 127.0.0.1).
"""

from __future__ import annotations

import io
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from pypdf import PdfReader
from sample_data import COMPANY_CONFIG as CONFIG
from smtp_server import SmtpServer

from tests.conftest import Cli

DATE = "2026-11-30"
SUBJECT = "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."


def history(cli: Cli, run: int | None = None) -> list[dict]:
    args = ["history", "--format", "json"] + ([str(run)] if run else [])
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def statuses(cli: Cli, run: int) -> dict[str, str]:
    return {row["cliente"]: row["estado"] for row in history(cli, run)}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- usage -------------------------------------------------------------------------------


def test_without_terminal_it_needs_all_or_clientes(loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Sin terminal no hay lista interactiva: use --all o indique --cliente.\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["send", "--all"],
            2,
            "Error: Indique la sociedad con --sociedad, por ejemplo --sociedad SM02.\n",
        ),
        (
            ["send", "--sociedad", "SM02", "--all", "--date", "30/11/2026"],
            2,
            "Error: Fecha inválida «30/11/2026»: use AAAA-MM-DD, por ejemplo 2026-11-30.\n",
        ),
        (
            ["send", "--sociedad", "ZZ99", "--all"],
            2,
            "Error: La sociedad ZZ99 no tiene perfil en config.toml: agregue [companies.ZZ99] "
            "con name y sender.\n",
        ),
        (
            ["send", "--sociedad", "SM02", "--cliente", "42"],
            1,
            "Error: No están en el catálogo de la sociedad SM02: 42\n",
        ),
    ],
)
def test_bad_usage(loaded: Cli, args: list[str], code: int, message: str) -> None:
    result = loaded(*args)
    assert result.exit_code == code, result.output
    assert result.stderr == message


# --- outbox (no SMTP host: the embedded default) -----------------------------------------


def test_send_all_to_outbox(loaded: Cli, home: Path) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--verbose")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        "✓ 1006210 Agroequipos del Bajío S.A. de C.V. → a@agro.example.mx;b@agro.example.mx"
        " (guardado en el buzón de salida)"
    ) in lines
    assert (
        "✓ 1004273 Ferretería López → pagos@ferrelopez.example.mx (guardado en el buzón de salida)"
        in lines
    )
    assert "Guardados en el buzón de salida  3" in lines
    assert not any(line.startswith("Enviados") for line in lines)
    folder = home / "outbox" / "corrida-1"
    assert sorted(p.name for p in folder.glob("*.pdf")) == [
        "1001400_20261130.pdf",
        "1004273_20261130.pdf",
        "1006210_20261130.pdf",
    ]
    assert len(list(folder.glob("100*.eml"))) == 3
    assert f"Archivos (PDF y .eml): {folder}" in lines
    assert statuses(loaded, 1) == {
        "1001400": "guardado",
        "1004273": "guardado",
        "1006210": "guardado",
    }
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Corrida:        1" in log
    assert "Guardados en el buzón de salida: 3  Fallidos: 0" in log
    assert "Enviados" not in log  # an outbox run sent nothing: it saved
    assert log.count(" guardado ") == 3
    assert "1006210_20261130.pdf" in log


def test_statement_pdf_content(loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert result.exit_code == 0, result.output
    text = pdf_text(
        (
            Path(result.stdout.split("Archivos (PDF y .eml): ")[1].split("\n")[0])
            / "1006210_20261130.pdf"
        ).read_bytes()
    )
    for expected in [
        "Agroequipos del Baj",
        "1006210",
        "1,000.00",
        "500.00",
        "MXN",
        "USD",
        "30/11/2026",
        "Tinacos Ejemplo S.A. de C.V.",
    ]:
        assert expected in text


def test_rerun_skips_already_sent_unless_force(loaded: Cli) -> None:
    assert loaded("send", "--sociedad", "SM02", "--all", "--date", DATE).exit_code == 0
    again = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == (
        "Nada que enviar: ya enviado para esta fecha (corrida 1) a los 3 clientes de SM02 "
        "(estado de cuenta al 30/11/2026); use --force para reenviar."
    )
    assert set(statuses(loaded, 2).values()) == {"omitido"}
    verbose = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--verbose")
    assert (
        "– 1006210 Agroequipos del Bajío S.A. de C.V.: omitido - ya enviado para esta fecha "
        "(corrida 1); use --force para reenviar"
    ) in verbose.stdout.splitlines()
    forced = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE, "--force")
    assert forced.exit_code == 0, forced.output
    assert statuses(loaded, 4) == {"1006210": "guardado"}


def test_dry_run_builds_but_sends_nothing(loaded: Cli, home: Path) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Simulación: no se envió nada." in result.stdout
    assert set(statuses(loaded, 1).values()) == {"generado"}
    assert len(list((home / "outbox" / "corrida-1").glob("*.pdf"))) == 3
    real = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert set(statuses(loaded, 2).values()) == {"guardado"}, real.output


def test_skip_zero_leaves_out_customers_without_balance(loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--skip-zero")
    assert result.exit_code == 0, result.output
    assert statuses(loaded, 1)["1001400"] == "omitido"
    assert "sin saldo pendiente (--skip-zero)" in result.stdout


@pytest.mark.parametrize(
    ("company_table", "message"),
    [
        (
            "",
            "Error: La sociedad SM02 no tiene perfil en config.toml: agregue [companies.SM02] "
            "con name y sender.\n",
        ),
        (
            '[companies.SM02]\nsender = "portal@example.mx"\n',
            "Error: [companies.SM02] de config.toml no tiene name; se necesita para enviar.\n",
        ),
        (
            '[companies.SM02]\nname = "Tinacos Ejemplo S.A. de C.V."\n',
            "Error: [companies.SM02] de config.toml no tiene sender; se necesita para enviar.\n",
        ),
    ],
)
def test_incomplete_company_profile_is_refused_before_anything_is_recorded(
    loaded: Cli, home: Path, company_table: str, message: str
) -> None:
    (home / "config.toml").write_text(
        '[operator]\nemail = "operador@example.mx"\n' + company_table, encoding="utf-8"
    )
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
    assert result.exit_code == 2, result.output
    assert result.stderr == message
    assert history(loaded) == []


# --- SMTP --------------------------------------------------------------------------------


def test_send_over_smtp_what_arrives(smtp: SmtpServer, loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    by_rcpt = {tuple(m.rcpt_tos): m for m in smtp.messages}
    assert set(by_rcpt) == {
        ("a@agro.example.mx", "b@agro.example.mx"),
        ("pagos@ferrelopez.example.mx",),
        ("cxp@plomeria.example.mx",),
        ("operador@example.mx",),
    }
    message = by_rcpt[("a@agro.example.mx", "b@agro.example.mx")].message
    assert message["Subject"] == SUBJECT
    assert (
        message["From"] == '"Tinacos Ejemplo S.A. de C.V. - Cuentas por Cobrar" <portal@example.mx>'
    )
    assert message["Reply-To"] == "cobranza@example.mx"
    assert message["Message-ID"] and message["Date"]
    body = message.get_body(("plain",)).get_content()
    assert "Estimado Cliente: Agroequipos del Bajío S.A. de C.V." in body
    assert "Anexamos su estado de cuenta" in body
    assert "Cuentas por Cobrar Clientes Tinacos Ejemplo S.A. de C.V." in body
    assert message.get_body(("html",)) is not None
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "1006210_20261130.pdf"
    text = pdf_text(attachment.get_content())
    assert "1,000.00" in text and "500.00" in text
    ids = {row["message_id"] for row in history(loaded, 1)}
    assert message["Message-ID"] in ids
    log = by_rcpt[("operador@example.mx",)].message
    [log_file] = list(log.iter_attachments())
    assert log_file.get_filename().endswith("_corrida1_SM02.txt")
    assert "Registro enviado a operador@example.mx." in result.stdout


def test_rehearsal_sends_everything_to_the_operator(smtp: SmtpServer, loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--test")
    assert result.exit_code == 0, result.output
    assert {tuple(m.rcpt_tos) for m in smtp.messages} == {("operador@example.mx",)}
    subjects = sorted(m.message["Subject"] for m in smtp.messages)
    assert subjects[0].startswith("[PRUEBA] ")
    assert subjects.count(f"[PRUEBA] {SUBJECT}") == 3
    # A rehearsal does not count as the customers' statements being sent.
    real = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert set(statuses(loaded, 2).values()) == {"enviado"}, real.output


def test_permanent_failure_then_retry_failed(smtp: SmtpServer, loaded: Cli) -> None:
    smtp.reply_at_rcpt("pagos@ferrelopez.example.mx", "550 5.1.1 Mailbox unavailable", times=1)
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1, result.output
    assert (
        "✗ 1004273 Ferretería López: fallido - 550 5.1.1 Mailbox unavailable"
        in result.stdout.splitlines()
    )
    assert smtp.rcpt_attempts["pagos@ferrelopez.example.mx"] == 1  # 5xx: never retried
    assert statuses(loaded, 1) == {"1001400": "enviado", "1004273": "fallido", "1006210": "enviado"}
    retry = loaded("send", "--retry-failed", "1")
    assert retry.exit_code == 0, retry.output
    assert statuses(loaded, 2) == {"1004273": "enviado"}
    statements = [m for m in smtp.messages if m.message["Subject"] == SUBJECT]
    assert len(statements) == 3  # each customer exactly once


def test_partial_refusal_counts_as_sent_and_reports_the_address(
    smtp: SmtpServer, loaded: Cli
) -> None:
    smtp.reply_at_rcpt("b@agro.example.mx", "550 5.1.1 No such user")
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert "(rechazados: b@agro.example.mx (550 5.1.1 No such user))" in result.stdout
    [row] = history(loaded, 1)
    assert row["estado"] == "enviado"
    assert row["rechazados"] == "b@agro.example.mx: 550 5.1.1 No such user"


def test_connection_dropped_after_data_is_uncertain_and_not_resent(
    smtp: SmtpServer, loaded: Cli
) -> None:
    smtp.drop_at_data(times=1)
    first = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
    assert first.exit_code == 1
    assert statuses(loaded, 1) == {"1004273": "incierto"}
    again = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
    assert again.exit_code == 1
    assert "incierto: la corrida 1 pudo haberlo enviado" in again.stdout
    forced = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE, "--force")
    assert forced.exit_code == 0, forced.output
    assert statuses(loaded, 3) == {"1004273": "enviado"}


@pytest.mark.parametrize(
    ("security", "password", "reason"),
    [
        ("none", "equivocada", "rechazó el usuario o la contraseña de portal@example.mx"),
        ("starttls", "correcta", "no ofrece STARTTLS: no se envía la contraseña sin cifrar"),
    ],
)
def test_a_failure_that_would_repeat_stops_the_run_and_leaves_customers_pending(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, security: str, password: str, reason: str
) -> None:
    with SmtpServer(auth=("portal@example.mx", "correcta")) as server:  # no STARTTLS offered
        monkeypatch.setenv("ROTOMAIL_SMTP_HOST", server.host)
        monkeypatch.setenv("ROTOMAIL_SMTP_PORT", str(server.port))
        monkeypatch.setenv("ROTOMAIL_SMTP_SECURITY", security)
        monkeypatch.setenv("ROTOMAIL_SMTP_USER", "portal@example.mx")
        monkeypatch.setenv("ROTOMAIL_SMTP_PASSWORD", password)
        result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
        assert result.exit_code == 2, result.output  # a configuration error, as the README says
        assert "Corrida detenida: " in result.stderr
        assert reason in result.stderr
        assert set(statuses(loaded, 1).values()) == {"pendiente"}
        assert server.messages == []
        assert password not in result.output


def test_log_mail_failure_does_not_fail_customers(smtp: SmtpServer, loaded: Cli) -> None:
    smtp.reply_at_rcpt("operador@example.mx", "550 5.1.1 No such operator")
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert "Aviso: no se pudo enviar el registro al operador:" in result.stderr
    assert set(statuses(loaded, 1).values()) == {"enviado"}
    assert "Registro: " in result.stdout


def test_daily_cap_stops_the_run_and_holds_across_runs(
    smtp: SmtpServer, loaded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTOMAIL_SMTP_DAILY_CAP", "2")
    first = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert first.exit_code == 1, first.output
    reason = "Se alcanzó el límite diario de 2 mensajes (smtp.daily_cap)."
    assert f"Corrida detenida: {reason}" in first.stderr.splitlines()
    assert f"pendiente - no se intentó: {reason}" in first.stdout
    assert sorted(statuses(loaded, 1).values()) == ["enviado", "enviado", "pendiente"]
    second = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert second.exit_code == 1
    assert sorted(statuses(loaded, 2).values()) == ["omitido", "omitido", "pendiente"]
    assert len([m for m in smtp.messages if m.message["Subject"] == SUBJECT]) == 2


def test_a_bad_address_in_the_database_fails_only_that_customer(loaded: Cli) -> None:
    import os

    from sqlalchemy import text

    from rotomail.store.db import open_engine

    engine = open_engine(os.environ["ROTOMAIL_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE catalog_entry SET correos = 'x@a.example.mx\r\nBcc: y@evil.example.com' "
                "WHERE cliente = '1004273'"
            )
        )
    engine.dispose()
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1, result.output
    assert statuses(loaded, 1) == {
        "1001400": "guardado",
        "1004273": "fallido",
        "1006210": "guardado",
    }
    assert "✗ 1004273 Ferretería López: fallido - " in result.stdout


def test_admin_template_override_and_its_typos(loaded: Cli, home: Path) -> None:
    folder = home / "templates" / "es"
    folder.mkdir(parents=True)
    (folder / "statement.subject").write_text("Su estado de cuenta, ${customer}", encoding="utf-8")
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
    assert result.exit_code == 0, result.output
    eml = next((home / "outbox" / "corrida-1").glob("1004273_*.eml")).read_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(eml)
    assert parsed["Subject"] == "Su estado de cuenta, Ferretería López"

    (folder / "statement.txt").write_text("Hola ${nombre_que_no_existe}", encoding="utf-8")
    typo = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert typo.exit_code == 2
    assert "usa la variable ${nombre_que_no_existe}, que no existe" in typo.stderr
    assert len(history(loaded)) == 1  # nothing recorded for the rejected run


def test_config_test_smtp_sends_one_message_to_the_operator(smtp: SmtpServer, loaded: Cli) -> None:
    result = loaded("config", "test-smtp")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Mensaje de prueba enviado a operador@example.mx: 250")
    [message] = smtp.messages
    assert message.rcpt_tos == ["operador@example.mx"]
    assert message.message["Subject"] == "rotomail: mensaje de prueba"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["config", "test-smtp"],
            "Error: No hay servidor SMTP configurado (smtp.host o ROTOMAIL_SMTP_HOST).\n",
        ),
        (
            ["config", "set-password"],
            "Error: Configure primero smtp.host y smtp.user en config.toml.\n",
        ),
    ],
)
def test_smtp_commands_without_configuration(loaded: Cli, args: list[str], message: str) -> None:
    result = loaded(*args)
    assert result.exit_code == 2
    assert result.stderr == message


def test_send_without_open_items_is_refused(customers: Cli, home: Path) -> None:
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    assert (
        customers("catalog", "add", "SM02", "1004273", "pagos@ferrelopez.example.mx").exit_code == 0
    )
    result = customers("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No hay partidas abiertas importadas para la sociedad SM02; "
        "impórtelas primero con «rotomail ledger import».\n"
    )
    assert history(customers) == []


def test_statement_date_other_than_the_ledger_warns(loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", "2026-12-15")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Aviso: las partidas abiertas de SM02 son al 30/11/2026 y la fecha de corte es 15/12/2026.\n"
    )

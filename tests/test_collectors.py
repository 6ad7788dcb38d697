"""Collectors: the master's "Encargado" (KNB1-BUSAB) stored with the customer, described in
``[collectors.SM02.C1]``; ``collector_cc`` copies each statement to its collector in a visible
Cc; ``send --ejecutivo``; the collector in the contact line and the Reply-To."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import Cli
from tests.sample_data import COMPANY_CONFIG
from tests.smtp_server import SmtpServer

DATE = "2026-11-30"
OPERATOR = "operador@example.mx"
MASTER = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\tEncargado\n"
    "SM02\t0001006210\tAgroequipos del Bajío S.A. de C.V.\tABA010101AB1\t"
    "compras@agro.example.mx\tS\tC1\n"
    "SM02\t0001001400\tPlomería Central S.A. de C.V.\tPCE020202CD2\t\tS\tC2\n"
    "SM02\t0001004273\tFerretería López\tLOFE800101XY3\tpagos@ferrelopez.example.mx\tS\tc1\n"
)
COLLECTORS = """
[collectors.SM02.C1]
name = "Ana Ruiz"
email = "ana.ruiz@example.mx"
phone = "55 1234 5678"

[collectors.SM02.C2]
name = "Beto Díaz"
email = "beto.diaz@example.mx"
"""
CC_CONFIG = (
    COMPANY_CONFIG.replace("[companies.SM02]\n", "[companies.SM02]\ncollector_cc = true\n")
    + COLLECTORS
)


def configure(home: Path, config: str = CC_CONFIG) -> None:
    (home / "config.toml").write_text(config, encoding="utf-8")


@pytest.fixture
def collectors(smtp: SmtpServer, home: Path) -> Cli:
    """The test company with ``collector_cc = true``, C1 and C2 described, and a master
    whose Encargado column gives Agroequipos and Ferretería López to C1, Plomería to C2."""
    from tests.conftest import Cli

    cli = Cli()
    configure(home)
    result = cli("customers", "import", "-", input=MASTER.encode())
    assert result.exit_code == 0, result.output
    assert "  ejecutivo ← «Encargado»\n" in result.stdout
    return cli


def statements(smtp: SmtpServer) -> list:
    return [m for m in smtp.messages if m.rcpt_tos != [OPERATOR]]


def send(cli: Cli, *args: str):
    return cli("send", "--sociedad", "SM02", "--all", "--date", DATE, *args)


def test_send_ejecutivo_sends_only_its_customers_each_with_the_collector_in_cc(
    collectors: Cli, smtp: SmtpServer
) -> None:
    """Done when: ``send --ejecutivo C1 --all`` sends exactly C1's customers, each with C1's
    address in the Cc header and in the envelope."""
    result = send(collectors, "--ejecutivo", "C1")
    assert result.exit_code == 0, result.output
    sent = statements(smtp)
    assert sorted(m.rcpt_tos for m in sent) == [
        ["a@agro.example.mx", "b@agro.example.mx", "ana.ruiz@example.mx"],
        ["pagos@ferrelopez.example.mx", "ana.ruiz@example.mx"],
    ]
    for message in sent:
        assert b"\r\nCc: Ana Ruiz <ana.ruiz@example.mx>\r\n" in message.data
        assert b"beto.diaz" not in message.data
    # the run and its records know only C1's customers
    rows = json.loads(collectors("history", "1", "--format", "json").stdout)
    assert sorted(row["cliente"] for row in rows) == ["1004273", "1006210"]


def test_ejecutivo_without_customers_is_refused(collectors: Cli, smtp: SmtpServer) -> None:
    result = send(collectors, "--ejecutivo", "C9")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Ningún cliente del catálogo de SM02 tiene el ejecutivo C9 "
        "(columna Encargado del maestro de clientes).\n"
    )
    assert statements(smtp) == []


def test_a_refused_cc_leaves_the_customer_sent(collectors: Cli, smtp: SmtpServer) -> None:
    smtp.reply_at_rcpt("ana.ruiz@example.mx", "550 5.1.1 User unknown", times=None)
    result = send(collectors, "--cliente", "1004273")
    assert result.exit_code == 0, result.output
    assert "rechazados" not in result.output
    [message] = statements(smtp)
    assert message.rcpt_tos == ["pagos@ferrelopez.example.mx"]
    rows = json.loads(collectors("status", "--sociedad", "SM02", "--format", "json").stdout)
    assert {row["cliente"]: row["estado"] for row in rows}["1004273"] == "enviado"


def test_a_customer_refused_is_failed_even_when_the_cc_took_it(
    collectors: Cli, smtp: SmtpServer
) -> None:
    smtp.reply_at_rcpt("pagos@ferrelopez.example.mx", "550 5.1.1 User unknown", times=None)
    result = send(collectors, "--cliente", "1004273")
    assert result.exit_code == 1, result.output
    rows = json.loads(collectors("status", "--sociedad", "SM02", "--format", "json").stdout)
    assert {row["cliente"]: row["estado"] for row in rows}["1004273"] == "fallido"


def test_a_rehearsal_has_no_cc(collectors: Cli, smtp: SmtpServer) -> None:
    result = send(collectors, "--test", "--ejecutivo", "C1")
    assert result.exit_code == 0, result.output
    rehearsals = [m for m in smtp.messages if b"[PRUEBA]" in m.data]
    assert len(rehearsals) == 2
    for message in rehearsals:
        assert message.rcpt_tos == [OPERATOR]
        assert b"\r\nCc:" not in message.data


def test_without_collector_cc_there_is_no_cc(collectors: Cli, smtp: SmtpServer, home: Path) -> None:
    configure(home, COMPANY_CONFIG + COLLECTORS)
    result = send(collectors, "--cliente", "1004273")
    assert result.exit_code == 0, result.output
    [message] = statements(smtp)
    assert message.rcpt_tos == ["pagos@ferrelopez.example.mx"]
    assert b"\r\nCc:" not in message.data


def test_reply_to_is_the_collector_when_the_company_has_none(
    collectors: Cli, smtp: SmtpServer, home: Path
) -> None:
    configure(home, CC_CONFIG.replace('reply_to = "cobranza@example.mx"\n', ""))
    assert send(collectors, "--cliente", "1004273").exit_code == 0
    configure(home)
    assert send(collectors, "--cliente", "1006210").exit_code == 0
    by_customer = {m.rcpt_tos[0]: m.message for m in statements(smtp)}
    assert (
        by_customer["pagos@ferrelopez.example.mx"]["Reply-To"] == "Ana Ruiz <ana.ruiz@example.mx>"
    )
    assert by_customer["a@agro.example.mx"]["Reply-To"] == "cobranza@example.mx"


def test_the_contact_line_names_the_collector_in_the_email_and_the_pdf(
    collectors: Cli, smtp: SmtpServer
) -> None:
    assert send(collectors, "--ejecutivo", "C1").exit_code == 0
    message = next(m.message for m in statements(smtp) if "pagos@" in m.rcpt_tos[0])
    line = "Cuentas por Cobrar: Ana Ruiz · tel. 55 1234 5678 · cobranza@example.mx"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert f"al 800 000 0000 opción 2\n{line}\n" in text
    assert f"<p>{line}</p>" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    pdf = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert line in pdf


def test_without_a_collector_the_contact_line_is_the_companys(
    collectors: Cli, smtp: SmtpServer, home: Path
) -> None:
    configure(home, COMPANY_CONFIG)  # no [collectors]: C1 has no table
    result = send(collectors, "--ejecutivo", "C1")
    assert result.exit_code == 0, result.output
    # a code without a table is said once per run, not once per customer
    assert result.stderr.count("C1") == 1
    assert (
        "Aviso: ejecutivos sin [collectors.SM02.CÓDIGO] en config.toml (sus clientes se "
        "envían sin ejecutivo): C1\n"
    ) in result.stderr
    message = statements(smtp)[0].message
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Ana Ruiz" not in text
    assert "al 800 000 0000 opción 2\n\nSaludos cordiales." in text
    assert "<p></p>" not in message.get_body(("html",)).get_content()


def test_collectors_config_is_checked(customers: Cli, home: Path) -> None:
    configure(home, COMPANY_CONFIG + '[collectors.SM02.C1]\nname = "Ana"\nemial = "a@x.mx"\n')
    result = customers("config", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {home / 'config.toml'}: clave desconocida «collectors.SM02.C1.emial»; "
        "¿quiso decir «collectors.SM02.C1.email»?\n"
    )
    configure(home, COMPANY_CONFIG + '[collectors.SM02.C1]\nname = "Ana"\n')
    result = customers("config", "show")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {home / 'config.toml'}: [collectors.SM02.C1] no tiene email.\n"


def test_a_collectors_bad_email_stops_the_run_before_anything(
    collectors: Cli, smtp: SmtpServer, home: Path
) -> None:
    configure(home, CC_CONFIG.replace("ana.ruiz@example.mx", "ana.ruiz@@example"))
    result = send(collectors, "--ejecutivo", "C1")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Configuración inválida: collectors.SM02.C1.email = «ana.ruiz@@example» "
        f"({home / 'config.toml'}); debe ser una dirección de correo válida, "
        "p. ej. cobranza@example.mx.\n"
    )
    assert smtp.messages == []


def test_status_names_each_customers_collector_and_filters_by_it(
    collectors: Cli, smtp: SmtpServer
) -> None:
    assert send(collectors, "--ejecutivo", "C1").exit_code == 0
    result = collectors("status", "--sociedad", "SM02", "--format", "json")
    rows = json.loads(result.stdout)
    assert [(r["cliente"], r["ejecutivo"], r["estado"]) for r in rows] == [
        ("1001400", "C2", "pendiente"),
        ("1004273", "C1", "enviado"),
        ("1006210", "C1", "enviado"),
    ]
    result = collectors("status", "--sociedad", "SM02", "--ejecutivo", "c2", "--format", "json")
    assert [r["cliente"] for r in json.loads(result.stdout)] == ["1001400"]


def test_collectors_log_mails_each_collector_the_log_of_their_customers(
    collectors: Cli, smtp: SmtpServer, home: Path
) -> None:
    configure(home, CC_CONFIG.replace("[operator]\n", "[operator]\ncollectors_log = true\n"))
    result = send(collectors)
    assert result.exit_code == 0, result.output
    assert "Registro de sus clientes enviado al ejecutivo C1 (ana.ruiz@example.mx).\n" in (
        result.stdout
    )
    logs = {}
    for message in smtp.messages:
        if len(message.rcpt_tos) == 1 and message.rcpt_tos[0] != OPERATOR:
            [attachment] = list(message.message.iter_attachments())
            logs[message.rcpt_tos[0]] = (attachment.get_filename(), attachment.get_content())
    assert sorted(logs) == ["ana.ruiz@example.mx", "beto.diaz@example.mx"]
    name, text = logs["ana.ruiz@example.mx"]
    assert name.endswith("_corrida1_SM02_ejecutivo-C1.txt")
    assert "1004273" in text and "1006210" in text and "1001400" not in text
    name, text = logs["beto.diaz@example.mx"]
    assert "1001400" in text and "1004273" not in text and "1006210" not in text
    # the operator's log has everyone
    [operator_log] = [m for m in smtp.messages if m.rcpt_tos == [OPERATOR]]
    text = next(operator_log.message.iter_attachments()).get_content()
    assert all(c in text for c in ("1001400", "1004273", "1006210"))


def test_collectors_log_is_a_setting_checked_like_the_others(customers: Cli, home: Path) -> None:
    configure(home, COMPANY_CONFIG.replace("[operator]\n", "[operator]\ncollectors_log = 1\n"))
    result = customers("config", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Configuración inválida: operator.collectors_log = «1» ({home / 'config.toml'}); "
        "debe ser true o false.\n"
    )


def test_a_bounce_of_the_cc_never_changes_the_customers_status(
    collectors: Cli, smtp: SmtpServer, tmp_path: Path
) -> None:
    from tests.test_bounces import dsn

    assert send(collectors, "--cliente", "1004273").exit_code == 0
    [sent] = statements(smtp)
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    # matched by its Message-ID, about the collector's address only
    (maildir / "new" / "1796000000.M1P1.mail.example.mx").write_bytes(
        dsn(sent, ["ana.ruiz@example.mx"])
    )
    result = collectors("bounces", "--maildir", str(maildir))
    assert "Clientes rebotados     0\n" in result.stdout
    assert "Sin identificar        1\n" in result.stdout
    rows = json.loads(collectors("status", "--sociedad", "SM02", "--format", "json").stdout)
    assert {row["cliente"]: row["estado"] for row in rows}["1004273"] == "enviado"


def test_a_resend_takes_no_ejecutivo(collectors: Cli, smtp: SmtpServer) -> None:
    result = collectors(
        "send", "--sociedad", "SM02", "--cliente", "1004273", "--to", "contador@example.mx",
        "--ejecutivo", "C1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --to no se combina con --ejecutivo: es un reenvío a un solo cliente.\n"
    )


def test_send_ejecutivo_lists_only_its_collectors_held_and_missing(
    collectors: Cli, smtp: SmtpServer
) -> None:
    """Issue 22: ``send --ejecutivo C2`` named C1's held and missing customers too."""
    assert collectors("catalog", "delete", "SM02", "1006210", "--yes").exit_code == 0  # C1's
    c2 = send(collectors, "--ejecutivo", "C2", "--dry-run")
    assert c2.exit_code == 0, c2.output
    assert "1006210" not in c2.output and "sin correo en el catálogo" not in c2.output, c2.output
    c1 = send(collectors, "--ejecutivo", "C1", "--dry-run")
    assert "1 con partidas abiertas sin correo en el catálogo" in c1.output, c1.output

    assert collectors("catalog", "add", "SM02", "1006210", "a@agro.example.mx").exit_code == 0
    hold = collectors("catalog", "hold", "SM02", "1006210", "--reason", "disputa")
    assert hold.exit_code == 0, hold.output
    c2 = send(collectors, "--ejecutivo", "C2", "--dry-run")
    assert c2.exit_code == 0, c2.output
    assert "1006210" not in c2.output and "retenido" not in c2.output, c2.output
    c1 = send(collectors, "--ejecutivo", "C1", "--dry-run")
    assert "1 retenidos" in c1.output, c1.output

"""Bounces: reports parsed, matched to deliveries and recorded; the follow-up commands; the
archive copy, VERP and the reply note. Real servers: aiosmtpd for the send, pymap for IMAP."""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imap_server import PASSWORD, USER, ImapServer
from sample_data import COMPANY
from smtp_server import Received, SmtpServer, self_signed_cert
from sqlalchemy import create_engine, text

from rotomail.delivery.bounces import ImapError, ImapSettings, ImapSource, record_report
from rotomail.delivery.candidates import marked_addresses
from rotomail.delivery.messages import build_statement_message, message_bytes
from rotomail.inputs.bounce_reports import parse_report
from rotomail.store.bounces import bounced_addresses
from tests.conftest import Cli

DATA = Path(__file__).resolve().parent / "data" / "bounces"
DATE = "2026-11-30"
SUBJECT = "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."


# --- real-world report samples --------------------------------------------------------------

SAMPLES = [
    # file, [(address, action, status, words of the diagnostic)], returned Message-ID
    (
        "m365.eml",
        [("pagos@ferrelopez.example.mx", "failed", "5.1.10", "RecipientNotFound")],
        "<170000000001.1111.1111111111111111111@example.mx>",
    ),
    (
        "gmail.eml",
        [("a@agro.example.mx", "failed", "5.1.1", "does not exist")],
        "<170000000002.2222.2222222222222222222@example.mx>",
    ),
    (
        "postfix.eml",
        [("cxp@plomeria.example.mx", "failed", "5.2.2", "Mailbox full")],
        "<170000000003.3333.3333333333333333333@example.mx>",
    ),
    (
        "exim.eml",
        [("compras@ferre.example.com", "failed", "5.1.1", "User unknown in virtual mailbox")],
        "<170000000004.4444.4444444444444444444@example.mx>",
    ),
    (
        "qmail.eml",
        [("ventas@cliente.example.com", "failed", "5.7.1", "rejected as spam")],
        "<170000000005.5555.5555555555555555555@example.mx>",
    ),
    (
        "exchange_legacy.eml",
        [("tesoreria@cliente.example.com", "failed", "5.1.1", "does not exist")],
        "<170000000006.6666.6666666666666666666@example.mx>",
    ),
    (
        "rfc3464_delayed.eml",
        [("b@agro.example.mx", "delayed", "4.4.1", "Connection timed out")],
        "<170000000002.2222.2222222222222222222@example.mx>",
    ),
    ("out_of_office.eml", [], None),
]


@pytest.mark.parametrize(("name", "expected", "message_id"), SAMPLES)
def test_report_samples(name: str, expected: list, message_id: str | None) -> None:
    report = parse_report((DATA / name).read_bytes())
    found = [(r.address, r.action, r.status) for r in report.recipients]
    assert found == [e[:3] for e in expected]
    for recipient, (*_, words) in zip(report.recipients, expected, strict=True):
        assert words in recipient.diagnostic
    if message_id:
        assert message_id in report.message_ids
    else:
        assert report.reason == "no parece un informe de rebote (ningún destinatario fallido)"


def test_postfix_sample_carries_the_verp_address() -> None:
    report = parse_report((DATA / "postfix.eml").read_bytes())
    assert "rebotes+k3n9q2x7w4@example.mx" in report.delivered_to


# --- reports made for the messages that reached aiosmtpd -------------------------------------


def dsn(
    original: Received,
    addresses: list[str],
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown",
    returned_headers: bool = True,
    delivered_to: str = "portal@example.mx",
) -> bytes:
    """An RFC 3464 report about ``addresses`` of a message the test server received."""
    sent = original.message
    groups = ["Reporting-MTA: dns; mail.example.mx\r\n"]
    for address in addresses:
        groups.append(
            f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: {diagnostic.format(address=address)}\r\n"
        )
    parts = [
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "The mail system: your message could not be delivered.\r\n",
        "Content-Type: message/delivery-status\r\n\r\n" + "\r\n".join(groups),
    ]
    if returned_headers:
        parts.append(
            "Content-Type: text/rfc822-headers\r\n\r\n"
            + "".join(f"{k}: {sent[k]}\r\n" for k in ("From", "To", "Subject", "Message-ID"))
        )
    head = (
        "From: MAILER-DAEMON@mail.example.mx (Mail Delivery System)\r\n"
        f"To: {delivered_to}\r\nDelivered-To: {delivered_to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {formatdate(localtime=True)}\r\n"
        f"Message-ID: {make_msgid(domain='mail.example.mx')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="RPT"\r\n\r\n'
    )
    body = "".join(f"--RPT\r\n{part}\r\n" for part in parts) + "--RPT--\r\n"
    return (head + body).encode()


def history(cli: Cli, run: int) -> list[dict]:
    result = cli("history", str(run), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def statement_to(server: SmtpServer, *addresses: str) -> Received:
    [found] = [
        m
        for m in server.messages
        if m.message["Subject"] == SUBJECT and set(addresses) <= set(m.rcpt_tos)
    ]
    return found


def send_all(cli: Cli) -> None:
    result = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output


class Mailbox:
    """Where reports arrive: the pymap server over IMAP, or a Maildir folder."""

    def __init__(self, kind: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind = kind
        self.server: ImapServer | None = None
        self.maildir = folder / "Maildir"
        if kind == "imap":
            self.server = ImapServer(folder).__enter__()
            monkeypatch.setenv("ROTOMAIL_IMAP_HOST", self.server.host)
            monkeypatch.setenv("ROTOMAIL_IMAP_PORT", str(self.server.port))
            monkeypatch.setenv("ROTOMAIL_IMAP_SECURITY", "none")
            monkeypatch.setenv("ROTOMAIL_IMAP_USER", USER)
            monkeypatch.setenv("ROTOMAIL_IMAP_PASSWORD", PASSWORD)
        else:
            for sub in ("new", "cur", "tmp"):
                (self.maildir / sub).mkdir(parents=True)
        self.count = 0

    def deliver(self, data: bytes) -> None:
        if self.server is not None:
            self.server.append(data)
        else:
            self.count += 1
            (self.maildir / "new" / f"1796000000.M{self.count}P1.mail.example.mx").write_bytes(data)

    def args(self) -> list[str]:
        return [] if self.server is not None else ["--maildir", str(self.maildir)]

    def waiting(self) -> list[str]:
        """Message-IDs of the reports not yet processed."""
        if self.server is not None:
            return [mid for mid, flags in self.server.messages("INBOX") if "\\Seen" not in flags]
        return [message_id(p) for p in sorted((self.maildir / "new").iterdir())]

    def processed(self) -> list[str]:
        """Message-IDs of the reports put away (flagged seen and moved)."""
        if self.server is not None:
            moved = self.server.messages("rotomail-procesados")
            assert all("\\Seen" in flags for _, flags in moved)
            return [mid for mid, _ in moved]
        done = sorted((self.maildir / "cur").iterdir())
        assert all(p.name.endswith(":2,S") for p in done)
        return [message_id(p) for p in done]

    def close(self) -> None:
        if self.server is not None:
            self.server.__exit__()


def message_id(path: Path) -> str:
    return str(BytesParser(policy=policy.compat32).parsebytes(path.read_bytes())["Message-ID"])


@pytest.fixture(params=["imap", "maildir"])
def mailbox(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    box = Mailbox(request.param, tmp_path, monkeypatch)
    yield box
    box.close()


def report_id(data: bytes) -> str:
    return str(BytesParser(policy=policy.compat32).parsebytes(data)["Message-ID"])


def test_bounces_end_to_end(smtp: SmtpServer, loaded: Cli, mailbox: Mailbox) -> None:
    send_all(loaded)
    agro = statement_to(smtp, "a@agro.example.mx", "b@agro.example.mx")
    ferre = statement_to(smtp, "pagos@ferrelopez.example.mx")
    plomeria = statement_to(smtp, "cxp@plomeria.example.mx")
    reports = [
        dsn(ferre, ["pagos@ferrelopez.example.mx"], status="5.1.10"),
        # matched by the recipient alone: no returned headers, no token
        dsn(plomeria, ["cxp@plomeria.example.mx"], status="5.2.2", returned_headers=False),
        dsn(agro, ["b@agro.example.mx"]),  # one address of two
        dsn(agro, ["a@agro.example.mx"], action="delayed", status="4.4.1",
            diagnostic="X-Postfix; connect to mx.agro.example.mx: Connection timed out"),
    ]  # fmt: skip
    unknown = (DATA / "out_of_office.eml").read_bytes()
    stranger = dsn(agro, ["otro@desconocido.example.com"], returned_headers=False)
    for data in [*reports, unknown, stranger]:
        mailbox.deliver(data)

    result = loaded("bounces", "-v", *mailbox.args())
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-7].startswith("Informes leídos: 6 (")
    assert lines[-4:] == [
        "Direcciones rebotadas  3",
        "Clientes rebotados     2",
        "Con retraso            1",
        "Sin identificar        2",
    ]
    assert any("no parece un informe de rebote" in line for line in lines)
    assert any(
        "otro@desconocido.example.com: ningún envío con ese Message-ID, token ni destinatario"
        in line
        for line in lines
    )
    expected = {
        "1001400": (
            "rebotado",
            [("cxp@plomeria.example.mx", "rebotado", "5.2.2 550 5.1.1 <cxp@plomeria.example.mx>: Recipient address rejected: User unknown")],
        ),
        "1004273": (
            "rebotado",
            [("pagos@ferrelopez.example.mx", "rebotado", "5.1.10 550 5.1.1 <pagos@ferrelopez.example.mx>: Recipient address rejected: User unknown")],
        ),
        "1006210": (
            "enviado",
            [
                ("a@agro.example.mx", "con retraso", "4.4.1 connect to mx.agro.example.mx: Connection timed out"),
                ("b@agro.example.mx", "rebotado", "550 5.1.1 <b@agro.example.mx>: Recipient address rejected: User unknown"),
            ],
        ),
    }  # fmt: skip
    rows = history(loaded, 1)
    assert {
        row["cliente"]: (
            row["estado"],
            [(a["correo"], a["estado"], a["detalle"]) for a in row["direcciones"]],
        )
        for row in rows
    } == expected
    assert set(rows[0]) == {
        "cliente", "nombre", "idioma", "correos", "archivo", "estado", "detalle", "rechazados",
        "message_id", "pagos", "en_aclaracion", "copias", "pdf", "direcciones",
    }  # fmt: skip
    assert sorted(mailbox.processed()) == sorted(report_id(r) for r in reports)
    assert sorted(mailbox.waiting()) == sorted([report_id(unknown), report_id(stranger)])

    again = loaded("bounces", *mailbox.args())
    assert again.exit_code == 0, again.output
    assert "Informes leídos: 2" in again.stdout
    assert again.stdout.splitlines()[-4:] == [
        "Direcciones rebotadas  0",
        "Clientes rebotados     0",
        "Con retraso            0",
        "Sin identificar        2",
    ]
    assert history(loaded, 1) == rows

    table = loaded("history", "1")
    assert "b@agro.example.mx: rebotado (550 5.1.1" in table.stdout


def test_the_same_report_twice_changes_nothing(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path
) -> None:
    send_all(loaded)
    report = dsn(statement_to(smtp, "pagos@ferrelopez.example.mx"), ["pagos@ferrelopez.example.mx"])
    box = Mailbox("maildir", tmp_path, pytest.MonkeyPatch())
    box.deliver(report)
    assert loaded("bounces", *box.args()).exit_code == 0
    before = history(loaded, 1)
    box.deliver(report)  # a copy arrives again
    result = loaded("bounces", *box.args())
    assert result.exit_code == 0
    assert "Direcciones rebotadas  0" in result.stdout
    assert history(loaded, 1) == before


# --- follow-up: retry, rerun, catalog, log -----------------------------------------------------


def test_retry_failed_sends_only_to_addresses_that_did_not_bounce(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path
) -> None:
    send_all(loaded)
    box = Mailbox("maildir", tmp_path, pytest.MonkeyPatch())
    agro = statement_to(smtp, "a@agro.example.mx")
    box.deliver(dsn(agro, ["a@agro.example.mx", "b@agro.example.mx"]))
    box.deliver(dsn(statement_to(smtp, "cxp@plomeria.example.mx"), ["cxp@plomeria.example.mx"]))
    assert loaded("bounces", *box.args()).exit_code == 0

    listed = loaded("catalog", "search", "--bounced", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [
        (e["cliente"], e["rebotados"], e["diagnostico"][:9]) for e in json.loads(listed.stdout)
    ] == [
        ("1001400", ["cxp@plomeria.example.mx"], "550 5.1.1"),
        ("1006210", ["a@agro.example.mx", "b@agro.example.mx"], "550 5.1.1"),
    ]

    # A plain rerun does not send again to bounced customers.
    rerun = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert (
        "1006210 Agroequipos del Bajío S.A. de C.V.: omitido - rebotado en la corrida 1"
        in rerun.stdout
    )

    # The clerk fixes one customer; the other still has nothing but the bounced address.
    assert (
        loaded(
            "catalog", "add", "SM02", "1006210", "b@agro.example.mx;nueva@agro.example.mx"
        ).exit_code
        == 0
    )
    before = len(smtp.messages)
    retry = loaded("send", "--retry-failed", "1")
    assert retry.exit_code == 1, retry.output
    assert (
        "✗ 1001400 Plomería Central S.A. de C.V.: fallido - sin dirección válida: todas sus "
        "direcciones rebotaron; corrija el catálogo" in retry.stdout
    )
    statements = [m for m in smtp.messages[before:] if m.message["Subject"] == SUBJECT]
    assert [m.rcpt_tos for m in statements] == [["nueva@agro.example.mx"]]
    retried = {row["cliente"]: row["estado"] for row in history(loaded, 3)}
    assert retried == {"1006210": "enviado", "1001400": "fallido"}

    fixed = loaded("catalog", "search", "--bounced", "--format", "json")
    assert [e["cliente"] for e in json.loads(fixed.stdout)] == [
        "1001400",
        "1006210",
    ]  # b@ still there


def test_checklist_marks_bounced_addresses(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path, db_url: str
) -> None:
    send_all(loaded)
    box = Mailbox("maildir", tmp_path, pytest.MonkeyPatch())
    box.deliver(dsn(statement_to(smtp, "b@agro.example.mx"), ["b@agro.example.mx"]))
    assert loaded("bounces", *box.args()).exit_code == 0
    engine = create_engine(db_url)
    bounced = bounced_addresses(engine, "SM02", ["1006210", "1004273"])
    engine.dispose()
    assert marked_addresses(["a@agro.example.mx", "b@agro.example.mx"], bounced["1006210"]) == (
        "a@agro.example.mx;b@agro.example.mx (rebotó)"
    )
    assert "1004273" not in bounced


def test_resend_log_mails_the_log_with_bounces(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path
) -> None:
    send_all(loaded)
    box = Mailbox("maildir", tmp_path, pytest.MonkeyPatch())
    box.deliver(dsn(statement_to(smtp, "b@agro.example.mx"), ["b@agro.example.mx"]))
    box.deliver(dsn(statement_to(smtp, "cxp@plomeria.example.mx"), ["cxp@plomeria.example.mx"]))
    assert loaded("bounces", *box.args()).exit_code == 0
    result = loaded("history", "1", "--resend-log")
    assert result.exit_code == 0, result.output
    assert "Registro enviado a operador@example.mx." in result.stdout
    log_mail = smtp.messages[-1].message
    assert smtp.messages[-1].rcpt_tos == ["operador@example.mx"]
    [attachment] = list(log_mail.iter_attachments())
    log = attachment.get_content()
    assert "Rebotados: 1" in log
    assert "rebotado: 550 5.1.1 <cxp@plomeria.example.mx>" in log
    assert "b@agro.example.mx: rebotado 550 5.1.1" in log


# --- VERP, archive copy, reply note --------------------------------------------------------------


def test_verp_sender_and_bcc_archive_copy(
    smtp: SmtpServer, loaded: Cli, home: Path, db_url: str, tmp_path: Path
) -> None:
    config = home / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + 'bcc = "archivo@example.mx"\nbounce_address = "rebotes@example.mx"\nverp = true\n',
        encoding="utf-8",
    )
    send_all(loaded)
    statements = [m for m in smtp.messages if m.message["Subject"] == SUBJECT]
    assert len(statements) == 3
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT cliente, verp_token, bcc, message_id FROM delivery WHERE run_id = 1")
        ).all()
    engine.dispose()
    tokens = {row.message_id: row.verp_token for row in rows}
    assert {row.bcc for row in rows} == {"archivo@example.mx"}
    for received in statements:
        token = tokens[received.message["Message-ID"]]
        assert len(token) == 10
        assert received.mail_from == f"rebotes+{token}@example.mx"
        assert received.message["From"].addresses[0].addr_spec == "portal@example.mx"
        assert received.rcpt_tos[-1] == "archivo@example.mx"
        assert b"archivo@" not in received.data  # never in a header the customer sees
        assert received.message["Bcc"] is None
    assert len(set(tokens.values())) == 3

    # A report delivered to the token's address, with nothing else to go on.
    ferre = statement_to(smtp, "pagos@ferrelopez.example.mx")
    box = Mailbox("maildir", tmp_path, pytest.MonkeyPatch())
    box.deliver(dsn(ferre, ["pagos@ferrelopez.example.mx"], returned_headers=False,
                    delivered_to=ferre.mail_from))  # fmt: skip
    assert loaded("bounces", *box.args()).exit_code == 0
    assert {r["cliente"]: r["estado"] for r in history(loaded, 1)}["1004273"] == "rebotado"


def test_rehearsal_sends_no_archive_copy(smtp: SmtpServer, loaded: Cli, home: Path) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + 'bcc = "archivo@example.mx"\n')
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--test")
    assert result.exit_code == 0, result.output
    assert all("archivo@example.mx" not in m.rcpt_tos for m in smtp.messages)


@pytest.mark.parametrize(
    ("language", "reply_to", "note"),
    [
        ("es", "cobranza@example.mx", "Nota: si tiene alguna duda, responda a este correo o escriba a cobranza@example.mx."),
        ("pt", "cobranca@example.com", "Nota: em caso de dúvida, responda a este e-mail ou escreva para cobranca@example.com."),
        ("en", "ar@example.com", "Note: if you have any questions, reply to this e-mail or write to ar@example.com."),
        ("es", "", "Nota: Solicitamos no responder a este mensaje"),
        ("pt", "", "Nota: Solicitamos não responder a esta mensagem"),
        ("en", "", "Note: Please do not reply to this message"),
    ],
)  # fmt: skip
def test_reply_note_in_every_language(language: str, reply_to: str, note: str) -> None:
    company = replace(COMPANY, language=language, reply_to=reply_to)
    msg = build_statement_message(company, "Cliente Ejemplo", ["x@example.mx"], b"%PDF", "e.pdf")
    parsed = BytesParser(policy=policy.default).parsebytes(message_bytes(msg))
    assert isinstance(parsed, EmailMessage)
    assert note in parsed.get_body(("plain",)).get_content()
    assert note in parsed.get_body(("html",)).get_content()
    assert (parsed["Reply-To"] is None) == (not reply_to)


# --- refusals: configuration and bad input ------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        ({}, {}, "Error: No hay buzón de rebotes: configure [bounces] imap_host e imap_user, o maildir (o use --maildir CARPETA)."),
        ({}, {"ROTOMAIL_IMAP_HOST": "127.0.0.1", "ROTOMAIL_IMAP_USER": USER},
         "Error: Falta la contraseña IMAP: defina ROTOMAIL_IMAP_PASSWORD o guárdela con «rotomail config set-password --imap»."),
        ({"--maildir": "no-existe"}, {}, "Error: no-existe no es una carpeta Maildir (con new/, cur/ y tmp/)."),
        ({}, {"ROTOMAIL_IMAP_HOST": "127.0.0.1", "ROTOMAIL_IMAP_USER": USER, "ROTOMAIL_IMAP_AUTH": "xoauth2",
              "ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND": "false"},
         "Error: smtp.oauth_token_command terminó con código 1"),
    ],
)  # fmt: skip
def test_bounces_without_a_mailbox_is_exit_2(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, extra: dict, env: dict, message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("rotomail.delivery.secrets._from_keyring", lambda user, host: None)
    result = loaded("bounces", *[x for pair in extra.items() for x in pair])
    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_refused_imap_password_is_exit_2_and_never_shown(
    loaded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Mailbox("imap", tmp_path, monkeypatch)
    try:
        monkeypatch.setenv("ROTOMAIL_IMAP_PASSWORD", "clave-equivocada-123")
        result = loaded("bounces")
    finally:
        box.close()
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: El servidor IMAP 127.0.0.1:{box.server.port} rechazó el acceso de {USER} o no "
        "tiene la carpeta «INBOX»: [AUTHENTICATIONFAILED] Invalid authentication credentials."
    )
    assert "clave-equivocada-123" not in result.output
    assert "Traceback" not in result.output


def test_imap_starttls_checks_the_certificate(tmp_path: Path) -> None:
    with ImapServer(tmp_path, starttls=True) as server:
        server.append((DATA / "gmail.eml").read_bytes())
        imap = ImapSettings(server.host, server.port, "starttls", USER, "INBOX", "procesados")
        with pytest.raises(
            ImapError, match=r"No se pudo conectar al servidor IMAP .*certificate verify failed"
        ):
            ImapSource(imap, PASSWORD)  # the self-signed certificate is not trusted
        trusted = ssl.create_default_context(cafile=str(self_signed_cert()[0]))
        source = ImapSource(imap, PASSWORD, ssl_context=trusted)
        try:
            [raw] = list(source.reports())
            source.done(raw)
        finally:
            source.close()
        assert parse_report(raw.data).recipients[0].address == "a@agro.example.mx"
        assert [flags for _, flags in server.messages("procesados")] == [frozenset({"\\Seen"})]


def test_verp_needs_a_bounce_address(loaded: Cli, home: Path) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + "verp = true\n")
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 2
    assert "[companies.SM02] verp = true necesita bounce_address" in result.stderr


MIME_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
FIELD = st.sampled_from(
    ["Final-Recipient", "Original-Recipient", "Action", "Status", "Diagnostic-Code", "Message-ID",
     "Content-Type", "Content-Transfer-Encoding", "To", "Delivered-To", "Date"]
)  # fmt: skip


@st.composite
def random_mime(draw: st.DrawFn) -> bytes:
    """Report-shaped messages with random headers, fields and parts, or plain random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    boundary = draw(st.sampled_from(["b", "=_x", "--", "  ", ""]))
    headers = [f"{draw(FIELD)}: {draw(MIME_TEXT)}" for _ in range(draw(st.integers(0, 4)))]
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                [
                    "message/delivery-status",
                    "text/rfc822-headers",
                    "message/rfc822",
                    "text/plain",
                    draw(MIME_TEXT),
                ]
            )
        )
        lines = [f"{draw(FIELD)}: {draw(MIME_TEXT)}" for _ in range(draw(st.integers(0, 6)))]
        parts.append(f"--{boundary}\r\nContent-Type: {kind}\r\n\r\n" + "\r\n".join(lines))
    body = "\r\n".join(parts) + (f"\r\n--{boundary}--\r\n" if draw(st.booleans()) else "")
    top = f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
    text_ = top + "\r\n".join(headers) + "\r\n\r\n" + body
    return text_.encode("utf-8", "surrogatepass") + draw(st.binary(max_size=20))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=random_mime())
def test_random_mime_never_raises_nor_records(sent_engine, data: bytes) -> None:
    report = parse_report(data)
    outcome = record_report(sent_engine, report)
    with sent_engine.connect() as connection:
        recorded = "SELECT count(*) FROM delivery_address WHERE status IN ('bounced', 'delayed')"
        assert connection.execute(text(recorded)).scalar() == 0
    assert not outcome.bounced


@pytest.fixture
def sent_engine(loaded: Cli, db_url: str):
    """A finished real send to the outbox: deliveries a stray report could be matched to."""
    send_all(loaded)
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def test_no_secret_in_the_environment_leaks_into_the_suite() -> None:
    assert "ROTOMAIL_IMAP_PASSWORD" not in os.environ

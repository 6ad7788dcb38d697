"""rotomail.delivery.messages, rotomail.delivery.mailer and rotomail.delivery.secrets against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring.backend import KeyringBackend
from sample_data import COMPANY
from smtp_server import SmtpServer, assert_never_shown

from rotomail.company import CompanyProfile
from rotomail.delivery import secrets
from rotomail.delivery.mailer import (
    AuthenticationFailed,
    ConfigurationError,
    DailyCapReached,
    PermanentFailure,
    RateLimiter,
    SmtpTransport,
    TemporaryFailure,
    Uncertain,
)
from rotomail.delivery.messages import (
    _COMPAT32_CRLF,
    build_log_message,
    build_statement_message,
    load_template,
    message_bytes,
    mime_message,
)
from rotomail.delivery.outbox import OutboxTransport
from rotomail.delivery.outgoing import Outgoing
from rotomail.errors import DataError, UsageError

PDF = b"%PDF-1.4\n% fake statement for tests\n%%EOF\n"
CUSTOMER = "PLUMBERS CENTER SA DE CV"
A, B = "contacto1@example.mx", "contacto2@example.mx"
PASSWORD = "S3cr3t-Pa55!word"
USER = "portal@example.mx"


@pytest.fixture
def company() -> CompanyProfile:
    return COMPANY


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


class Sleeps:
    """Records waits instead of sleeping (the fault tests stay fast)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def statement(
    company: CompanyProfile,
    to: list[str] | None = None,
    *,
    rehearsal_for: list[str] | None = None,
    override_dir: Path | None = None,
    claim: Callable[[], None] | None = None,
) -> Outgoing:
    """The statement message, ``claim`` its claim hook."""
    built = build_statement_message(
        company,
        CUSTOMER,
        to or [A],
        PDF,
        "1001400_20200302.pdf",
        rehearsal_for=rehearsal_for,
        override_dir=override_dir,
    )
    return replace(built, claim=claim)


def parse(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    return msg


def wire(outgoing: Outgoing) -> EmailMessage:
    """The message as it goes over the wire, parsed back."""
    return parse(message_bytes(outgoing))


def bodies(msg: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies of a message as it goes over the wire."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # On the wire every line ends in CRLF; compare the text as the reader sees it.
    return tuple(part.get_content().replace("\r\n", "\n") for part in (text, html))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# What arrives
# ---------------------------------------------------------------------------------------


def test_statement_arrives_with_headers_bodies_and_attachment(
    server: SmtpServer, company: CompanyProfile
) -> None:
    msg = statement(company, [A, B])
    with SmtpTransport(server.settings(), None) as transport:
        delivery = transport.deliver(msg)

    assert delivery.accepted == [A, B]
    assert delivery.refused == {}
    assert delivery.reply.startswith("250")
    [got] = server.messages
    assert got.mail_from == "portal@example.mx"
    assert got.rcpt_tos == [A, B]
    arrived = got.message
    # no display name in sender: the company's and its AR department's
    assert (
        arrived["From"] == '"Tinacos Ejemplo S.A. de C.V. - Cuentas por Cobrar" <portal@example.mx>'
    )
    assert arrived["To"] == f"{A}, {B}"
    assert arrived["Reply-To"] == "cobranza@example.mx"
    assert arrived["Subject"] == "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."
    assert arrived["Date"].datetime is not None
    assert re.fullmatch(r"<[^<>@\s]+@example\.mx>", arrived["Message-ID"])
    assert arrived["Message-ID"] == msg.message_id

    text, html = bodies(arrived)
    for phrase in (
        f"Estimado Cliente: {CUSTOMER}",
        "Anexamos su estado de cuenta",
        "Cualquier duda favor de contactar a nuestro departamento de Cuentas por Cobrar al "
        "800 000 0000 opción 2",
        "Saludos cordiales.",
        "Nota: si tiene alguna duda, responda a este correo o escriba a cobranza@example.mx.",
        "Cuentas por Cobrar Clientes Tinacos Ejemplo S.A. de C.V.",
        "cobranza@example.mx",
    ):
        assert phrase in text
        assert phrase in re.sub(r"<[^>]+>", "", html)
    assert "mailto:cobranza@example.mx" in html

    [attachment] = list(arrived.iter_attachments())
    assert attachment.get_filename() == "1001400_20200302.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_html_alternative_escapes_values(company: CompanyProfile) -> None:
    msg = build_statement_message(company, "PLOMERÍA <b>& HIJOS</b>", [A], PDF, "1_20240131.pdf")
    text, html = bodies(wire(msg))
    assert "PLOMERÍA <b>& HIJOS</b>" in text
    assert "PLOMERÍA &lt;b&gt;&amp; HIJOS&lt;/b&gt;" in html
    assert "<b>&" not in html


@pytest.mark.parametrize(
    ("language", "subject", "greeting"),
    [
        ("es", "Estado de Cuenta Tinacos Ejemplo S.A. de C.V.", "Estimado Cliente:"),
        ("pt", "Extrato de Conta Tinacos Ejemplo S.A. de C.V.", "Prezado Cliente:"),
        ("en", "Account Statement Tinacos Ejemplo S.A. de C.V.", "Dear Customer:"),
        ("xx", "Estado de Cuenta Tinacos Ejemplo S.A. de C.V.", "Estimado Cliente:"),
    ],
)
def test_languages(company: CompanyProfile, language: str, subject: str, greeting: str) -> None:
    profile = replace(company, language=language)
    msg = wire(statement(profile))
    assert msg["Subject"] == subject
    assert greeting in bodies(msg)[0]


def test_message_ids_are_unique_and_reply_to_is_optional(company: CompanyProfile) -> None:
    ids = {wire(statement(company))["Message-ID"] for _ in range(50)}
    assert len(ids) == 50
    no_ar = replace(company, reply_to="")
    assert wire(statement(no_ar))["Reply-To"] is None


def test_rehearsal_goes_to_operator_and_names_the_real_recipients(
    server: SmtpServer, company: CompanyProfile
) -> None:
    msg = statement(company, ["operador@example.mx"], rehearsal_for=[A, B])
    SmtpTransport(server.settings(), None).deliver(msg)
    [got] = server.messages
    assert got.rcpt_tos == ["operador@example.mx"]
    arrived = got.message
    assert arrived["Subject"] == "[PRUEBA] Estado de Cuenta Tinacos Ejemplo S.A. de C.V."
    text, html = bodies(arrived)
    for body in (text, html):
        assert A in body and B in body
        assert "PRUEBA" in body


@given(
    name=st.sampled_from(["Subject", "To", "X-Long-Header-Name"]),
    value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=90),
)
def test_short_ascii_headers_are_written_as_compat32_folds_them(name: str, value: str) -> None:
    """messages.py writes a short single-line ASCII header as it is, skipping compat32's
    Header folding: the bytes must be the ones that folding gives (anything else, e.g. a
    control character, takes the folding path itself)."""
    crlf = policy.compat32.clone(linesep="\r\n")
    assert _COMPAT32_CRLF.fold_binary(name, value) == crlf.fold_binary(name, value)


@pytest.mark.parametrize(
    ("customer", "recipients"),
    [
        (CUSTOMER, [A]),
        ("Ferretería Ñandú (Sucursal Norte)  S.A.", [A, B]),
        ("X" * 120, [f"c{n}@example.mx" for n in range(12)]),
        ("Ōsaka 株式会社", ["pagos@compañía.example.mx", "josé@example.mx"]),
    ],
)
def test_statement_bytes_are_the_ones_compat32_writes(
    company: CompanyProfile, customer: str, recipients: list[str]
) -> None:
    msg = build_statement_message(
        replace(company, name="Tinacos Ejemplo — División Plásticos S.A. de C.V."),
        customer,
        recipients,
        PDF,
        "1_20240131.pdf",
    )
    built = mime_message(msg)
    assert built.as_bytes(policy=_COMPAT32_CRLF) == built.as_bytes(
        policy=policy.compat32.clone(linesep="\r\n")
    )


def test_log_message_attaches_the_txt(server: SmtpServer, tmp_path: Path) -> None:
    log = tmp_path / "envio_SM02_20240131.txt"
    log.write_text("SM02  1001400  PLUMBERS CENTER  enviado\n", encoding="utf-8")
    msg = build_log_message(
        "portal@example.mx", "operador@example.mx", "Log de envío SM02", "Resumen", log
    )
    SmtpTransport(server.settings(), None).deliver(msg)
    arrived = server.messages[0].message
    assert arrived["To"] == "operador@example.mx"
    assert arrived["Subject"] == "Log de envío SM02"
    [attachment] = list(arrived.iter_attachments())
    assert attachment.get_filename() == "envio_SM02_20240131.txt"
    assert "PLUMBERS CENTER" in attachment.get_content()


# ---------------------------------------------------------------------------------------
# Connections and rate
# ---------------------------------------------------------------------------------------


def test_one_connection_for_many_messages(server: SmtpServer, company: CompanyProfile) -> None:
    with SmtpTransport(server.settings(), None) as transport:
        for _ in range(6):
            transport.deliver(statement(company))
    assert len(server.messages) == 6
    assert server.connections == 1
    assert transport.connections == 1


def test_reconnects_after_max_per_connection(server: SmtpServer, company: CompanyProfile) -> None:
    with SmtpTransport(server.settings(max_per_connection=2), None) as transport:
        for _ in range(5):
            transport.deliver(statement(company))
    assert len(server.messages) == 5
    assert server.connections == 3


def test_idle_connection_closed_by_server_is_reopened(
    server: SmtpServer, company: CompanyProfile
) -> None:
    transport = SmtpTransport(server.settings(), None)
    transport.deliver(statement(company))
    server.disconnect_all()
    sleeps = Sleeps()
    transport._sleep = sleeps
    transport.deliver(statement(company))
    assert sleeps.waits == []  # reopened at once, no backoff
    assert len(server.messages) == 2
    assert server.connections == 2


def test_rate_limiter_spaces_messages() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(30, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert waits == [2.0, 2.0, 2.0]
    now[0] += 10  # idle time is not banked beyond one slot
    limiter.wait()
    assert waits == [2.0, 2.0, 2.0]
    unlimited = RateLimiter(0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        unlimited.wait()
    assert len(waits) == 3


def test_transport_applies_rate_per_minute(server: SmtpServer, company: CompanyProfile) -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    settings = server.settings(rate_per_minute=60)
    with SmtpTransport(settings, None, clock=lambda: now[0], sleep=sleep) as transport:
        for _ in range(3):
            transport.deliver(statement(company))
    assert waits == [1.0, 1.0]
    assert len(server.messages) == 3


def test_daily_cap(server: SmtpServer, company: CompanyProfile) -> None:
    with SmtpTransport(server.settings(daily_cap=3), None, sent_today=1) as transport:
        transport.deliver(statement(company))
        transport.deliver(statement(company))
        with pytest.raises(DailyCapReached):
            transport.deliver(statement(company))
    assert len(server.messages) == 2


# ---------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    ["451 4.7.1 Greylisted, try later", "450 4.2.1 Mailbox busy", "451 4.3.0 Try again later"],
)
def test_4xx_at_rcpt_defers_the_address_at_once_without_slowing_down(
    server: SmtpServer, company: CompanyProfile, reply: str
) -> None:
    """An address put off (greylisting whatever its enhanced code) is deferred now, for the
    end of the run: no wait, no retry here, the next customer at full speed."""
    server.reply_at_rcpt(A, reply, times=None)
    sleeps = Sleeps()
    transport = SmtpTransport(server.settings(), None, sleep=sleeps)
    with pytest.raises(TemporaryFailure) as caught:
        transport.deliver(statement(company))
    assert caught.value.deferred == {A: reply}
    assert server.rcpt_attempts[A] == 1
    assert sleeps.waits == []
    assert transport.limiter.interval == 0  # not read as throttling
    server.rcpt_faults.clear()
    transport.deliver(statement(company))
    assert len(server.messages) == 1 and server.connections == 1


@pytest.mark.parametrize(
    "fault", ["421 at RCPT", "451 4.3.0 at MAIL"], ids=["421-rcpt", "451-mail"]
)
def test_connection_level_4xx_every_time_fails_after_attempts(
    server: SmtpServer, company: CompanyProfile, fault: str
) -> None:
    """A 421 (the server closes) or a 4xx at MAIL is the session's trouble: retried with
    backoff, ``attempts`` tries."""
    if fault.startswith("421"):
        server.reply_at_rcpt(A, "421 4.3.2 Service shutting down", times=None)
    else:
        server.reply_at_mail("451 4.3.0 Local error in processing", times=None)
    sleeps = Sleeps()
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(server.settings(), None, sleep=sleeps).deliver(statement(company))
    assert caught.value.reply.startswith(fault[:3])
    assert caught.value.deferred == {}
    assert server.mail_attempts == 3
    assert len(sleeps.waits) == 2 and sleeps.waits[1] > sleeps.waits[0]
    assert server.messages == []


def test_4xx_to_data_defers_the_accepted_addresses(
    server: SmtpServer, company: CompanyProfile
) -> None:
    server.reply_at_data("451 4.7.1 Greylisted at DATA, try later", times=1)
    server.reply_at_rcpt(B, "550 5.1.1 No such user")
    sleeps = Sleeps()
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(server.settings(), None, sleep=sleeps).deliver(statement(company, [A, B]))
    assert caught.value.deferred == {A: "451 4.7.1 Greylisted at DATA, try later"}
    assert list(caught.value.refused) == [B]
    assert server.data_attempts == 1 and sleeps.waits == []


def test_too_many_messages_per_connection_reconnects_and_goes_on(
    server: SmtpServer, company: CompanyProfile
) -> None:
    sleeps = Sleeps()
    transport = SmtpTransport(server.settings(), None, sleep=sleeps)
    for _ in range(3):
        transport.deliver(statement(company))
    server.reply_at_mail("421 4.7.0 Too many messages per connection", times=1)
    for _ in range(5):
        transport.deliver(statement(company))
    assert len(server.messages) == 8
    assert sleeps.waits == []  # no wait, no slowing down
    assert transport.limiter.interval == 0
    # The server allowed 3 messages a session: later sessions carry no more.
    assert server.connections == 3


def test_rate_replies_for_three_domains_slow_down(
    server: SmtpServer, company: CompanyProfile
) -> None:
    rate = "450 4.7.1 Rate limit exceeded, slow down"
    transport = SmtpTransport(server.settings(), None, sleep=Sleeps())
    for n, domain in enumerate(["uno.mx", "dos.mx", "tres.mx"]):
        server.reply_at_rcpt(f"pagos@{domain}", rate, times=None)
        with pytest.raises(TemporaryFailure):
            transport.deliver(statement(company, [f"pagos@{domain}"]))
        assert (transport.limiter.interval > 0) is (n == 2)


def test_550_is_permanent_and_not_retried(server: SmtpServer, company: CompanyProfile) -> None:
    server.reply_at_rcpt(A, "550 5.1.1 No such user", times=None)
    before_data_calls: list[int] = []
    transport = SmtpTransport(server.settings(), None)
    with pytest.raises(PermanentFailure) as caught:
        transport.deliver(statement(company, claim=lambda: before_data_calls.append(1)))
    assert caught.value.reply == "550 5.1.1 No such user"
    assert server.rcpt_attempts[A] == 1
    assert server.data_attempts == 0
    assert before_data_calls == []
    # the connection stays usable for the next customer
    server.rcpt_faults.clear()
    transport.deliver(statement(company))
    assert server.connections == 1


def test_partial_refusal_sends_to_the_rest(server: SmtpServer, company: CompanyProfile) -> None:
    server.reply_at_rcpt(B, "550 5.1.1 <contacto2@example.mx>: Recipient address rejected")
    delivery = SmtpTransport(server.settings(), None).deliver(statement(company, [A, B]))
    assert delivery.accepted == [A]
    assert list(delivery.refused) == [B]
    assert delivery.refused[B].startswith("550 5.1.1")
    [got] = server.messages
    assert got.rcpt_tos == [A]
    assert server.rcpt_attempts[B] == 1


def test_all_refused_is_permanent(server: SmtpServer, company: CompanyProfile) -> None:
    server.reply_at_rcpt(A, "550 5.1.1 No such user")
    server.reply_at_rcpt(B, "553 5.1.3 Bad address")
    with pytest.raises(PermanentFailure) as caught:
        SmtpTransport(server.settings(), None).deliver(statement(company, [A, B]))
    assert A in caught.value.reply and B in caught.value.reply
    assert server.data_attempts == 0


def test_421_at_data_is_retried_on_a_new_connection(
    server: SmtpServer, company: CompanyProfile
) -> None:
    server.reply_at_data("421 4.3.0 Closing connection", times=1)
    calls: list[int] = []
    delivery = SmtpTransport(server.settings(), None, sleep=Sleeps()).deliver(
        statement(company, claim=lambda: calls.append(len(server.messages)))
    )
    assert delivery.reply.startswith("250")
    assert len(server.messages) == 1
    assert server.data_attempts == 2
    assert server.connections == 2
    assert calls == [0, 0]  # called before each DATA, before anything was accepted


def test_554_at_data_is_permanent(server: SmtpServer, company: CompanyProfile) -> None:
    server.reply_at_data("554 5.7.1 Message rejected as spam", times=None)
    with pytest.raises(PermanentFailure) as caught:
        SmtpTransport(server.settings(), None).deliver(statement(company))
    assert caught.value.reply.startswith("554 5.7.1")
    assert server.data_attempts == 1


def test_drop_during_data_is_uncertain_and_not_retried(
    server: SmtpServer, company: CompanyProfile
) -> None:
    server.drop_at_data(times=1)
    calls: list[int] = []
    transport = SmtpTransport(server.settings(), None, sleep=Sleeps())
    with pytest.raises(Uncertain):
        transport.deliver(statement(company, claim=lambda: calls.append(1)))
    assert server.data_attempts == 1
    assert calls == [1]
    # the next message gets a fresh connection
    transport.deliver(statement(company))
    assert len(server.messages) == 1
    assert server.connections == 2


def test_connection_cut_before_the_final_dot_is_retried_not_uncertain(
    server: SmtpServer, company: CompanyProfile
) -> None:
    """The server cannot have a message whose final "." it never got: a failed attempt,
    retried on a new connection, delivered once."""
    server.cut_in_data()
    calls: list[int] = []
    sleeps = Sleeps()
    transport = SmtpTransport(server.settings(), None, sleep=sleeps)
    delivery = transport.deliver(statement(company, claim=lambda: calls.append(1)))
    assert delivery.reply.startswith("250")
    assert server.cuts == 1 and len(server.messages) == 1
    assert server.connections == 2
    assert calls == [1, 1] and len(sleeps.waits) == 1


def test_timeout_waiting_for_the_final_reply_is_uncertain(
    server: SmtpServer, company: CompanyProfile
) -> None:
    server.hang_at_data(seconds=3.0)
    with pytest.raises(Uncertain) as caught:
        SmtpTransport(server.settings(timeout=0.3), None).deliver(statement(company))
    assert "timed out" in caught.value.reply
    assert server.data_attempts == 1


def test_timeout_before_data_is_retried(server: SmtpServer, company: CompanyProfile) -> None:
    server.hang_at_rcpt(A, seconds=3.0, times=1)
    delivery = SmtpTransport(server.settings(timeout=0.3), None, sleep=Sleeps()).deliver(
        statement(company)
    )
    assert delivery.accepted == [A]
    assert server.rcpt_attempts[A] == 2
    assert len(server.messages) == 1


def test_drop_at_rcpt_is_retried(server: SmtpServer, company: CompanyProfile) -> None:
    server.drop_at_rcpt(A, times=1)
    SmtpTransport(server.settings(), None, sleep=Sleeps()).deliver(statement(company))
    assert len(server.messages) == 1
    assert server.connections == 2


def test_unreachable_server_is_temporary(company: CompanyProfile) -> None:
    from smtp_server import free_port

    settings = SmtpServer(port=0).settings(port=free_port())
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(settings, None, sleep=Sleeps()).deliver(statement(company))
    assert "127.0.0.1" in str(caught.value)


def test_throttling_slows_down_instead_of_failing(
    server: SmtpServer, company: CompanyProfile
) -> None:
    # more throttling replies than `attempts`: still delivered, with growing waits
    server.reply_at_mail("421 4.7.0 Too many messages, slow down", times=4)
    sleeps = Sleeps()
    transport = SmtpTransport(server.settings(attempts=3), None, sleep=sleeps)
    transport.deliver(statement(company))
    assert len(server.messages) == 1
    assert server.mail_attempts == 5
    assert len(sleeps.waits) == 4
    assert sleeps.waits == sorted(sleeps.waits)
    assert transport.limiter.interval > 0  # later messages go slower


def test_throttling_has_a_limit(server: SmtpServer, company: CompanyProfile) -> None:
    server.reply_at_mail("454 4.7.0 Throttling failure: Maximum sending rate exceeded", None)
    settings = server.settings(attempts=2, throttle_retries=2)
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(settings, None, sleep=Sleeps()).deliver(statement(company))
    assert "Throttling" in caught.value.reply
    assert server.mail_attempts == 4  # 2 throttled retries + 2 normal attempts


# ---------------------------------------------------------------------------------------
# Authentication, TLS, secrets
# ---------------------------------------------------------------------------------------


def _assert_no_password(*texts: object) -> None:
    for text in texts:
        assert PASSWORD not in str(text)


def test_auth_success(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        SmtpTransport(server.settings(), PASSWORD).deliver(statement(company))
        assert len(server.messages) == 1


def test_auth_failure_stops_and_never_shows_the_password(company: CompanyProfile) -> None:
    wrong = PASSWORD + "x"
    with SmtpServer(auth=(USER, "another-password")) as server:
        transport = SmtpTransport(server.settings(), wrong)
        with pytest.raises(AuthenticationFailed) as caught:
            transport.deliver(statement(company))
        assert server.connections == 1  # not retried
        assert server.messages == []
    exc = caught.value
    assert exc.exit_code == 2
    assert exc.reply.startswith("535")
    assert_never_shown(exc, transport, wrong, PASSWORD)


def test_missing_auth_configuration_is_reported(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        with pytest.raises(AuthenticationFailed) as caught:
            SmtpTransport(server.settings(user=""), None).deliver(statement(company))
        assert caught.value.reply.startswith("530")
        with pytest.raises(ConfigurationError):
            SmtpTransport(server.settings(), None).deliver(statement(company))


def test_starttls_required_but_not_offered_refuses(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        settings = server.settings(security="starttls")
        with pytest.raises(ConfigurationError) as caught:
            SmtpTransport(settings, PASSWORD).deliver(statement(company))
        assert server.auth_attempts == 0  # the password never left
        assert server.mail_attempts == 0
    assert "STARTTLS" in str(caught.value)
    _assert_no_password(caught.value, repr(caught.value))


def test_starttls_with_verified_certificate(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD), starttls=True) as server:
        transport = SmtpTransport(server.settings(), PASSWORD, ssl_context=server.client_context())
        transport.deliver(statement(company))
        transport.close()
        assert len(server.messages) == 1


def test_untrusted_certificate_is_refused(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD), starttls=True) as server:
        with pytest.raises(ConfigurationError) as caught:
            SmtpTransport(server.settings(), PASSWORD).deliver(statement(company))  # system CAs
        assert server.auth_attempts == 0
    assert "certificado" in str(caught.value)


def test_implicit_tls(company: CompanyProfile) -> None:
    with SmtpServer(auth=(USER, PASSWORD), implicit_tls=True) as server:
        settings = server.settings()
        assert settings.security == "ssl"
        SmtpTransport(settings, PASSWORD, ssl_context=server.client_context()).deliver(
            statement(company)
        )
        assert len(server.messages) == 1


def test_invalid_security_value() -> None:
    with pytest.raises(ConfigurationError):
        SmtpTransport(SmtpServer().settings(security="tls"), None)


def test_password_scrubbed_from_server_replies(company: CompanyProfile) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt(A, f"550 5.7.1 you said {PASSWORD}")
        transport = SmtpTransport(server.settings(user=USER), PASSWORD)
        transport.settings = server.settings()  # no AUTH on this server, keep the secret
        with pytest.raises(PermanentFailure) as caught:
            transport.deliver(statement(company))
    _assert_no_password(caught.value, caught.value.reply, repr(transport))


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory (keyring.set_keyring)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def keyring_backend() -> Iterator[None]:
    import keyring

    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def test_password_sources_in_order(keyring_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "typed"

    monkeypatch.setattr(secrets.getpass, "getpass", fake_getpass)

    env = {"ROTOMAIL_SMTP_PASSWORD": "from-env"}
    assert secrets.get_smtp_password(USER, "smtp.example.com", env=env, interactive=True) == (
        "from-env"
    )
    assert secrets.get_smtp_password(USER, "smtp.example.com", env={}, interactive=False) is None
    secrets.set_smtp_password(USER, "smtp.example.com", "from-keyring")
    assert backend.store == {("rotomail", "portal@example.mx@smtp.example.com"): "from-keyring"}
    got = secrets.get_smtp_password(USER, "smtp.example.com", env={}, interactive=True)
    assert got == "from-keyring"
    assert prompts == []
    assert secrets.get_smtp_password(USER, "other.example.com", env={}, interactive=True) == (
        "typed"
    )
    assert prompts and "portal@example.mx@other.example.com" in prompts[0]


def test_no_keyring_backend_is_not_an_error(keyring_backend: None) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    assert secrets.get_smtp_password(USER, "h.example.com", env={}, interactive=False) is None
    with pytest.raises(UsageError) as caught:
        secrets.set_smtp_password(USER, "h.example.com", PASSWORD)
    assert caught.value.message == (
        "No hay un llavero (keyring) disponible en este equipo; "
        "use la variable ROTOMAIL_SMTP_PASSWORD."
    )
    _assert_no_password(caught.value)


def test_broken_keyring_backend_is_not_an_error(
    keyring_backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    def explode(*_: object) -> None:
        raise RuntimeError("D-Bus said no")

    monkeypatch.setattr(keyring, "get_password", explode)
    assert secrets.get_smtp_password(USER, "h.example.com", env={}, interactive=False) is None


# ---------------------------------------------------------------------------------------
# Outbox
# ---------------------------------------------------------------------------------------


def test_outbox_writes_private_eml_files(tmp_path: Path, company: CompanyProfile) -> None:
    folder = tmp_path / "home" / "outbox" / "run-1"
    outbox = OutboxTransport(folder)
    calls: list[int] = []
    first = outbox.deliver(statement(company, [A, B], claim=lambda: calls.append(1)))
    second = outbox.deliver(replace(statement(company), name="1001400 ../../x"))
    third = outbox.deliver(statement(company))  # same attachment name: no overwrite

    assert calls == [1]
    assert first.accepted == [A, B] and first.refused == {}
    assert first.reply == f"outbox: {folder / '1001400_20200302.eml'}"
    assert second.reply == f"outbox: {folder / '1001400_______x.eml'}"
    assert third.reply == f"outbox: {folder / '1001400_20200302-2.eml'}"
    assert sorted(p.name for p in folder.iterdir()) == [
        "1001400_20200302-2.eml",
        "1001400_20200302.eml",
        "1001400_______x.eml",
    ]
    for path in (folder, folder.parent, folder.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = parse((folder / "1001400_20200302.eml").read_bytes())
    assert saved["Subject"] == "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."
    [attachment] = list(saved.iter_attachments())
    assert attachment.get_content() == PDF


def test_outbox_name_from_message_id(tmp_path: Path) -> None:
    log = tmp_path / "x.txt"
    log.write_text("x", encoding="utf-8")
    msg = build_log_message("portal@example.mx", "operador@example.mx", "s", "b", log)
    # no name: the file is named after the Message-ID
    msg = replace(msg, message_id="<abc.123@example.mx>", name="")
    delivery = OutboxTransport(tmp_path / "out").deliver(msg)
    assert delivery.reply.endswith("abc_123_example_mx.eml")


# ---------------------------------------------------------------------------------------
# Templates and hostile input
# ---------------------------------------------------------------------------------------


def test_template_override_from_a_folder(tmp_path: Path, company: CompanyProfile) -> None:
    override = tmp_path / "templates"
    (override / "es").mkdir(parents=True)
    (override / "es" / "statement.subject").write_text(
        "\ufeffSu estado de cuenta - ${company}\n", encoding="utf-8"
    )
    (override / "es" / "statement.txt").write_text(
        "Hola ${customer}, le enviamos $$ detalle.\n", encoding="utf-8"
    )
    msg = wire(statement(company, override_dir=override))
    assert msg["Subject"] == "Su estado de cuenta - Tinacos Ejemplo S.A. de C.V."
    text, html = bodies(msg)
    assert text == f"Hola {CUSTOMER}, le enviamos $ detalle.\n"
    assert "Anexamos su estado de cuenta" in html  # not overridden: the packaged one
    assert load_template("statement.txt", "pt", override).source.endswith("pt/statement.txt")


def test_template_with_unknown_variable_is_a_usage_error(
    tmp_path: Path, company: CompanyProfile
) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "statement.txt").write_text("Hola ${cliente}\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        statement(company, override_dir=tmp_path)
    assert "${cliente}" in caught.value.message
    assert str(tmp_path / "es" / "statement.txt") in caught.value.message


def test_header_injection_never_reaches_a_header(tmp_path: Path, company: CompanyProfile) -> None:
    hostile = CompanyProfile(
        **{**company.__dict__, "name": "Tinacos\r\nBcc: victima@example.com\x00"}
    )
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "statement.subject").write_text(
        "Estado ${company}\r\nCc: otro@example.com\n", encoding="utf-8"
    )
    msg = build_statement_message(
        hostile,
        "ACME\r\nBcc: victima@example.com",
        [A],
        PDF,
        "../../x\r\nBcc: y.pdf",
        override_dir=tmp_path,
    )
    data = message_bytes(msg)
    headers = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|Cc):", headers, re.MULTILINE | re.IGNORECASE)
    assert parse(data)["Subject"] == "Estado Tinacos Bcc: victima@example.com Cc: otro@example.com"
    assert b"\x00" not in data
    [attachment] = list(parse(data).iter_attachments())
    assert attachment.get_filename() == "x_Bcc__y.pdf"
    assert "ACME Bcc: victima@example.com" in bodies(parse(data))[0]


@pytest.mark.parametrize(
    "address",
    [
        "a@example.mx\r\nBcc: victima@example.com",
        "a@example.mx\nx",
        "a\x00@example.mx",
        "no-arroba",
        "a@example",
        "a@@example.mx",
        "a b@example.mx",
    ],
)
def test_bad_addresses_are_rejected(company: CompanyProfile, address: str) -> None:
    with pytest.raises(DataError):
        statement(company, [address])
    with pytest.raises(DataError):
        statement(replace(company, sender=address))


def test_display_names_in_addresses_are_kept(company: CompanyProfile) -> None:
    profile = replace(company, sender="Portal Tinacos <portal@example.mx>")
    msg = wire(statement(profile, ['"Compras, Centro" <compras@example.mx>']))
    assert msg["From"].addresses[0].addr_spec == "portal@example.mx"
    assert msg["From"].addresses[0].display_name == "Portal Tinacos"
    assert msg["To"].addresses[0].display_name == "Compras, Centro"


def test_no_recipients_is_a_data_error(company: CompanyProfile) -> None:
    with pytest.raises(DataError):
        build_statement_message(company, CUSTOMER, [], PDF, "x.pdf")

"""The parts of the SMTP transport, each alone: the session (smtp_connection), one message's
dialogue (smtp_dialogue), the retry policy (smtp_policy), and the settings' ranges; against
a real aiosmtpd server where a server is involved."""

from __future__ import annotations

import base64
import re

import annotated_types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from smtp_server import SmtpServer

from rotomail.config import allowed, option_fields
from rotomail.delivery.deferred import reply_code
from rotomail.delivery.results import PermanentFailure
from rotomail.delivery.smtp_connection import Scrubber, Secret, SmtpConnection
from rotomail.delivery.smtp_dialogue import NO_SMTPUTF8, Dialogue, dot_stuff
from rotomail.delivery.smtp_policy import (
    RetryPolicy,
    ThrottleWatch,
    TryAgain,
    names_rate,
    per_connection_limit,
    too_many_recipients,
)
from rotomail.inputs.addresses import ascii_address, needs_smtputf8

DATA = dot_stuff(b"Subject: prueba\r\nMessage-ID: <1@example.mx>\r\n\r\nHola\r\n")
SENDER = "portal@example.mx"


def parts(server: SmtpServer, **overrides: object) -> tuple[SmtpConnection, Dialogue]:
    settings = server.settings(**overrides)
    scrub = Scrubber(settings.user, Secret(None))
    connection = SmtpConnection(settings, scrub.password, scrub)
    return connection, Dialogue(connection, scrub)


# --- the session --------------------------------------------------------------------------


def test_connection_is_reused_and_reopened_after_max_per_connection() -> None:
    with SmtpServer() as server:
        connection, _ = parts(server, max_per_connection=2)
        sessions = []
        for _ in range(5):
            sessions.append(connection.get())
            connection.messages += 1
        connection.close()
    assert server.connections == 3
    assert sessions[0] is sessions[1] and sessions[1] is not sessions[2]
    assert connection.opened == 3


def test_connection_refused_is_a_connect_failure() -> None:
    with SmtpServer() as server:
        port = server.port
    settings = server.settings(port=port)
    scrub = Scrubber("", Secret(None))
    with pytest.raises(TryAgain) as caught:
        SmtpConnection(settings, scrub.password, scrub).get()
    assert caught.value.connect
    assert caught.value.reply.startswith(f"conexión con 127.0.0.1:{port} fallida:")


def test_scrubber_hides_the_password_and_its_encodings() -> None:
    scrub = Scrubber("portal@example.mx", Secret("Clave-123"))
    plain = base64.b64encode(b"\0portal@example.mx\0Clave-123").decode()
    text = scrub(f"535 bad Clave-123 {plain} {base64.b64encode(b'Clave-123').decode()}")
    assert text == "535 bad *** *** ***"
    assert repr(scrub.password) == "'***'"


@pytest.mark.parametrize(
    "rendering",
    [
        "Cl4ve  con\tespacios",  # as given
        "Cl4ve con espacios",  # blanks collapsed, the tab a blank
        "Cl4ve   con  espacios",  # blanks changed
        "Cl4vecon\tespacios",  # a blank removed
        "Cl4ve  con\\tespacios",  # repr-escaped
        " Cl4ve\r\n con\x0bespacios",  # line breaks, a control character
    ],
)
def test_scrubber_hides_any_rendering_of_a_password_with_blanks(rendering: str) -> None:
    user, secret = "portal@example.mx", "Cl4ve  con\tespacios"
    scrub = Scrubber(user, Secret(secret))
    plain = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
    reply = scrub.reply(535, f"5.7.8 no: {rendering} [{plain}]".encode())
    assert reply == "535 5.7.8 no: *** [***]"


def test_scrubber_hides_the_xoauth2_token_once_it_is_known() -> None:
    scrub = Scrubber("portal@example.mx", Secret(None))
    assert scrub("token ya.AbC-123") == "token ya.AbC-123"
    scrub.token = Secret("ya.AbC-123")
    initial = "user=portal@example.mx\x01auth=Bearer ya.AbC-123\x01\x01"
    encoded = base64.b64encode(initial.encode()).decode()
    assert scrub(f"token ya.AbC-123 {encoded}") == "token *** ***"


# --- one message's dialogue ---------------------------------------------------------------


@pytest.mark.parametrize("pipelining", [False, True])
def test_dialogue_answers_per_recipient(pipelining: bool) -> None:
    with SmtpServer(pipelining=pipelining) as server:
        server.reply_at_rcpt("b@example.mx", "550 5.1.1 No such user")
        server.reply_at_rcpt("c@example.mx", "452 4.5.3 Too many recipients")
        connection, dialogue = parts(server)
        delivery = dialogue.run(
            SENDER, ["a@example.mx", "b@example.mx", "c@example.mx"], DATA, None
        )
        connection.close()
    assert delivery.accepted == ["a@example.mx"]
    assert delivery.refused == {"b@example.mx": "550 5.1.1 No such user"}
    assert delivery.deferred == {"c@example.mx": "452 4.5.3 Too many recipients"}
    assert [m.rcpt_tos for m in server.messages] == [["a@example.mx"]]


@pytest.mark.parametrize("pipelining", [False, True])
def test_dialogue_with_every_recipient_deferred_says_try_again_with_their_replies(
    pipelining: bool,
) -> None:
    with SmtpServer(pipelining=pipelining) as server:
        server.reply_at_rcpt("a@example.mx", "450 4.2.0 Greylisted")
        server.reply_at_rcpt("b@example.mx", "550 5.1.1 No such user")
        _, dialogue = parts(server)
        with pytest.raises(TryAgain) as caught:
            dialogue.run(SENDER, ["a@example.mx", "b@example.mx"], DATA, None)
    assert caught.value.deferred == {"a@example.mx": "450 4.2.0 Greylisted"}
    assert caught.value.refused == {"b@example.mx": "550 5.1.1 No such user"}
    assert not caught.value.connect
    assert server.data_attempts == 0


@pytest.mark.parametrize("pipelining", [False, True])
def test_dialogue_hook_runs_right_before_data_only_when_someone_was_accepted(
    pipelining: bool,
) -> None:
    calls: list[int] = []
    with SmtpServer(pipelining=pipelining) as server:
        server.reply_at_rcpt("a@example.mx", "550 5.1.1 No such user")
        _, dialogue = parts(server)
        with pytest.raises(PermanentFailure):
            dialogue.run(SENDER, ["a@example.mx"], DATA, lambda: calls.append(server.data_attempts))
        dialogue.run(SENDER, ["b@example.mx"], DATA, lambda: calls.append(server.data_attempts))
    assert calls == [0]


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.parametrize("smtputf8", [False, True])
def test_dialogue_puts_addresses_on_the_wire_as_the_server_can_take_them(
    smtputf8: bool, pipelining: bool
) -> None:
    recipients = ["pagos@compañía.example.mx", "josé@example.mx"]
    with SmtpServer(smtputf8=smtputf8, pipelining=pipelining) as server:
        _, dialogue = parts(server)
        delivery = dialogue.run(SENDER, recipients, DATA, None)
    wire = server.messages[0].rcpt_tos
    assert wire[0] == "pagos@xn--compaa-7va5a.example.mx"
    if smtputf8:
        assert wire == ["pagos@xn--compaa-7va5a.example.mx", "josé@example.mx"]
        assert delivery.accepted == recipients
    else:
        assert wire == ["pagos@xn--compaa-7va5a.example.mx"]
        assert delivery.refused == {"josé@example.mx": NO_SMTPUTF8}
        assert delivery.accepted == ["pagos@compañía.example.mx"]  # shown in Unicode


def test_dot_stuffing() -> None:
    assert dot_stuff(b".a\n..b\rc") == b"..a\r\n...b\r\nc\r\n.\r\n"


@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b".", b"..", b"a", b" "]), max_size=30))
def test_dot_stuffing_is_the_rfc_5321_transparency(parts: list[bytes]) -> None:
    """Line ends made CRLF, a leading dot doubled on every line: as two regular expressions
    would do it."""
    data = b"".join(parts)
    expected = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r\n|\n|\r", b"\r\n", data))
    if not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert dot_stuff(data) == expected + b".\r\n"


# --- the policy ---------------------------------------------------------------------------


def test_retry_policy_backoff_jitter_and_throttle_ceiling() -> None:
    policy = RetryPolicy((1.0, 2.0, 4.0), rng=lambda: 0.5)  # no jitter at the midpoint
    assert [policy.wait(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
    assert RetryPolicy((1.0,), rng=lambda: 0.0).wait(1) == 0.8
    assert RetryPolicy((1.0,), rng=lambda: 1.0).wait(1) == pytest.approx(1.2)
    assert policy.throttle_wait(20) == 300.0


@pytest.mark.parametrize(
    ("reply", "meaning"),
    [
        ("421 4.7.0 Too many connections", "rate"),
        ("454 4.7.0 Throttling failure: Maximum sending rate exceeded", "rate"),
        ("421 4.7.0 Too many messages, slow down", "rate"),
        ("450 4.7.1 Rate limit reached for sender", "rate"),
        ("450 4.2.0 Greylisted", ""),
        ("451 4.7.1 Greylisted, try later", ""),
        ("451 4.7.1 Service unavailable - try again later", ""),
        ("421 4.7.0 Too many messages per connection", "reconnect"),
        ("421 4.7.0 Too many messages in this session", "reconnect"),
        ("452 4.5.3 Too many recipients", "recipients"),
        ("452 Too many recipients received this hour", "recipients"),
        ("452 4.2.2 Mailbox full", ""),
    ],
)
def test_a_reply_is_read_for_what_it_says(reply: str, meaning: str) -> None:
    """Greylisting is not throttling, whatever its enhanced code; a per-connection limit is
    not a rate; too many recipients is neither."""
    assert names_rate(reply) is (meaning == "rate")
    assert per_connection_limit(reply) is (meaning == "reconnect")
    assert too_many_recipients(reply) is (meaning == "recipients")


def test_rate_replies_for_three_domains_within_a_minute_are_about_the_sender() -> None:
    now = [0.0]
    watch = ThrottleWatch(clock=lambda: now[0])
    rate = "450 4.7.1 rate limit exceeded"
    assert not watch.seen({"a@uno.mx": rate, "b@uno.mx": rate})  # one domain's business
    assert not watch.seen({"c@dos.mx": "451 4.7.1 Greylisted, try later"})
    now[0] = 30.0
    assert not watch.seen({"c@dos.mx": rate})
    now[0] = 61.0  # uno.mx's is older than a minute now
    assert not watch.seen({"d@tres.mx": rate})
    now[0] = 62.0
    assert watch.seen({"e@CUATRO.mx": rate})  # dos, tres, cuatro within 60 s
    assert not watch.seen({"f@cinco.mx": rate})  # starts over


# --- addresses and replies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "wire", "utf8"),
    [
        ("pagos@example.mx", "pagos@example.mx", False),
        ("pagos@compañía.mx", "pagos@xn--compaa-7va5a.mx", False),
        ("josé.pérez@example.mx", None, True),
        ("josé@compañía.mx", None, True),
    ],
)
def test_ascii_address(address: str, wire: str | None, utf8: bool) -> None:
    assert ascii_address(address) == wire
    assert needs_smtputf8(address) is utf8


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("452 4.5.3 Too many recipients", "452 4.5.3"),
        ("250 2.0.0 Ok: queued as Q1", "250 2.0.0"),
        ("550 No such user", "550"),
        ("outbox: /home/ana/outbox/corrida-1/1006210_20261130.eml", ""),
        ("", ""),
    ],
)
def test_reply_code(reply: str, code: str) -> None:
    assert reply_code(reply) == code


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("smtp.port", "un número entero entre 1 y 65535"),
        ("smtp.timeout", "un número mayor que 0 y hasta 3600 (segundos)"),
        ("smtp.rate_per_minute", "un número entero entre 0 y 10000 (0 = sin límite)"),
        ("smtp.security", "uno de: starttls, ssl, none"),
        ("smtp.host", "un texto"),
    ],
)
def test_option_describes_what_it_allows(key: str, text: str) -> None:
    assert allowed(option_fields()[key]) == text


def test_every_numeric_option_has_a_range() -> None:
    numeric = [f for f in option_fields().values() if f.annotation in (int, float)]
    assert numeric and all(
        any(isinstance(m, annotated_types.Ge | annotated_types.Gt) for m in f.metadata)
        and any(isinstance(m, annotated_types.Le) for m in f.metadata)
        for f in numeric
    )

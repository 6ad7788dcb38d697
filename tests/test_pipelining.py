"""PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one write to a server that offers it,
each reply still read for what it says; one command at a time to a server that does not.
What the server read from the network, what it received, what each address's answer was."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sink_server import DATE, seed
from smtp_server import SmtpServer
from test_replies import history, statements, use_server

from rotomail.delivery.mailer import SmtpTransport, TemporaryFailure
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.results import PermanentFailure
from rotomail.delivery.smtp_connection import Scrubber, Secret, SmtpConnection
from rotomail.delivery.smtp_dialogue import Dialogue, dot_stuff
from tests.conftest import Cli

DATA = dot_stuff(b"Subject: prueba\r\nMessage-ID: <1@example.mx>\r\n\r\nHola\r\n")
SENDER = "portal@example.mx"
ENVELOPE = (
    b"mail FROM:<portal@example.mx>\r\nrcpt TO:<a@example.mx>\r\nrcpt TO:<b@example.mx>\r\ndata\r\n"
)


def dialogue(server: SmtpServer) -> tuple[SmtpConnection, Dialogue]:
    settings = server.settings()
    scrub = Scrubber(settings.user, Secret(None))
    connection = SmtpConnection(settings, scrub.password, scrub)
    return connection, Dialogue(connection, scrub)


def after_ehlo(server: SmtpServer) -> list[bytes]:
    """What the server read after the client's EHLO, read by read."""
    [ehlo] = [i for i, read in enumerate(server.reads) if read.startswith(b"ehlo ")]
    return server.reads[ehlo + 1 :]


def test_envelope_and_data_go_in_one_write_to_a_server_offering_pipelining() -> None:
    seen: list[list[bytes]] = []
    with SmtpServer(pipelining=True) as server:
        connection, talk = dialogue(server)
        delivery = talk.run(
            SENDER,
            ["a@example.mx", "b@example.mx"],
            DATA,
            lambda: seen.append(list(after_ehlo(server))),
        )
        connection.close()
        reads = after_ehlo(server)
    assert delivery.accepted == ["a@example.mx", "b@example.mx"]
    assert delivery.reply.startswith("250 2.0.0 Ok: queued as Q1")
    # The whole envelope with DATA in one read; the claim hook ran after it, before any of
    # the content was sent; then the content, then QUIT.
    assert reads[0] == ENVELOPE
    assert seen == [[ENVELOPE]]
    assert b"".join(reads[1:]) == DATA + b"quit\r\n"
    assert [m.rcpt_tos for m in server.messages] == [["a@example.mx", "b@example.mx"]]


def test_one_command_at_a_time_to_a_server_without_pipelining() -> None:
    with SmtpServer() as server:
        connection, talk = dialogue(server)
        talk.run(SENDER, ["a@example.mx", "b@example.mx"], DATA, None)
        connection.close()
        reads = after_ehlo(server)
    assert reads[:4] == ENVELOPE.splitlines(keepends=True)
    assert b"".join(reads[4:]) == DATA + b"quit\r\n"


def test_pipelined_refusals_and_deferrals_are_each_addresses_own() -> None:
    recipients = ["a@example.mx", "b@example.mx", "c@example.mx", "d@example.mx"]
    with SmtpServer(pipelining=True) as server:
        server.reply_at_rcpt("b@example.mx", "550 5.1.1 No such user")
        server.reply_at_rcpt("c@example.mx", "451 4.7.1 Greylisted, try later")
        server.reply_at_rcpt("d@example.mx", "452 4.5.3 Too many recipients")
        connection, talk = dialogue(server)
        delivery = talk.run(SENDER, recipients, DATA, None)
        connection.close()
    assert delivery.accepted == ["a@example.mx"]
    assert delivery.refused == {"b@example.mx": "550 5.1.1 No such user"}
    assert delivery.deferred == {
        "c@example.mx": "451 4.7.1 Greylisted, try later",
        "d@example.mx": "452 4.5.3 Too many recipients",
    }
    assert [m.rcpt_tos for m in server.messages] == [["a@example.mx"]]
    assert server.connections == 1


def message(*to: str, claim: object = None) -> Outgoing:
    from email.headerregistry import Address

    return Outgoing(
        sender=Address(addr_spec=SENDER),
        to=tuple(Address(addr_spec=a) for a in to),
        subject="Estado de cuenta",
        text="Hola",
        message_id="<1@example.mx>",
        claim=claim,  # type: ignore[arg-type]
    )


def test_pipelined_transport_refused_deferred_then_delivered_on_the_same_session() -> None:
    with SmtpServer(pipelining=True) as server:
        server.reply_at_rcpt("x@example.mx", "550 5.1.1 No such user")
        server.reply_at_rcpt("y@example.mx", "450 4.2.0 Mailbox busy")
        with SmtpTransport(server.settings(), None) as transport:
            with pytest.raises(PermanentFailure) as refused:
                transport.deliver(message("x@example.mx"))
            with pytest.raises(TemporaryFailure) as deferred:
                transport.deliver(message("y@example.mx"))
            delivery = transport.deliver(message("z@example.mx"))
    assert refused.value.refused == {"x@example.mx": "550 5.1.1 No such user"}
    assert deferred.value.deferred == {"y@example.mx": "450 4.2.0 Mailbox busy"}
    assert delivery.accepted == ["z@example.mx"]
    assert [m.rcpt_tos for m in server.messages] == [["z@example.mx"]]
    assert server.connections == 1


class Lost(Exception):
    pass


def test_a_refused_claim_after_354_sends_nothing_and_the_next_goes_on_a_new_session() -> None:
    def refuse() -> None:
        raise Lost

    with (
        SmtpServer(pipelining=True) as server,
        SmtpTransport(server.settings(), None) as transport,
    ):
        with pytest.raises(Lost):
            transport.deliver(message("a@example.mx", claim=refuse))
        transport.deliver(message("b@example.mx"))
    assert [m.rcpt_tos for m in server.messages] == [["b@example.mx"]]
    assert server.connections == 2


def test_pipelined_session_closed_while_idle_is_reopened_once() -> None:
    with (
        SmtpServer(pipelining=True) as server,
        SmtpTransport(server.settings(), None) as transport,
    ):
        transport.deliver(message("a@example.mx"))
        server.disconnect_all()
        transport.deliver(message("b@example.mx"))
    assert [m.rcpt_tos for m in server.messages] == [["a@example.mx"], ["b@example.mx"]]
    assert server.connections == 2


def test_pipelined_per_connection_limit_opens_a_new_session() -> None:
    with SmtpServer(pipelining=True) as server:
        server.reply_at_mail("421 4.7.0 Too many messages per connection", times=1)
        with SmtpTransport(server.settings(), None) as transport:
            delivery = transport.deliver(message("a@example.mx"))
    assert delivery.accepted == ["a@example.mx"]
    assert [m.rcpt_tos for m in server.messages] == [["a@example.mx"]]
    assert server.connections == 2


def test_whole_run_pipelined_with_refusals_deferrals_and_cuts(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run against a pipelining server: one customer greylisted twice (sent in a later
    round), connections cut before the final "." (retried, none uncertain), each customer
    exactly once at the server."""
    ids = seed(cli, home, 30)
    with SmtpServer(pipelining=True) as server:
        greylisted = ids[7]
        from sink_server import addresses

        [address] = addresses(greylisted)
        server.reply_at_rcpt(address, "451 4.7.1 Greylisted, try later", times=2)
        server.cut_in_data(5, 20)
        use_server(monkeypatch, server.port, round_wait="0")
        result = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        sent = statements(server)
        cuts = server.cuts
        pipelined = any(
            read.startswith(b"mail FROM:") and read.endswith(b"data\r\n") for read in server.reads
        )
    assert result.exit_code == 0, result.output
    assert cuts == 2
    assert pipelined
    assert Counter(cliente for cliente, _ in sent) == Counter(ids)
    assert set(history(cli, 1).values()) == {"enviado"}
    assert server.rcpt_attempts[address.lower()] == 3

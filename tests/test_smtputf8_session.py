"""SMTPUTF8 through smtplib's documented ``mail(sender, options)``: the session switches to
UTF-8 for a transaction that needs it, and the next messages on the same session go on the
wire as before (aiosmtpd records what arrived)."""

from __future__ import annotations

from smtp_server import SmtpServer

from rotomail.delivery.smtp_connection import Scrubber, Secret, SmtpConnection
from rotomail.delivery.smtp_dialogue import Dialogue, dot_stuff

DATA = dot_stuff(b"Subject: prueba\r\nMessage-ID: <1@example.mx>\r\n\r\nHola\r\n")


def test_a_utf8_transaction_then_ascii_ones_on_one_session() -> None:
    with SmtpServer(smtputf8=True) as server:
        settings = server.settings()
        scrub = Scrubber(settings.user, Secret(None))
        connection = SmtpConnection(settings, scrub.password, scrub)
        dialogue = Dialogue(connection, scrub)
        dialogue.run("portal@example.mx", ["pagos@example.mx"], DATA, None)
        dialogue.run("envíos@compañía.example.mx", ["josé@example.mx"], DATA, None)
        dialogue.run("portal@compañía.example.mx", ["pagos@compañía.example.mx"], DATA, None)
        connection.close()
    assert server.connections == 1
    assert [(m.mail_from, m.rcpt_tos) for m in server.messages] == [
        ("portal@example.mx", ["pagos@example.mx"]),
        ("envíos@compañía.example.mx", ["josé@example.mx"]),
        ("portal@xn--compaa-7va5a.example.mx", ["pagos@xn--compaa-7va5a.example.mx"]),
    ]
    assert all(m.data == DATA[: -len(b".\r\n")] for m in server.messages)

"""One message's SMTP dialogue on an open session: MAIL, RCPT with an answer per recipient
(accepted, refused 5xx, deferred 4xx), the caller's hook right before the content, DATA.

A server offering PIPELINING (RFC 2920) gets MAIL, every RCPT and DATA in one write and its
replies are read back in order, each classified as it would be one at a time: two round
trips a message instead of three plus one per recipient. The DATA command alone delivers
nothing; the caller's hook (the customer's claim) runs after the server's 354 and before a
byte of the content is sent. When the hook refuses, the connection is closed without the
final ".", which the server takes as an abandoned transaction.

Addresses go on the wire as the server can take them: an internationalised domain in
punycode (IDNA); a local part with accents only to a server offering SMTPUTF8, otherwise
that address alone is refused with that reason.
"""

from __future__ import annotations

import select
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from rotomail.delivery.results import AuthenticationFailed, Delivery, PermanentFailure, Uncertain
from rotomail.delivery.smtp_connection import Scrubber, SmtpConnection
from rotomail.delivery.smtp_policy import TryAgain, sender_signal
from rotomail.inputs.addresses import ascii_address

NO_SMTPUTF8 = (
    "553 5.6.7 el servidor no ofrece SMTPUTF8, necesario para una dirección con caracteres "
    "no ASCII antes de la @"
)


END = b".\r\n"  # the final line of DATA, after the content


def dot_stuff(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, a dot doubled at the start of a line,
    the final "." line. (bytes.replace: several times faster than a regular expression
    over a 7 KiB message, on the sending process's path for every customer.)"""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    data = data.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + END


@dataclass
class RecipientAnswers:
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # 5xx
    deferred: dict[str, str] = field(default_factory=dict)  # 4xx


class Dialogue:
    """MAIL/RCPT/DATA of one message; the session comes from ``connection``."""

    def __init__(self, connection: SmtpConnection, scrub: Scrubber) -> None:
        self.connection = connection
        self.scrub = scrub

    def run(
        self,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        before_data: Callable[[], None] | None,
    ) -> Delivery:
        """Deliver ``data`` (already dot-stuffed); TryAgain, PermanentFailure or Uncertain."""
        reused = self.connection.is_open
        if self.connection.get().has_extn("pipelining"):
            return self._pipelined(reused, envelope_from, recipients, data, before_data)
        conn, utf8 = self._mail(reused, envelope_from, recipients)
        answers = self._recipients(conn, recipients, utf8)
        if not answers.accepted:
            self.connection.reset()
            raise self._none_accepted(answers)
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self.connection.reset()
                raise
        reply = self._data(conn, data, answers)
        return Delivery(answers.accepted, answers.refused, reply, answers.deferred)

    def _none_accepted(self, answers: RecipientAnswers) -> Exception:
        """No address accepted: put off (some 4xx) or refused (all 5xx)."""
        if answers.deferred:
            # Put off for now (greylisting, a full mailbox, a rate): deferred at once.
            first = next(iter(answers.deferred.values()))
            return TryAgain(first, deferred=answers.deferred, refused=answers.refused)
        refused = answers.refused
        reply = (
            "; ".join(f"{a}: {r}" for a, r in refused.items())
            if len(refused) > 1
            else next(iter(refused.values()))
        )
        return PermanentFailure(
            reply, f"Todas las direcciones fueron rechazadas: {reply}", refused=refused
        )

    # -- pipelined (RFC 2920) ---------------------------------------------------------

    def _pipelined(
        self,
        reused: bool,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        before_data: Callable[[], None] | None,
    ) -> Delivery:
        """MAIL, RCPT... and DATA in one write, the replies read in order; the content only
        after the 354 and the caller's hook."""
        try:
            conn, code, resp, answers, data_reply = self._envelope(
                self.connection.get(), envelope_from, recipients
            )
        except OSError as exc:
            if not reused:
                raise self._lost(exc) from None
            self.connection.drop()  # an idle session the server closed: reconnect once
            try:
                conn, code, resp, answers, data_reply = self._envelope(
                    self.connection.get(), envelope_from, recipients
                )
            except OSError as exc2:
                raise self._lost(exc2) from None
        if code != 250:
            self._mail_refused(code, resp)
        if not answers.accepted:
            if data_reply[0] == 354:  # a server that opened DATA with no recipient
                self.connection.drop()
            else:
                self.connection.reset()
            raise self._none_accepted(answers)
        if data_reply[0] != 354:
            code, resp = data_reply
            raise self._refused_data(code, self.scrub.reply(code, resp), answers)
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                # The server waits for the content: no RSET possible. Closing without the
                # final "." abandons the transaction.
                self.connection.drop()
                raise
        reply = self._content(conn, data, answers)
        return Delivery(answers.accepted, answers.refused, reply, answers.deferred)

    def _envelope(
        self, conn: smtplib.SMTP, envelope_from: str, recipients: list[str]
    ) -> tuple[smtplib.SMTP, int, bytes, RecipientAnswers, tuple[int, bytes]]:
        """Send the group, read MAIL's reply (an OSError here: the session is gone), then
        RCPT's and DATA's (an OSError there: lost before DATA)."""
        utf8 = self._utf8(conn, envelope_from, recipients)
        sender = envelope_from if utf8 else ascii_address(envelope_from) or envelope_from
        encoding = "utf-8" if utf8 else "ascii"
        # The commands as smtplib writes them one at a time.
        lines = [f"mail FROM:{smtplib.quoteaddr(sender)}{' SMTPUTF8' if utf8 else ''}"]
        answers = RecipientAnswers()
        sent: list[str] = []  # the addresses whose RCPT is in the group, in order
        for address in recipients:
            wire = ascii_address(address)
            if wire is None and not utf8:
                answers.refused[address] = NO_SMTPUTF8
                continue
            lines.append(f"rcpt TO:{smtplib.quoteaddr(wire or address)}")
            sent.append(address)
        lines.append("data")
        conn.send("".join(f"{line}\r\n" for line in lines).encode(encoding))
        code, resp = conn.getreply()
        if code == 421:  # the server is closing: nothing more will come
            return conn, code, resp, answers, (0, b"")
        try:
            for address in sent:
                self._answer(address, *conn.getreply(), answers)
            data_reply = conn.getreply()
        except OSError as exc:
            raise self._lost(exc) from None
        return conn, code, resp, answers, data_reply

    # -- one command at a time ----------------------------------------------------------

    def _answer(self, address: str, code: int, resp: bytes, answers: RecipientAnswers) -> None:
        """Record the server's reply to one RCPT."""
        if code in (250, 251):
            answers.accepted.append(address)
            return
        reply = self.scrub.reply(code, resp)
        if code == 421:  # the server closes the session: not about this address
            self.connection.drop()
            raise sender_signal(code, reply)
        if 400 <= code < 500:
            answers.deferred[address] = reply
        else:
            answers.refused[address] = reply

    # -- steps ----------------------------------------------------------------------

    def _lost(self, exc: BaseException) -> TryAgain:
        self.connection.drop()
        return TryAgain(self.scrub(f"conexión perdida antes de DATA: {exc}"))

    def _mail(
        self, reused: bool, envelope_from: str, recipients: list[str]
    ) -> tuple[smtplib.SMTP, bool]:
        conn = self.connection.get()
        try:
            code, resp, utf8 = self._mail_from(conn, envelope_from, recipients)
        except OSError as exc:
            if not reused:
                raise self._lost(exc) from None
            self.connection.drop()  # an idle session the server closed: reconnect once
            conn = self.connection.get()
            try:
                code, resp, utf8 = self._mail_from(conn, envelope_from, recipients)
            except OSError as exc2:
                raise self._lost(exc2) from None
        if code != 250:
            self._mail_refused(code, resp)
        return conn, utf8

    def _mail_refused(self, code: int, resp: bytes) -> NoReturn:
        reply = self.scrub.reply(code, resp)
        if code == 530:
            self.connection.drop()
            raise AuthenticationFailed(
                reply, f"El servidor exige autenticación (configure smtp.user): {reply}"
            )
        raise self.refusal(code, reply)

    @staticmethod
    def _utf8(conn: smtplib.SMTP, envelope_from: str, recipients: list[str]) -> bool:
        """SMTPUTF8 for this transaction: offered, and needed by some address."""
        return conn.has_extn("smtputf8") and any(
            ascii_address(a) is None for a in [envelope_from, *recipients]
        )

    def _mail_from(
        self, conn: smtplib.SMTP, envelope_from: str, recipients: list[str]
    ) -> tuple[int, bytes, bool]:
        utf8 = self._utf8(conn, envelope_from, recipients)
        sender = envelope_from if utf8 else ascii_address(envelope_from) or envelope_from
        # With the SMTPUTF8 option smtplib's mail() sends this transaction's commands in UTF-8.
        code, resp = conn.mail(sender, ["SMTPUTF8"] if utf8 else [])
        return code, resp, utf8

    def _recipients(
        self, conn: smtplib.SMTP, recipients: list[str], utf8: bool
    ) -> RecipientAnswers:
        answers = RecipientAnswers()
        for address in recipients:
            wire = ascii_address(address)
            if wire is None and not utf8:
                answers.refused[address] = NO_SMTPUTF8
                continue
            try:
                code, resp = conn.rcpt(wire or address)
            except OSError as exc:
                raise self._lost(exc) from None
            self._answer(address, code, resp, answers)
        return answers

    def _data(self, conn: smtplib.SMTP, data: bytes, answers: RecipientAnswers) -> str:
        """DATA. A failure before the final "." was written is a failed attempt (the server
        cannot have the message); only one after it is :class:`Uncertain`."""
        try:
            conn.putcmd("data")
            code, resp = conn.getreply()
        except OSError as exc:
            # No content was sent: the server cannot have a message to deliver.
            raise self._lost(exc) from None
        if code != 354:
            raise self._refused_data(code, self.scrub.reply(code, resp), answers)
        return self._content(conn, data, answers)

    def _content(self, conn: smtplib.SMTP, data: bytes, answers: RecipientAnswers) -> str:
        """After the 354: the content, then the final "." and its reply."""
        content, end = data[: -len(END)], data[-len(END) :]
        try:
            conn.send(content)
            self._still_listening(conn)
        except OSError as exc:
            self.connection.drop()
            raise TryAgain(
                self.scrub(f"conexión perdida durante DATA, antes del punto final: {exc}")
            ) from None
        try:
            conn.send(end)
            code, resp = conn.getreply()
        except OSError as exc:
            self.connection.drop()
            reason = self.scrub(f"la conexión se cortó después de enviar el mensaje: {exc}")
            raise Uncertain(
                reason, f"Incierto: {reason}; no se reintenta automáticamente."
            ) from None
        reply = self.scrub.reply(code, resp)
        if code != 250:
            raise self._refused_data(code, reply, answers)
        return reply

    @staticmethod
    def _still_listening(conn: smtplib.SMTP) -> None:
        """Before the final ".": a server that closed the connection (or spoke) while the
        content was on its way has given up on this message; say so now, while that is
        certain, rather than after the "." (where it could only be uncertain)."""
        sock = conn.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("la conexión ya estaba cerrada")
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            raise smtplib.SMTPServerDisconnected("el servidor cerró la conexión o respondió")

    def _refused_data(self, code: int, reply: str, answers: RecipientAnswers) -> Exception:
        """A 4xx to DATA other than 421 puts off this message's addresses, as a 4xx to RCPT
        does; the rest as at MAIL."""
        if 400 <= code < 500 and code != 421:
            self.connection.reset()
            deferred = {**{a: reply for a in answers.accepted}, **answers.deferred}
            return TryAgain(reply, deferred=deferred, refused=answers.refused)
        return self.refusal(code, reply)

    def refusal(self, code: int, reply: str) -> Exception:
        """Classify a refusal at MAIL or DATA and leave the session reusable (or dropped)."""
        if code == 421:  # the server is closing the channel
            self.connection.drop()
        else:
            self.connection.reset()
        if 400 <= code < 500:
            return sender_signal(code, reply)
        return PermanentFailure(reply, f"Rechazo permanente del servidor: {reply}")

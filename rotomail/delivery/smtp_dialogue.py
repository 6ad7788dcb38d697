"""One message's SMTP dialogue on an open session: MAIL, RCPT with an answer per recipient
(accepted, refused 5xx, deferred 4xx), the caller's hook right before DATA, DATA. MAIL and
the RCPTs go in one write when the server offers PIPELINING (RFC 2920).

Addresses go on the wire as the server can take them: an internationalised domain in
punycode (IDNA); a local part with accents only to a server offering SMTPUTF8, otherwise
that address alone is refused with that reason.
"""

from __future__ import annotations

import select
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field

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


# address -> its RCPT reply, when they came back pipelined with MAIL's
Replies = dict[str, tuple[int, bytes]]


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
        conn, utf8, replies = self._mail(envelope_from, recipients)
        answers = self._recipients(conn, recipients, utf8, replies)
        if not answers.accepted:
            self.connection.reset()
            if answers.deferred:
                # Put off for now (greylisting, a full mailbox, a rate): deferred at once.
                first = next(iter(answers.deferred.values()))
                raise TryAgain(first, deferred=answers.deferred, refused=answers.refused)
            refused = answers.refused
            reply = (
                "; ".join(f"{a}: {r}" for a, r in refused.items())
                if len(refused) > 1
                else next(iter(refused.values()))
            )
            raise PermanentFailure(
                reply, f"Todas las direcciones fueron rechazadas: {reply}", refused=refused
            )
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self.connection.reset()
                raise
        reply = self._data(conn, data, answers)
        return Delivery(answers.accepted, answers.refused, reply, answers.deferred)

    # -- steps ----------------------------------------------------------------------

    def _lost(self, exc: BaseException) -> TryAgain:
        self.connection.drop()
        return TryAgain(self.scrub(f"conexión perdida antes de DATA: {exc}"))

    def _mail(
        self, envelope_from: str, recipients: list[str]
    ) -> tuple[smtplib.SMTP, bool, Replies | None]:
        reused = self.connection.is_open
        conn = self.connection.get()
        try:
            code, resp, utf8, replies = self._mail_from(conn, envelope_from, recipients)
        except OSError as exc:
            if not reused:
                raise self._lost(exc) from None
            self.connection.drop()  # an idle session the server closed: reconnect once
            conn = self.connection.get()
            try:
                code, resp, utf8, replies = self._mail_from(conn, envelope_from, recipients)
            except OSError as exc2:
                raise self._lost(exc2) from None
        if code != 250:
            reply = self.scrub.reply(code, resp)
            if code == 530:
                self.connection.drop()
                raise AuthenticationFailed(
                    reply, f"El servidor exige autenticación (configure smtp.user): {reply}"
                )
            raise self.refusal(code, reply)
        return conn, utf8, replies

    def _mail_from(
        self, conn: smtplib.SMTP, envelope_from: str, recipients: list[str]
    ) -> tuple[int, bytes, bool, Replies | None]:
        """MAIL; with a server offering PIPELINING (RFC 2920) the RCPTs go in the same
        write and their replies come back with MAIL's: one round trip instead of one per
        command. DATA still waits for them (and for the claim)."""
        utf8 = conn.has_extn("smtputf8") and any(
            ascii_address(a) is None for a in [envelope_from, *recipients]
        )
        sender = envelope_from if utf8 else ascii_address(envelope_from) or envelope_from
        if not conn.has_extn("pipelining"):
            # With the SMTPUTF8 option smtplib's mail() sends this transaction's commands
            # in UTF-8.
            code, resp = conn.mail(sender, ["SMTPUTF8"] if utf8 else [])
            return code, resp, utf8, None
        wires = {a: w for a in recipients if (w := self._wire(a, utf8)) is not None}
        commands = [f"MAIL FROM:{smtplib.quoteaddr(sender)}{' SMTPUTF8' if utf8 else ''}"]
        commands += [f"RCPT TO:{smtplib.quoteaddr(w)}" for w in wires.values()]
        # Encoded here, as smtplib's mail() would for SMTPUTF8: the session's own encoding
        # stays smtplib's business.
        conn.send("".join(f"{c}\r\n" for c in commands).encode("utf-8" if utf8 else "ascii"))
        code, resp = conn.getreply()
        replies: Replies = {}
        if code == 421:  # the server closes: no more replies come
            return code, resp, utf8, replies
        try:
            for address in wires:
                replies[address] = conn.getreply()
                if replies[address][0] == 421:
                    break
        except OSError:
            if code == 250:
                raise
            # MAIL was refused: its reply is the answer, the RCPTs' do not matter.
        return code, resp, utf8, replies

    @staticmethod
    def _wire(address: str, utf8: bool) -> str | None:
        """The address as it goes on the wire, or None when this server cannot take it."""
        wire = ascii_address(address)
        if wire is None and not utf8:
            return None
        return wire or address

    def _recipients(
        self, conn: smtplib.SMTP, recipients: list[str], utf8: bool, replies: Replies | None
    ) -> RecipientAnswers:
        answers = RecipientAnswers()
        for address in recipients:
            wire = self._wire(address, utf8)
            if wire is None:
                answers.refused[address] = NO_SMTPUTF8
                continue
            if replies is not None:
                if address not in replies:  # after a 421: the session is gone
                    continue
                code, resp = replies[address]
            else:
                try:
                    code, resp = conn.rcpt(wire)
                except OSError as exc:
                    raise self._lost(exc) from None
            if code in (250, 251):
                answers.accepted.append(address)
                continue
            reply = self.scrub.reply(code, resp)
            if code == 421:  # the server closes the session: not about this address
                self.connection.drop()
                raise sender_signal(code, reply)
            if 400 <= code < 500:
                answers.deferred[address] = reply
            else:
                answers.refused[address] = reply
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

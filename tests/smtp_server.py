"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording, misbehaving on demand.

    with SmtpServer() as server:                     # plain, no AUTH
        server.reply_at_rcpt("a@example.com", "451 4.3.0 Try later", times=1)
        transport = SmtpTransport(server.settings(), None)
        ...
        assert server.messages[0].rcpt_tos == ["a@example.com"]

Options: ``auth=(user, password)`` requires AUTH (PLAIN/LOGIN); ``xoauth2=(user, tokens)``
requires AUTH XOAUTH2 with one of ``tokens`` and offers nothing else, as Microsoft 365 does
once basic authentication is off (``tokens_presented`` lists what clients sent);
``starttls=True``
offers STARTTLS with a self-signed certificate for 127.0.0.1 (trust it with
``server.client_context()``); ``implicit_tls=True`` speaks TLS from the first byte
(port-465 style). Without ``starttls`` no STARTTLS is offered.

Faults (each ``times`` = how many times, ``None`` = always): ``reply_at_mail``,
``reply_at_rcpt(address, ...)``, ``drop_at_rcpt``, ``hang_at_rcpt``, ``reply_at_data``
(the final reply after the content), ``drop_at_data`` (after the content, before the reply),
``hang_at_data`` (no reply for ``seconds``), ``cut_in_data(*numbers)`` (354, then the
connection closes: the final "." never arrives); ``max_recipients=N`` answers
"452 4.5.3 Too many recipients" after N RCPTs in one transaction; ``smtputf8=True`` offers
SMTPUTF8. Counters: ``connections``,
``mail_attempts``, ``rcpt_attempts[address]``, ``data_attempts``, ``auth_attempts``;
``rcpt_senders[address]``: the envelope sender of each RCPT for it.
``disconnect_all()`` hangs up on every client, as an idle timeout would.
PIPELINING is offered unless ``pipelining=False``.
``echo_credentials=True`` (with ``auth``) refuses every login with a 535 that quotes the
user and password it received, and their AUTH PLAIN base64, as some servers' debug modes do.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from rotomail.delivery.mailer import SmtpSettings

HOST = "127.0.0.1"
FAST_BACKOFF = (0.01, 0.02, 0.04)


def free_port() -> int:
    """aiosmtpd cannot bind port 0: ask the OS for a free port first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@functools.cache
def self_signed_cert() -> tuple[Path, Path]:
    """(cert.pem, key.pem) for CN/SAN 127.0.0.1 and localhost, made once per process."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="rotomail-tls-"))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float = field(default_factory=time.monotonic)  # when the final 250 was given

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Fault:
    reply: str | None = None  # e.g. "451 4.3.0 Try again later"
    drop: bool = False  # close the connection instead of answering
    hang: float = 0.0  # seconds without an answer
    times: int | None = 1  # None = every time

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


def _take(faults: list[Fault]) -> Fault | None:
    for fault in faults:
        if fault.take():
            return fault
    return None


@dataclass
class _Handler:
    owner: SmtpServer

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 as Microsoft 365 and Gmail answer it: on a bad token, a 334 with
        the error in JSON, then 535 once the client sends its empty line."""
        owner = self.owner
        owner.auth_attempts += 1
        if owner.xoauth2 is None or len(args) != 2:
            return AuthResult(success=False, handled=False)
        try:
            fields = base64.b64decode(args[1], validate=True).decode().split("\x01")
        except ValueError:
            await server.push("501 5.5.2 Can't decode base64")
            return AuthResult(success=False, handled=True)
        user, tokens = owner.xoauth2
        token = fields[1].removeprefix("auth=Bearer ") if len(fields) == 4 else ""
        owner.tokens_presented.append(token)
        if fields[0] == f"user={user}" and token in tokens and fields[2:] == ["", ""]:
            return AuthResult(success=True)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False)

    async def _apply(self, fault: Fault | None) -> str | None:
        if fault is None:
            return None
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.drop or fault.hang:
            raise ConnectionResetError("test server dropped the connection")
        return fault.reply

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.owner.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.mail_attempts += 1
        reply = await self._apply(_take(self.owner.mail_faults))
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.owner.rcpt_attempts[address.lower()] += 1
        self.owner.rcpt_senders[address.lower()].append(str(envelope.mail_from))
        reply = await self._apply(_take(self.owner.rcpt_faults.get(address.lower(), [])))
        if reply:
            return reply
        limit = self.owner.max_recipients
        if limit and len(envelope.rcpt_tos) >= limit:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.owner.data_attempts += 1
        reply = await self._apply(_take(self.owner.data_faults))
        if reply:
            return reply
        data = envelope.original_content or b""
        self.owner.messages.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(data))
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.owner.messages)}"


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP with one more fault: DATA cut before its final "." (``smtp_DATA`` is
    aiosmtpd's documented per-command method)."""

    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    async def smtp_DATA(self, arg: str) -> None:
        if not self.envelope.rcpt_tos:
            await super().smtp_DATA(arg)
            return
        self.owner.data_commands += 1
        if self.owner.data_commands in self.owner.cut_at:
            self.owner.data_attempts += 1
            self.owner.cuts += 1
            if self.transport is not None:
                # The reply and the end of the connection in one TCP segment (corked), so
                # the connection is over before the client can write the content's end.
                sock = self.transport.get_extra_info("socket")
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                self.transport.write_eof()
                self.transport.close()
            return
        await super().smtp_DATA(arg)


class _CountingController(Controller):
    def __init__(self, owner: SmtpServer, *args: Any, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def factory(self) -> SMTP:
        self.owner.connections += 1
        with warnings.catch_warnings():  # "AUTH without TLS" is what a test wants
            warnings.simplefilter("ignore")
            protocol = _FaultySMTP(self.owner, self.handler, **self.SMTP_kwargs)
        self.owner._protocols.append(protocol)
        return protocol


@dataclass
class SmtpServer:
    auth: tuple[str, str] | None = None
    xoauth2: tuple[str, set[str]] | None = None
    starttls: bool = False
    implicit_tls: bool = False
    smtputf8: bool = False  # offer SMTPUTF8 (addresses with accents before the @)
    max_recipients: int = 0  # RCPTs per transaction before "452 4.5.3"; 0 = no limit
    echo_credentials: bool = False  # refuse every login, quoting the credentials received
    pipelining: bool = True  # offer PIPELINING (RFC 2920), as Postfix, Exchange, Gmail do

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    mail_attempts: int = 0
    data_attempts: int = 0
    cuts: int = 0  # DATA cut before the final "."
    data_commands: int = 0  # DATA commands after an accepted RCPT
    cut_at: set[int] = field(default_factory=set)  # which of them are cut
    auth_attempts: int = 0
    tokens_presented: list[str] = field(default_factory=list)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    rcpt_senders: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    mail_faults: list[Fault] = field(default_factory=list)
    rcpt_faults: dict[str, list[Fault]] = field(default_factory=dict)
    data_faults: list[Fault] = field(default_factory=list)
    _controller: Controller | None = None
    _protocols: list[SMTP] = field(default_factory=list)

    host = HOST

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {
            "hostname": HOST,
            "server_hostname": "smtp.example.com",
            "enable_SMTPUTF8": self.smtputf8,
        }
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.starttls,
            )
        if self.xoauth2 is not None:
            kwargs.update(
                auth_required=True,
                auth_require_tls=self.starttls,
                auth_exclude_mechanism=["PLAIN", "LOGIN"],
            )
        else:
            kwargs["auth_exclude_mechanism"] = ["XOAUTH2"]
        if self.starttls:
            kwargs["tls_context"] = self._server_context()
        if self.implicit_tls:
            kwargs["ssl_context"] = self._server_context()
        for _ in range(5):  # another process may grab the free port in between
            self.port = free_port()
            controller = _CountingController(self, _Handler(self), port=self.port, **kwargs)
            try:
                controller.start()
            except OSError:
                continue
            self._controller = controller
            self.connections = 0  # Controller.start() opened one to check the server
            return self
        raise RuntimeError("no free port for the test SMTP server")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def disconnect_all(self) -> None:
        """Close every open connection from the server side (an idle timeout, a restart)."""
        assert self._controller is not None
        done = threading.Event()

        def close() -> None:
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            done.set()

        self._controller.loop.call_soon_threadsafe(close)
        done.wait(5)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- TLS and AUTH ---------------------------------------------------------------

    @staticmethod
    def _server_context() -> ssl.SSLContext:
        cert, key = self_signed_cert()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    @staticmethod
    def client_context() -> ssl.SSLContext:
        """A verifying client context that trusts the test certificate."""
        cert, _ = self_signed_cert()
        return ssl.create_default_context(cafile=str(cert))

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.auth_attempts += 1
        if self.auth is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        if self.echo_credentials:
            login, secret = data.login.decode(), data.password.decode()
            plain = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
            return AuthResult(
                success=False,
                handled=False,
                message=f"535 5.7.8 Authentication failed for {login} / {secret} [{plain}]",
            )
        ok = data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    # -- faults ---------------------------------------------------------------------

    def reply_at_mail(self, reply: str, times: int | None = 1) -> None:
        self.mail_faults.append(Fault(reply=reply, times=times))

    def reply_at_rcpt(self, address: str, reply: str, times: int | None = None) -> None:
        self.rcpt_faults.setdefault(address.lower(), []).append(Fault(reply=reply, times=times))

    def drop_at_rcpt(self, address: str, times: int | None = 1) -> None:
        self.rcpt_faults.setdefault(address.lower(), []).append(Fault(drop=True, times=times))

    def hang_at_rcpt(self, address: str, seconds: float = 5.0, times: int | None = 1) -> None:
        self.rcpt_faults.setdefault(address.lower(), []).append(Fault(hang=seconds, times=times))

    def reply_at_data(self, reply: str, times: int | None = 1) -> None:
        """The final reply after the content, for the first ``times`` messages."""
        self.data_faults.append(Fault(reply=reply, times=times))

    def drop_at_data(self, times: int | None = 1) -> None:
        """Content received, then the connection closes without a reply."""
        self.data_faults.append(Fault(drop=True, times=times))

    def cut_in_data(self, *numbers: int) -> None:
        """The DATA commands with these numbers (1 = the next one) get 354, then the
        connection closes before the content's final "." arrives."""
        self.cut_at |= {self.data_commands + n for n in numbers or (1,)}

    def hang_at_data(self, seconds: float = 5.0, times: int | None = 1) -> None:
        """Content received, then no reply for ``seconds`` (then the connection closes)."""
        self.data_faults.append(Fault(hang=seconds, times=times))

    # -- client settings ------------------------------------------------------------

    def settings(self, **overrides: Any) -> SmtpSettings:
        """SmtpSettings pointing here, fast: no rate limit, tiny backoff, short timeout."""
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "security": "ssl" if self.implicit_tls else "starttls" if self.starttls else "none",
            "user": self.auth[0] if self.auth else self.xoauth2[0] if self.xoauth2 else "",
            "auth": "xoauth2" if self.xoauth2 else "password",
            "timeout": 5.0,
            "rate_per_minute": 0,
            "backoff": FAST_BACKOFF,
        }
        values.update(overrides)
        return SmtpSettings(**values)


def assert_never_shown(exc: BaseException, transport: object, *secrets: str) -> None:
    """None of ``secrets`` in the error's text, repr, reply, args or traceback, nor in the
    transport's repr: what a user or a log could ever print."""
    import traceback

    formatted = "".join(traceback.format_exception(exc))
    texts = [str(exc), repr(exc), str(getattr(exc, "reply", "")), str(exc.args), formatted]
    for text in [*texts, repr(transport)]:
        for secret in secrets:
            assert secret not in text

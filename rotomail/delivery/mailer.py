"""Delivering e-mails: SMTP or an outbox folder of .eml files.

SMTP delivery follows ../shared/reference/delivery.md: one reused authenticated
connection, the conversation done step by step so the caller can record a message as in
flight right before DATA, 4xx retried with backoff, 5xx never retried, and a break after
the message content was sent reported as :class:`Uncertain`, never retried.
"""

from __future__ import annotations

import base64
import os
import random
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Protocol

from rotomail.config import SECURITY_MODES
from rotomail.delivery.messages import PreparedMessage, clean_line, prepare
from rotomail.errors import DataError, RotomailError
from rotomail.ids import safe_filename_part

# ---------------------------------------------------------------------------------------
# Delivery results and errors
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    accepted: list[str]
    refused: dict[str, str]  # address -> the server's reply for it
    reply: str  # the final reply, e.g. "250 2.0.0 Ok: queued as ABC"


class SendError(RotomailError):
    """A message was not (or maybe not) delivered. ``reply`` is the server's text or reason."""

    exit_code = 1

    def __init__(self, reply: str, message: str | None = None) -> None:
        super().__init__(message or reply)
        self.reply = reply


class TemporaryFailure(SendError):
    """4xx (or a broken connection before DATA) on every attempt."""


class PermanentFailure(SendError):
    """5xx: not retried."""


class Uncertain(SendError):
    """The connection broke after the message content was sent: it may have gone out."""


class AuthenticationFailed(SendError):
    """The server refused the login: stop the run."""

    exit_code = 2


class ConfigurationError(SendError):
    """Unsafe or impossible configuration (no STARTTLS, bad certificate, no password)."""

    exit_code = 2


class DailyCapReached(SendError):
    """``daily_cap`` messages were already sent today."""


# Failures that would repeat for every customer: the run stops, untried customers stay
# pending for the next run.
RUN_STOPPERS = (AuthenticationFailed, ConfigurationError, DailyCapReached)


class Transport(Protocol):
    def send(
        self,
        msg: Message | PreparedMessage,
        *,
        before_data: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Delivery: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Close at once, without waiting for the server (a run stopped mid-transaction)."""


# ---------------------------------------------------------------------------------------
# Outbox: .eml files
# ---------------------------------------------------------------------------------------


def _make_private_dir(folder: Path) -> None:
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)


class OutboxTransport:
    """Writes each message as ``<folder>/<name>.eml`` (folder 0700, files 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(
        self,
        msg: Message | PreparedMessage,
        *,
        before_data: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Delivery:
        prepared = prepare(msg, name)
        recipients, data = prepared.recipients, prepared.data
        stem = prepared.name or prepared.message_id or "mensaje"
        _make_private_dir(self.folder)
        if before_data is not None:
            before_data()
        path = self._write(safe_filename_part(stem), data)
        return Delivery(accepted=recipients, refused={}, reply=f"outbox: {path}")

    def _write(self, stem: str, data: bytes) -> Path:
        for n in range(1, 10_000):
            path = self.folder / (f"{stem}.eml" if n == 1 else f"{stem}-{n}.eml")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return path
        raise DataError(f"Demasiados archivos {stem}-*.eml en {self.folder}.")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


# ---------------------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------------------

_THROTTLE = re.compile(r"too many|throttl|rate.?limit|\b4\.7\.\d+|\b4\.5\.3\b", re.IGNORECASE)
_MAX_THROTTLE_WAIT = 300.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
    auth: str = "password"  # password | xoauth2
    timeout: float = 30.0
    rate_per_minute: int = 30  # 0 = unlimited
    max_per_connection: int = 100  # 0 = unlimited
    attempts: int = 3  # tries per message for temporary failures (first try included)
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0)  # waits between tries, jittered +-20 %
    daily_cap: int = 0  # messages per transport (seed with sent_today); 0 = no cap
    throttle_retries: int = 5  # extra, slower tries when the relay says "too many"


class RateLimiter:
    """At most ``per_minute`` messages a minute: a fixed interval between sends."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval

    def slow_down(self, minimum: float) -> None:
        """The relay is throttling us: double the interval (at least ``minimum``, at most 60 s)."""
        self.interval = min(max(self.interval * 2, minimum), 60.0)


class _Retry(Exception):
    """Internal: a temporary failure of one attempt."""

    def __init__(self, reply: str, *, throttle: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.throttle = throttle


class _Secret:
    """Holds the password; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def _dot_stuff(data: bytes) -> bytes:
    data = re.sub(rb"\r\n|\n|\r", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpTransport:
    """smtplib, one authenticated connection reused for many messages.

    ``clock``, ``sleep`` and ``rng`` are injectable for tests; ``sent_today`` seeds the
    daily cap with what the database says was already sent today.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        sent_today: int = 0,
        oauth_token: Callable[[], str] | None = None,
    ) -> None:
        """``password`` for ``auth = "password"``; ``oauth_token`` (called for every new
        connection: tokens are short-lived) for ``auth = "xoauth2"``."""
        if settings.security not in SECURITY_MODES:
            raise ConfigurationError(
                clean_line(settings.security),
                f"smtp.security = «{clean_line(settings.security)}» no es válido; "
                "use starttls, ssl o none.",
            )
        self.settings = settings
        self._password = _Secret(password)
        self._oauth_token = oauth_token
        self._token = _Secret(None)  # the token of the current connection, for _scrub
        self._ssl_context = ssl_context
        self._sleep = sleep
        self._rng = rng
        self._limiter = RateLimiter(settings.rate_per_minute, clock=clock, sleep=sleep)
        self._conn: smtplib.SMTP | None = None
        self._on_connection = 0
        self.sent = sent_today
        self.connections = 0  # connections opened, for the log and tests

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"SmtpTransport(host={s.host!r}, port={s.port}, "
            f"security={s.security!r}, user={s.user!r})"
        )

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------------------

    def send(
        self,
        msg: Message | PreparedMessage,
        *,
        before_data: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Delivery:
        """Deliver one message; see the module docstring for how each fault is handled."""
        prepared = prepare(msg, name)
        envelope_from, recipients = prepared.envelope_from, prepared.recipients
        data = _dot_stuff(prepared.data)
        cap = self.settings.daily_cap
        if cap and self.sent >= cap:
            raise DailyCapReached(
                f"daily cap {cap}",
                f"Se alcanzó el límite diario de {cap} mensajes (smtp.daily_cap).",
            )
        self._limiter.wait()
        failures = throttled = 0
        while True:
            try:
                delivery = self._attempt(envelope_from, recipients, data, before_data)
            except _Retry as retry:
                if retry.throttle and throttled < self.settings.throttle_retries:
                    throttled += 1
                    self._limiter.slow_down(self._backoff_base(0))
                    self._sleep(self._throttle_wait(throttled))
                    continue
                failures += 1
                if failures >= max(1, self.settings.attempts):
                    tries = failures + throttled
                    raise TemporaryFailure(
                        retry.reply,
                        f"Error temporal tras {tries} intento(s): {retry.reply}",
                    ) from None
                self._sleep(self._jitter(self._backoff_base(failures - 1)))
                continue
            self.sent += 1
            self._on_connection += 1
            return delivery

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()

    def abort(self) -> None:
        self._drop()

    # -- waits ----------------------------------------------------------------------

    def _backoff_base(self, index: int) -> float:
        waits = self.settings.backoff or (1.0,)
        return waits[min(index, len(waits) - 1)]

    def _jitter(self, seconds: float) -> float:
        return seconds * (0.8 + 0.4 * self._rng())

    def _throttle_wait(self, n: int) -> float:
        return min(
            self._jitter(self._backoff_base(len(self.settings.backoff)) * 2**n), _MAX_THROTTLE_WAIT
        )

    # -- replies --------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Remove the password or token (and their AUTH encodings) from anything a server
        echoes."""
        user = self.settings.user
        forms: set[str] = set()
        secret = self._password.reveal()
        if secret:
            forms |= {
                secret,
                base64.b64encode(secret.encode()).decode(),
                base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
            }
        token = self._token.reveal()
        if token:
            initial = f"user={user}\x01auth=Bearer {token}\x01\x01"
            forms |= {token, base64.b64encode(initial.encode()).decode()}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text

    def _reply(self, code: int, resp: bytes | str) -> str:
        text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
        return self._scrub(clean_line(f"{code} {text}"))

    def _temporary_or_permanent(self, code: int, reply: str) -> Exception:
        """Classify a refusal at MAIL or DATA and leave the connection reusable (or dropped)."""
        if code == 421:  # the server is closing the channel
            self._drop()
        else:
            self._reset()
        if 400 <= code < 500:
            return _Retry(reply, throttle=bool(_THROTTLE.search(reply)))
        return PermanentFailure(reply, f"Rechazo permanente del servidor: {reply}")

    # -- connection -----------------------------------------------------------------

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _reset(self) -> None:
        """RSET after a refused transaction so the connection can be reused."""
        if self._conn is None:
            return
        try:
            code, _ = self._conn.rset()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self._drop()

    def _connection(self) -> smtplib.SMTP:
        limit = self.settings.max_per_connection
        if self._conn is not None and limit and self._on_connection >= limit:
            self.close()
        if self._conn is None:
            self._conn = self._open()
            self._on_connection = 0
            self.connections += 1
        return self._conn

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            self._handshake(conn, where)
            return conn
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def _handshake(self, conn: smtplib.SMTP, where: str) -> None:
        s = self.settings
        try:
            code, resp = conn.ehlo()
            if code != 250:
                raise smtplib.SMTPHeloError(code, resp)
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise ConfigurationError(
                        f"{where}: STARTTLS not offered",
                        f"El servidor {where} no ofrece STARTTLS: no se envía la contraseña "
                        "sin cifrar. Revise smtp.security (ssl para el puerto 465).",
                    )
                conn.starttls(context=self._context())
                conn.ehlo()
            if s.user and s.auth == "xoauth2":
                self._login_xoauth2(conn, where)
            elif s.user:
                password = self._password.reveal()
                if not password:
                    raise ConfigurationError(
                        "no password",
                        f"Falta la contraseña SMTP de {s.user}@{s.host}: use "
                        "ROTOMAIL_SMTP_PASSWORD o `rotomail config set-password`.",
                    )
                conn.login(s.user, password)
        except smtplib.SMTPAuthenticationError as exc:
            reply = self._reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Retry(reply, throttle=True) from None
            what = "el token OAuth2" if s.auth == "xoauth2" else "el usuario o la contraseña"
            raise AuthenticationFailed(
                reply, f"El servidor {where} rechazó {what} de {s.user}: {reply}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ConfigurationError(
                f"{where}: AUTH not offered",
                f"El servidor {where} no ofrece autenticación (AUTH); revise smtp.security "
                "y smtp.user.",
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise ConfigurationError(
                f"{where}: {exc.verify_message}",
                f"El certificado TLS de {where} no es válido ({exc.verify_message}); "
                "no se envía nada.",
            ) from None
        except smtplib.SMTPResponseException as exc:
            reply = self._reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Retry(reply, throttle=bool(_THROTTLE.search(reply))) from None
            raise ConfigurationError(
                reply, f"El servidor {where} rechazó la conexión: {reply}"
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Retry(self._scrub(f"conexión con {where} cortada: {exc}")) from None
        except smtplib.SMTPException as exc:  # e.g. no usable AUTH mechanism
            raise ConfigurationError(
                self._scrub(str(exc)), f"El servidor {where}: {self._scrub(str(exc))}"
            ) from None
        except OSError as exc:  # timeouts, resets, TLS errors
            raise _Retry(self._scrub(f"conexión con {where} fallida: {exc}")) from None

    def _login_xoauth2(self, conn: smtplib.SMTP, where: str) -> None:
        """SASL XOAUTH2 with a fresh token from the administrator's command."""
        from rotomail.delivery.secrets import OAuthTokenError

        mechanisms = conn.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in mechanisms:
            raise ConfigurationError(
                f"{where}: XOAUTH2 not offered",
                f"El servidor {where} no ofrece XOAUTH2 (ofrece: "
                f"{' '.join(mechanisms) or 'ninguno'}); revise smtp.auth.",
            )
        if self._oauth_token is None:
            raise ConfigurationError(
                "no token command",
                "smtp.auth = xoauth2 necesita smtp.oauth_token_command.",
            )
        try:
            token = self._oauth_token()
        except OAuthTokenError as exc:
            raise AuthenticationFailed(str(exc), str(exc)) from None
        self._token = _Secret(token)
        initial = f"user={self.settings.user}\x01auth=Bearer {token}\x01\x01"

        def respond(challenge: bytes | None = None) -> str:
            # After a refusal the server sends a 334 with its error details (JSON) and
            # waits for an empty line before its final 535.
            return initial if challenge is None else ""

        conn.auth("XOAUTH2", respond, initial_response_ok=True)

    def _open_checked(self) -> smtplib.SMTP:
        """Connect; a refused greeting (SMTPConnectError) or network error is classified."""
        where = f"{self.settings.host}:{self.settings.port}"
        try:
            return self._connection()
        except smtplib.SMTPConnectError as exc:
            reply = self._reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Retry(reply, throttle=bool(_THROTTLE.search(reply))) from None
            raise ConfigurationError(
                reply, f"El servidor {where} rechazó la conexión: {reply}"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise ConfigurationError(
                f"{where}: {exc.verify_message}",
                f"El certificado TLS de {where} no es válido ({exc.verify_message}); "
                "no se envía nada.",
            ) from None
        except OSError as exc:
            raise _Retry(f"conexión con {where} fallida: {exc}") from None

    # -- one attempt ----------------------------------------------------------------

    def _lost(self, exc: BaseException) -> _Retry:
        self._drop()
        return _Retry(self._scrub(f"conexión perdida antes de DATA: {exc}"))

    def _attempt(
        self,
        envelope_from: str,
        recipients: list[str],
        data: bytes,
        before_data: Callable[[], None] | None,
    ) -> Delivery:
        reused = self._conn is not None
        conn = self._open_checked()
        try:
            code, resp = conn.mail(envelope_from)
        except OSError as exc:
            if not reused:
                raise self._lost(exc) from None
            self._drop()  # an idle connection the server closed: reconnect once, silently
            conn = self._open_checked()
            try:
                code, resp = conn.mail(envelope_from)
            except OSError as exc2:
                raise self._lost(exc2) from None
        if code != 250:
            reply = self._reply(code, resp)
            if code == 530:
                self._drop()
                raise AuthenticationFailed(
                    reply, f"El servidor exige autenticación (configure smtp.user): {reply}"
                )
            raise self._temporary_or_permanent(code, reply)

        accepted, refused, codes = self._recipients(conn, recipients)
        if not accepted:
            temporary = [(c, r) for c, r in codes if 400 <= c < 500]
            if temporary:
                self._reset()
                raise _Retry(
                    temporary[0][1], throttle=any(_THROTTLE.search(r) for _, r in temporary)
                )
            self._reset()
            reply = (
                "; ".join(f"{a}: {r}" for a, r in refused.items())
                if len(refused) > 1
                else codes[0][1]
            )
            raise PermanentFailure(reply, f"Todas las direcciones fueron rechazadas: {reply}")

        if before_data is not None:
            try:
                before_data()
            except BaseException:
                self._reset()
                raise
        return self._data(conn, accepted, refused, data)

    def _recipients(
        self, conn: smtplib.SMTP, recipients: list[str]
    ) -> tuple[list[str], dict[str, str], list[tuple[int, str]]]:
        accepted: list[str] = []
        refused: dict[str, str] = {}
        codes: list[tuple[int, str]] = []
        for address in recipients:
            try:
                code, resp = conn.rcpt(address)
            except OSError as exc:
                raise self._lost(exc) from None
            if code in (250, 251):
                accepted.append(address)
                continue
            reply = self._reply(code, resp)
            if code == 421:
                self._drop()
                raise _Retry(reply, throttle=bool(_THROTTLE.search(reply)))
            refused[address] = reply
            codes.append((code, reply))
        return accepted, refused, codes

    def _data(
        self, conn: smtplib.SMTP, accepted: list[str], refused: dict[str, str], data: bytes
    ) -> Delivery:
        try:
            conn.putcmd("data")
            code, resp = conn.getreply()
        except OSError as exc:
            # No content was sent: the server cannot have a message to deliver.
            raise self._lost(exc) from None
        if code != 354:
            raise self._temporary_or_permanent(code, self._reply(code, resp))
        try:
            conn.send(data)
            code, resp = conn.getreply()
        except OSError as exc:
            self._drop()
            reason = self._scrub(f"la conexión se cortó después de enviar el mensaje: {exc}")
            raise Uncertain(
                reason, f"Incierto: {reason}; no se reintenta automáticamente."
            ) from None
        reply = self._reply(code, resp)
        if code != 250:
            raise self._temporary_or_permanent(code, reply)
        return Delivery(accepted=accepted, refused=refused, reply=reply)


__all__ = [
    "RUN_STOPPERS",
    "AuthenticationFailed",
    "ConfigurationError",
    "DailyCapReached",
    "Delivery",
    "OutboxTransport",
    "PermanentFailure",
    "RateLimiter",
    "SendError",
    "SmtpSettings",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "Uncertain",
]

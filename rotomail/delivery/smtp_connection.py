"""One SMTP session at a time: connect, TLS, authentication (password or XOAUTH2), reuse for
up to ``max_per_connection`` messages, reconnect. Knows nothing of messages.

Failures are classified here: a refused login or an unusable TLS set-up is a configuration
error (stop the run), anything network-shaped a :class:`TryAgain` with ``connect=True``.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from rotomail.config import SECURITY_MODES
from rotomail.delivery.messages import clean_line
from rotomail.delivery.results import AuthenticationFailed, ConfigurationError
from rotomail.delivery.secrets import (
    OAuthTokenError,
    hide,
    password_forms,
    secret_pattern,
    token_forms,
)
from rotomail.delivery.smtp_policy import TryAgain, names_rate
from rotomail.words import with_code


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

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class Secret:
    """Holds the password or token; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class Scrubber:
    """Removes the password or token from what a server echoes: as given, base64-encoded
    as AUTH sends it, and in any rendering with its whitespace changed
    (``secrets.secret_pattern``) — before anything else touches the text."""

    def __init__(self, user: str, password: Secret) -> None:
        self.user = user
        self.password = password
        self._token = Secret(None)  # the current connection's token
        secret = password.reveal()
        self._pattern = secret_pattern(password_forms(user, secret) if secret else [])

    @property
    def token(self) -> Secret:
        return self._token

    @token.setter
    def token(self, value: Secret) -> None:
        self._token = value
        secret, token = self.password.reveal(), value.reveal()
        forms = password_forms(self.user, secret) if secret else []
        forms += token_forms(self.user, token) if token else []
        self._pattern = secret_pattern(forms)

    def __call__(self, text: str) -> str:
        return hide(self._pattern, text)

    def reply(self, code: int, resp: bytes | str) -> str:
        """A server's reply as one clean line: scrubbed first (a password echoed with a
        double blank or a tab is still the password), then cleaned, then scrubbed again."""
        text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
        return self(clean_line(self(with_code(code, text))))


def _bad_certificate(where: str, exc: ssl.SSLCertVerificationError) -> ConfigurationError:
    return ConfigurationError(
        f"{where}: {exc.verify_message}",
        f"El certificado TLS de {where} no es válido ({exc.verify_message}); no se envía nada.",
    )


class SmtpConnection:
    """The reused, authenticated session; ``get()`` opens one when needed."""

    def __init__(
        self,
        settings: SmtpSettings,
        password: Secret,
        scrub: Scrubber,
        *,
        ssl_context: ssl.SSLContext | None = None,
        oauth_token: Callable[[], str] | None = None,
    ) -> None:
        if settings.security not in SECURITY_MODES:
            raise ConfigurationError(
                clean_line(settings.security),
                f"smtp.security = «{clean_line(settings.security)}» no es válido; "
                "use starttls, ssl o none.",
            )
        self.settings = settings
        self._password = password
        self._scrub = scrub
        self._ssl_context = ssl_context
        self._oauth_token = oauth_token
        self.conn: smtplib.SMTP | None = None
        self.messages = 0  # messages sent on the current session
        self.opened = 0  # sessions opened, for the log and tests
        self.server_limit = 0  # messages per session the server allows, once it said so

    @property
    def is_open(self) -> bool:
        return self.conn is not None

    def get(self) -> smtplib.SMTP:
        """The session, reopened after ``max_per_connection`` messages; failures classified."""
        limits = [n for n in (self.settings.max_per_connection, self.server_limit) if n]
        limit = min(limits, default=0)
        if self.conn is not None and limit and self.messages >= limit:
            self.close()
        if self.conn is None:
            self.conn = self._open_checked()
            self.messages = 0
            self.opened += 1
        return self.conn

    def limit_reached(self) -> None:
        """The server refused more messages on this session ("421 4.7.0 Too many messages
        per connection"): later sessions carry no more than this one did."""
        if self.messages:
            self.server_limit = self.messages

    def close(self) -> None:
        """QUIT politely."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()

    def drop(self) -> None:
        """Close without QUIT: the session is broken, the server is closing it, or the run
        stops. The socket is shut down first: a thread blocked reading a reply on it wakes
        at once (closing alone does not wake it)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        conn.close()

    def reset(self) -> None:
        """RSET after a refused transaction so the session can be reused."""
        if self.conn is None:
            return
        try:
            code, _ = self.conn.rset()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self.drop()

    # -- opening ----------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _refused(self, exc: smtplib.SMTPResponseException) -> TryAgain | ConfigurationError:
        """A server that answered with an error while connecting: 4xx is worth another
        try later, 5xx is a refusal that will not change by itself."""
        reply = self._scrub.reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return TryAgain(reply, throttle=names_rate(reply), connect=True)
        return ConfigurationError(
            reply, f"El servidor {self.settings.where} rechazó la conexión: {reply}"
        )

    def _open_checked(self) -> smtplib.SMTP:
        where = self.settings.where
        try:
            return self._open()
        except smtplib.SMTPConnectError as exc:  # the greeting was not 220
            raise self._refused(exc) from None
        except ssl.SSLCertVerificationError as exc:
            raise _bad_certificate(where, exc) from None
        except OSError as exc:  # refused, timed out, reset
            raise TryAgain(f"conexión con {where} fallida: {exc}", connect=True) from None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if conn.sock is not None:
                # Commands are small writes that wait for a reply (and DATA's final "." a
                # separate one): never let Nagle's algorithm hold them back for an ACK.
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._handshake(conn, s.where)
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
            reply = self._scrub.reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:  # "454 4.7.0 Too many login attempts"
                raise TryAgain(reply, throttle=names_rate(reply)) from None
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
            raise _bad_certificate(where, exc) from None
        except smtplib.SMTPResponseException as exc:
            raise self._refused(exc) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TryAgain(
                self._scrub(f"conexión con {where} cortada: {exc}"), connect=True
            ) from None
        except smtplib.SMTPException as exc:  # e.g. no usable AUTH mechanism
            raise ConfigurationError(
                self._scrub(str(exc)), f"El servidor {where}: {self._scrub(str(exc))}"
            ) from None
        except OSError as exc:  # timeouts, resets, TLS errors
            raise TryAgain(
                self._scrub(f"conexión con {where} fallida: {exc}"), connect=True
            ) from None

    def _login_xoauth2(self, conn: smtplib.SMTP, where: str) -> None:
        """SASL XOAUTH2 with a fresh token from the administrator's command."""
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
        self._scrub.token = Secret(token)
        initial = f"user={self.settings.user}\x01auth=Bearer {token}\x01\x01"

        def respond(challenge: bytes | None = None) -> str:
            # After a refusal the server sends a 334 with its error details (JSON) and
            # waits for an empty line before its final 535.
            return initial if challenge is None else ""

        conn.auth("XOAUTH2", respond, initial_response_ok=True)

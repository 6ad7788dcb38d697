"""Build the statement and run-log e-mails and deliver them: SMTP or an outbox folder.

Templates (``string.Template``, ``$name``) live in ``rotomail/templates/<lang>/`` and an
admin overrides any of them with ``ROTOMAIL_HOME/templates/<lang>/<name>``. Variables:

* ``statement.subject`` / ``statement.txt`` / ``statement.html``: ``company`` (legal
  name), ``customer``, ``phone``, ``reply_to``, ``rfc``, ``sociedad``, ``filename``; the
  HTML one also ``subject``. Values are escaped for the HTML alternative.
* ``log.subject`` / ``log.txt``: whatever the caller passes to :func:`render_template`
  (the send command uses ``run``, ``operator``, ``date``, ``sociedad``, ``sent``,
  ``failed``, ``skipped``, ``log_name``).

Nothing a user typed is pasted into raw header text: names are reduced to one line
without control characters, addresses with control characters are rejected, and the
``email`` package (policy SMTP) encodes every header.

SMTP delivery follows ../shared/reference/delivery.md: one reused authenticated
connection, the conversation done step by step so the caller can record a message as in
flight right before DATA, 4xx retried with backoff, 5xx never retried, and a break after
the message content was sent reported as :class:`Uncertain`, never retried.
"""

from __future__ import annotations

import base64
import copy
import html
import os
import random
import re
import smtplib
import ssl
import string
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from rotomail.company import LANGUAGES, CompanyProfile
from rotomail.errors import DataError, RotomailError, UsageError
from rotomail.ids import safe_filename_part

DEFAULT_LANGUAGE = "es"
REHEARSAL_PREFIX = "[PRUEBA] "
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP

# ---------------------------------------------------------------------------------------
# Text and address hygiene
# ---------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"{_LOCAL_PART}@{_LABEL}(?:\.{_LABEL})+")
_NAME_ADDR = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")


def clean_line(value: str) -> str:
    """One line of text: control characters (CR, LF, tab, ...) become blanks, runs collapse."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_address(value: str, *, what: str = "correo") -> Address:
    """``user@example.mx`` or ``Name <user@example.mx>``; DataError when it is not valid.

    An address with CR, LF or any control character is rejected, never repaired: it is
    either a typo or an injection attempt, and guessing could mail the wrong party.
    """
    if _CONTROL.search(value):
        raise DataError(f"Dirección de {what} inválida (caracteres de control): {value!r}")
    text = value.strip()
    display = ""
    match = _NAME_ADDR.match(text)
    if match:
        display = clean_line(match.group("name").strip().strip('"'))
        text = match.group("addr").strip()
    if not _ADDR_SPEC.fullmatch(text) or len(text) > 254:
        raise DataError(f"Dirección de {what} inválida: {value!r}")
    local, domain = text.rsplit("@", 1)
    return Address(display_name=display, username=local, domain=domain)


def safe_attachment_name(filename: str, default: str = "adjunto") -> str:
    """A file name that cannot carry a path or a header break: ``../x\\r\\n.pdf`` -> ``x_.pdf``."""
    base = re.split(r"[\\/]", filename)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", clean_line(base)).lstrip("._")
    return base[:150] or default


# ---------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z]+")


class MailTemplate(string.Template):
    """A ``string.Template`` that remembers where it came from (for error messages)."""

    def __init__(self, template: str, source: str) -> None:
        super().__init__(template)
        self.source = source


def load_template(name: str, language: str, override_dir: Path | None = None) -> MailTemplate:
    """``<override_dir>/<lang>/<name>`` when an admin put one there, else the packaged one.

    Files are read once per version (path and modification time), not once per message.
    """
    if not _TEMPLATE_NAME.fullmatch(name):
        raise ValueError(f"invalid template name: {name!r}")
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    if override_dir is not None:
        path = override_dir / lang / name
        if path.is_file():
            return _override_template(path, path.stat().st_mtime_ns)
    return _packaged_template(lang, name)


@lru_cache(maxsize=64)
def _override_template(path: Path, mtime_ns: int) -> MailTemplate:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"No se pudo leer la plantilla {path}: guárdela como texto UTF-8 ({exc})."
        ) from None
    return MailTemplate(text, str(path))


@lru_cache(maxsize=64)
def _packaged_template(lang: str, name: str) -> MailTemplate:
    packaged = resources.files("rotomail").joinpath("templates", lang, name)
    return MailTemplate(packaged.read_text(encoding="utf-8"), f"rotomail/templates/{lang}/{name}")


def render(template: string.Template, values: Mapping[str, str]) -> str:
    """Substitute every ``$name``; a typo in an admin's template is a clear UsageError."""
    source = getattr(template, "source", "(plantilla)")
    try:
        return template.substitute(values)
    except KeyError as exc:
        known = ", ".join(f"${{{key}}}" for key in sorted(values))
        raise UsageError(
            f"La plantilla {source} usa la variable ${{{exc.args[0]}}}, que no existe. "
            f"Variables disponibles: {known}."
        ) from None
    except ValueError:
        raise UsageError(
            f"La plantilla {source} tiene un «$» suelto; escriba $$ para un signo de pesos."
        ) from None


def render_template(
    name: str, language: str, values: Mapping[str, str], override_dir: Path | None = None
) -> str:
    return render(load_template(name, language, override_dir), values)


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------


def _new_message(sender: Address, subject: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["Subject"] = clean_line(subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    return msg


def _rehearsal_note(real_recipients: Iterable[str]) -> str:
    # Addressed to the operator, who reads Spanish whatever the customer's language.
    shown = ", ".join(clean_line(a) for a in real_recipients if clean_line(a)) or "(sin correos)"
    return (
        f"PRUEBA: este mensaje es un ensayo enviado al operador. En el envío real iría a: {shown}"
    )


def _insert_after_body_tag(document: str, fragment: str) -> str:
    match = re.search(r"<body\b[^>]*>", document, re.IGNORECASE)
    if not match:
        return fragment + "\n" + document
    return document[: match.end()] + "\n" + fragment + document[match.end() :]


def build_statement_message(
    company: CompanyProfile,
    customer_name: str,
    to: list[str],
    pdf: bytes,
    filename: str,
    *,
    rehearsal_for: list[str] | None = None,
    override_dir: Path | None = None,
) -> Message:
    """One customer's statement e-mail: text + HTML alternatives and the PDF attached.

    ``rehearsal_for`` (``send --test``): the message goes to ``to`` (the operator); the
    subject is prefixed ``[PRUEBA] `` and the body names the real recipients.
    """
    sender = parse_address(company.sender, what="remitente (sender)")
    reply_to = (
        parse_address(company.reply_to, what="Reply-To") if company.reply_to.strip() else None
    )
    recipients = [parse_address(address, what="destinatario") for address in to]
    if not recipients:
        raise DataError(
            f"El cliente {clean_line(customer_name)!r} no tiene correos a los cuales enviar."
        )
    attachment = safe_attachment_name(filename, default="estado_de_cuenta.pdf")
    language = company.language
    values = {
        "company": clean_line(company.name),
        "customer": clean_line(customer_name),
        "phone": clean_line(company.phone),
        "reply_to": reply_to.addr_spec if reply_to else "",
        "rfc": clean_line(company.rfc),
        "sociedad": clean_line(company.code),
        "filename": attachment,
    }
    subject = clean_line(render_template("statement.subject", language, values, override_dir))
    if rehearsal_for is not None:
        subject = REHEARSAL_PREFIX + subject
    values["subject"] = subject
    text = render_template("statement.txt", language, values, override_dir)
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    html_body = render_template("statement.html", language, escaped, override_dir)
    if rehearsal_for is not None:
        note = _rehearsal_note(rehearsal_for)
        text = f"{note}\n\n{text}"
        html_body = _insert_after_body_tag(
            html_body, f'<p style="color: #b00020;"><strong>{html.escape(note)}</strong></p>'
        )

    # Built with the compat32 MIME classes: for thousands of statements they cost half of
    # EmailMessage's header parsing. Every value was cleaned or parsed above, so nothing
    # here can carry a line break into a header.
    msg = MIMEMultipart("mixed")
    msg["From"] = _header_address(sender)
    msg["To"] = ", ".join(_header_address(address) for address in recipients)
    if reply_to is not None:
        msg["Reply-To"] = _header_address(reply_to)
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    body = MIMEMultipart("alternative")
    # quoted-printable keeps the message 7-bit clean for relays without 8BITMIME.
    body.attach(_text_part(text, "plain"))
    body.attach(_text_part(html_body, "html"))
    msg.attach(body)
    part = MIMEApplication(pdf, "pdf")
    part.add_header("Content-Disposition", "attachment", filename=attachment)
    msg.attach(part)
    return msg


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, _UTF8_QP)
    return part


def _header_address(address: Address) -> str:
    return formataddr((address.display_name, address.addr_spec), charset="utf-8")


def build_log_message(
    sender: str, operator: str, subject: str, body: str, log_path: Path
) -> EmailMessage:
    """The operator's copy of the run log, the .txt file attached."""
    msg = _new_message(parse_address(sender, what="remitente (sender)"), subject)
    msg["To"] = parse_address(operator, what="operador")
    msg.set_content(body, cte="quoted-printable")
    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    msg.add_attachment(
        log_text,
        subtype="plain",
        cte="quoted-printable",
        filename=safe_attachment_name(log_path.name, default="log.txt"),
    )
    return msg


def envelope_of(msg: Message) -> tuple[str, list[str]]:
    """(MAIL FROM, RCPT TO list) from the From, To, Cc and Bcc headers, deduplicated."""
    senders = [addr for _, addr in getaddresses([str(h) for h in msg.get_all("From", [])])]
    if not senders or not senders[0]:
        raise DataError("El mensaje no tiene remitente (From).")
    recipients: list[str] = []
    seen: set[str] = set()
    headers = [str(h) for name in ("To", "Cc", "Bcc") for h in msg.get_all(name, [])]
    for _, addr in getaddresses(headers):
        if addr and addr.lower() not in seen:
            seen.add(addr.lower())
            recipients.append(addr)
    for address in [senders[0], *recipients]:
        parse_address(address)  # control characters or garbage never reach MAIL/RCPT
    if not recipients:
        raise DataError("El mensaje no tiene destinatarios.")
    return senders[0], recipients


@dataclass(frozen=True)
class PreparedMessage:
    """A message serialised once (possibly in another process), ready for any transport."""

    envelope_from: str
    recipients: list[str]
    data: bytes
    message_id: str
    name: str | None = None  # outbox file stem, e.g. the PDF's name without ".pdf"


def prepare(msg: Message | PreparedMessage, name: str | None = None) -> PreparedMessage:
    if isinstance(msg, PreparedMessage):
        return msg
    envelope_from, recipients = envelope_of(msg)
    stem = name or _first_attachment_stem(msg)
    return PreparedMessage(
        envelope_from, recipients, message_bytes(msg), str(msg.get("Message-ID", "")), stem
    )


def message_bytes(msg: Message) -> bytes:
    """The message as sent: CRLF line ends, no Bcc header."""
    if msg.get("Bcc") is not None:
        msg = copy.deepcopy(msg)
        del msg["Bcc"]
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


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


class Transport(Protocol):
    def send(
        self,
        msg: Message | PreparedMessage,
        *,
        before_data: Callable[[], None] | None = None,
        name: str | None = None,
    ) -> Delivery: ...

    def close(self) -> None: ...


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


def _first_attachment_stem(msg: Message) -> str | None:
    for part in msg.walk():
        filename = part.get_filename() if part.get_content_disposition() == "attachment" else None
        if filename:
            return Path(safe_attachment_name(filename)).stem
    return None


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


# ---------------------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------------------

SECURITY_MODES = ("starttls", "ssl", "none")
_THROTTLE = re.compile(r"too many|throttl|rate.?limit|\b4\.7\.\d+|\b4\.5\.3\b", re.IGNORECASE)
_MAX_THROTTLE_WAIT = 300.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | ssl | none
    user: str = ""
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
    ) -> None:
        if settings.security not in SECURITY_MODES:
            raise ConfigurationError(
                clean_line(settings.security),
                f"smtp.security = «{clean_line(settings.security)}» no es válido; "
                "use starttls, ssl o none.",
            )
        self.settings = settings
        self._password = _Secret(password)
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
        """Remove the password (and its AUTH encodings) from anything a server echoes."""
        secret = self._password.reveal()
        if not secret:
            return text
        user = self.settings.user
        forms = {
            secret,
            base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
        }
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
            if s.user:
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
            raise AuthenticationFailed(
                reply, f"El servidor {where} rechazó el usuario o la contraseña: {reply}"
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
    "REHEARSAL_PREFIX",
    "AuthenticationFailed",
    "ConfigurationError",
    "DailyCapReached",
    "Delivery",
    "MailTemplate",
    "OutboxTransport",
    "PermanentFailure",
    "RateLimiter",
    "SendError",
    "SmtpSettings",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "Uncertain",
    "build_log_message",
    "build_statement_message",
    "clean_line",
    "envelope_of",
    "load_template",
    "message_bytes",
    "parse_address",
    "render",
    "render_template",
    "safe_attachment_name",
]

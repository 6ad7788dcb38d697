"""``rotomail bounces``: read the bounce mailbox (IMAP or a local Maildir), match each report
to the delivery it is about, record the outcome per address, and put the report away.

Matching, most certain first: the VERP token in the address the report was delivered to
(``bounce_address+<token>@domain``), the Message-ID of the returned message, then the
failed recipient among the deliveries sent in the week before the report.

Recording: per address ``bounced`` or ``delayed`` with the report's status and diagnostic.
A customer becomes ``bounced`` when every one of its addresses bounced; otherwise it stays
``sent`` and only those addresses show as bounced. Reading a report twice changes nothing.
A matched report is flagged seen and moved (IMAP: to ``processed_folder``; Maildir: to
``cur/`` with the S flag); one that matches nothing stays where it is. Nothing is deleted.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from imap_tools import (
    BaseMailBox,
    ImapToolsError,
    MailBox,
    MailboxMoveError,
    MailBoxStartTls,
    MailBoxUnencrypted,
    MailMessageFlags,
)
from imap_tools.utils import check_command_status, encode_folder
from sqlalchemy import Connection, Engine

from rotomail.config import Settings
from rotomail.delivery.secrets import (
    checked_token_command,
    get_imap_password,
    imap_password_forms,
    scrubbed_reply,
    secret_pattern,
    token_forms,
)
from rotomail.errors import DataError, UsageError
from rotomail.inputs.bounce_reports import BouncedRecipient, BounceReport, parse_report
from rotomail.store import bounces as store
from rotomail.store.bounces import AddressOutcome, SentDelivery
from rotomail.words import AddressStatus, with_code

_VERP_TOKEN = re.compile(r"^[^@+]+\+([a-z0-9]{6,32})@", re.IGNORECASE)


# --- sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawReport:
    key: str  # the source's handle: IMAP UID or Maildir file name
    data: bytes


class ReportSource(Protocol):
    description: str

    def reports(self) -> Iterator[RawReport]: ...

    def done(self, report: RawReport) -> None:
        """Flag the report as processed and move it out of the way (never delete it)."""

    def close(self) -> None: ...


class MaildirSource:
    """A local Maildir (``new/``, ``cur/``, ``tmp/``). Unprocessed reports are those in
    ``new/`` and those in ``cur/`` without the S (seen) flag."""

    def __init__(self, path: Path) -> None:
        if not all((path / sub).is_dir() for sub in ("new", "cur", "tmp")):
            raise UsageError(f"{path} no es una carpeta Maildir (con new/, cur/ y tmp/).")
        self.path = path
        self.description = f"Maildir {path}"

    def reports(self) -> Iterator[RawReport]:
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / sub), key=lambda e: e.name):
                if not entry.is_file() or entry.name.startswith("."):
                    continue
                if sub == "cur" and "S" in _maildir_flags(entry.name):
                    continue
                try:
                    data = Path(entry.path).read_bytes()
                except OSError:
                    continue  # moved or removed by the mail server meanwhile
                yield RawReport(f"{sub}/{entry.name}", data)

    def done(self, report: RawReport) -> None:
        sub, name = report.key.split("/", 1)
        base, _, _ = name.partition(":2,")
        flags = "".join(sorted(set(_maildir_flags(name)) | {"S"}))
        os.replace(self.path / sub / name, self.path / "cur" / f"{base}:2,{flags}")

    def close(self) -> None:
        pass


def _maildir_flags(name: str) -> str:
    _, separator, flags = name.partition(":2,")
    return flags if separator else ""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # ssl | starttls | none
    user: str
    folder: str
    processed_folder: str
    timeout: float = 30.0


class ImapError(DataError):
    """The IMAP server could not be reached, refused us or failed while reading; the
    message is Spanish, the server's text in it scrubbed of the password or token."""


def _server_text(exc: BaseException) -> str:
    """What the server answered, from imaplib's or imap-tools' exception."""
    result = getattr(exc, "command_result", None)  # imap-tools: (status, [data, ...])
    parts = result[1] if isinstance(result, tuple) and len(result) > 1 else exc.args
    if not isinstance(parts, (list, tuple)):
        parts = [parts]
    return " ".join(
        p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p)
        for p in parts
        if p is not None
    )


class ImapSource:
    """A folder of an IMAP mailbox (imap-tools): every message in it is a report to read.
    The password or token is used to log in and kept nowhere else; whatever the server
    answers is scrubbed of every form of it (as given, base64, LOGIN's quoted string, with
    its whitespace changed) before anything else touches the text."""

    def __init__(
        self,
        settings: ImapSettings,
        password: str | None,
        oauth_token: Callable[[], str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.description = (
            f"IMAP {settings.host}:{settings.port}, {settings.user}, carpeta {settings.folder}"
        )
        self._secret = secret_pattern(imap_password_forms(settings.user, password or ""))
        context = ssl_context or ssl.create_default_context()
        self.where = where = f"{settings.host}:{settings.port}"
        box: BaseMailBox
        try:
            if settings.security == "ssl":
                box = MailBox(
                    settings.host, settings.port, timeout=settings.timeout, ssl_context=context
                )
            elif settings.security == "starttls":
                box = MailBoxStartTls(
                    settings.host, settings.port, timeout=settings.timeout, ssl_context=context
                )
            else:
                box = MailBoxUnencrypted(settings.host, settings.port, timeout=settings.timeout)
        except (OSError, ssl.SSLError) as exc:
            raise ImapError(
                f"No se pudo conectar al servidor IMAP {where}: {_reason(exc)}"
            ) from None
        except Exception as exc:  # imap-tools' own errors (e.g. STARTTLS refused)
            raise ImapError(
                f"El servidor IMAP {where} no aceptó la conexión: {_reason(exc)}"
            ) from None
        self.box = box
        try:
            if oauth_token is not None:
                token = oauth_token()
                self._secret = secret_pattern(
                    [
                        *imap_password_forms(settings.user, password or ""),
                        *token_forms(settings.user, token),
                    ]
                )
                box.xoauth2(settings.user, token, initial_folder=settings.folder)
            else:
                box.login(settings.user, password or "", initial_folder=settings.folder)
        except Exception as exc:
            self.close()
            # Some servers echo what was sent: the reply is scrubbed before it is shown.
            raise ImapError(
                f"El servidor IMAP {where} rechazó el acceso de {settings.user} o no tiene la "
                f"carpeta «{settings.folder}»{self._said(exc)}"
            ) from None
        self.capabilities = self._capabilities()

    def _said(self, exc: BaseException) -> str:
        """``": <the server's reply>"`` scrubbed and on one line (at most 200 characters),
        or ``"."`` when it said nothing."""
        text = scrubbed_reply(self._secret, _server_text(exc))[:200]
        return f": {text}" if text else "."

    def _failed(self, doing: str, exc: BaseException) -> ImapError:
        return ImapError(f"El servidor IMAP {self.where} falló al {doing}{self._said(exc)}")

    def _capabilities(self) -> frozenset[str]:
        """What the server offers once logged in: servers announce more after login (MOVE
        among them) than in the greeting imaplib and imap-tools go by."""
        try:
            kind, data = self.box.client.capability()
        except (imaplib.IMAP4.error, OSError):
            return frozenset()
        if kind != "OK" or not data or not isinstance(data[0], bytes):
            return frozenset()
        return frozenset(data[0].decode("ascii", "replace").upper().split())

    def reports(self) -> Iterator[RawReport]:
        # Every message of the folder, read or not: processed reports are moved out, and a
        # person who opened a report in a mail client must not hide it from rotomail.
        messages = self.box.fetch("ALL", mark_seen=False, bulk=50)
        while True:
            try:
                message = next(messages)
            except StopIteration:
                return
            except (imaplib.IMAP4.error, OSError, ImapToolsError) as exc:
                raise self._failed("leer los informes", exc) from None
            try:
                data = message.obj.as_bytes()
            except Exception:  # a message the email package cannot write back
                data = b""
            yield RawReport(message.uid or "", data)

    def done(self, report: RawReport) -> None:
        try:
            self._put_away(report)
        except (imaplib.IMAP4.error, OSError, ImapToolsError) as exc:
            raise self._failed("guardar un informe procesado", exc) from None

    def _put_away(self, report: RawReport) -> None:
        target = self.settings.processed_folder
        if not self.box.folder.exists(target):
            self.box.folder.create(target)
        self.box.flag(report.key, MailMessageFlags.SEEN, True)
        if "MOVE" in self.capabilities:  # RFC 6851
            folder = encode_folder(target).decode("ascii")  # modified UTF-7, quoted
            moved = self.box.client.uid("MOVE", report.key, folder)
            check_command_status(moved, MailboxMoveError)
        else:
            self.box.copy(report.key, target)
            self.box.delete(report.key)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.box.logout()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


# --- matching and recording ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    key: str
    matched: bool
    bounced: tuple[str, ...] = ()  # addresses newly recorded as bounced
    delayed: tuple[str, ...] = ()  # addresses newly recorded as delayed
    customers_bounced: tuple[str, ...] = ()  # clientes that became "bounced"
    reason: str = ""  # why it matched nothing


@dataclass
class BounceSummary:
    source: str
    read: int = 0
    outcomes: list[ReportOutcome] = field(default_factory=list)

    @property
    def bounced(self) -> int:
        return sum(len(o.bounced) for o in self.outcomes)

    @property
    def customers_bounced(self) -> int:
        return sum(len(o.customers_bounced) for o in self.outcomes)

    @property
    def delayed(self) -> int:
        return sum(len(o.delayed) for o in self.outcomes)

    @property
    def unmatched(self) -> list[ReportOutcome]:
        return [o for o in self.outcomes if not o.matched]


def _find_delivery(
    connection: Connection, report: BounceReport, recipient: BouncedRecipient | None
) -> tuple[SentDelivery | None, str]:
    """(delivery, how) for the report, most certain match first."""
    for address in report.delivered_to:
        token = _VERP_TOKEN.match(address)
        found = store.by_verp_token(connection, token.group(1).lower()) if token else None
        if found:
            return found, "verp"
    found = store.by_message_id(connection, report.message_ids)
    if found:
        return found, "message-id"
    if recipient is not None:
        for address in recipient.addresses:  # Original-Recipient, then Final-Recipient
            found = store.by_recipient(connection, address, report.date or datetime.now())
            if found:
                return found, "recipient"
    return None, ""


def _address_in(delivery: SentDelivery, recipient: BouncedRecipient, how: str) -> str | None:
    """The delivery's own spelling of the failed address (any name the report gives it). A
    report matched by token or Message-ID about a forwarded address is about the only
    address the delivery had. A copy (the collector's Cc, the archive) is never the
    customer's."""
    for address in delivery.correos:
        if address.lower() in recipient.addresses:
            return address
    if any(copy in recipient.addresses for copy in delivery.copies):
        return None
    if how != "recipient" and len(delivery.correos) == 1:
        return delivery.correos[0]
    return None


def record_report(engine: Engine, report: BounceReport, key: str = "") -> ReportOutcome:
    """Match one parsed report and record it; safe to repeat."""
    if not report.recipients:
        return ReportOutcome(key, False, reason=report.reason)
    bounced: list[str] = []
    delayed: list[str] = []
    customers: list[str] = []
    matched_any = False
    reasons: list[str] = []
    with engine.begin() as connection:
        touched: dict[tuple[int, str], SentDelivery] = {}
        for recipient in report.recipients:
            delivery, how = _find_delivery(connection, report, recipient)
            if delivery is None:
                reasons.append(
                    f"{recipient.address}: ningún envío con ese Message-ID, token ni destinatario "
                    f"en los {store.MATCH_WINDOW.days} días anteriores"
                )
                continue
            address = _address_in(delivery, recipient, how)
            if address is None:
                reasons.append(
                    f"{recipient.address}: no es una dirección del cliente {delivery.cliente} "
                    f"(corrida {delivery.run_id})"
                )
                continue
            matched_any = True
            status = AddressStatus.BOUNCED if recipient.permanent else AddressStatus.DELAYED
            changed = store.record_address(
                connection,
                delivery,
                AddressOutcome(address, status, recipient.status, recipient.diagnostic),
            )
            if changed:
                (bounced if status == AddressStatus.BOUNCED else delayed).append(address)
            touched[(delivery.run_id, delivery.cliente)] = delivery
        for delivery in touched.values():
            records = store.addresses_of(connection, delivery.run_id, delivery.cliente)
            every = [records.get(a.lower()) for a in delivery.correos]
            if every and all(r is not None and r.status == AddressStatus.BOUNCED for r in every):
                last = max((r for r in every if r is not None), key=lambda r: r.updated_at)
                detail = f"rebotado: {with_code(last.code, last.detail)}".strip()
                if store.mark_bounced(connection, delivery, detail):
                    customers.append(delivery.cliente)
    if not matched_any:
        return ReportOutcome(key, False, reason="; ".join(reasons))
    return ReportOutcome(key, True, tuple(bounced), tuple(delayed), tuple(customers))


def process(
    engine: Engine,
    source: ReportSource,
    on_report: Callable[[ReportOutcome], None] = lambda outcome: None,
) -> BounceSummary:
    """Read every unprocessed report of ``source``, record it, and put the matched ones away."""
    summary = BounceSummary(source.description)
    for raw in source.reports():
        summary.read += 1
        outcome = record_report(engine, parse_report(raw.data), raw.key)
        if outcome.matched:
            source.done(raw)
        summary.outcomes.append(outcome)
        on_report(outcome)
    return summary


# --- choosing the source from the settings ------------------------------------------------


def open_source(
    settings: Settings,
    maildir: Path | None,
    interactive: bool,
    ssl_context: ssl.SSLContext | None = None,
) -> ReportSource:
    """``--maildir``, else ``[bounces] maildir``, else the IMAP mailbox of ``[bounces]``."""
    folder = maildir or (
        Path(settings.bounces.maildir).expanduser() if settings.bounces.maildir else None
    )
    if folder is not None:
        return MaildirSource(folder)
    host, user = settings.bounces.imap_host, settings.bounces.imap_user
    if not host or not user:
        raise UsageError(
            "No hay buzón de rebotes: configure [bounces] imap_host e imap_user, o maildir "
            "(o use --maildir CARPETA)."
        )
    imap = ImapSettings(
        host=host,
        port=settings.bounces.imap_port,
        security=settings.bounces.imap_security,
        user=user,
        folder=settings.bounces.folder,
        processed_folder=settings.bounces.processed_folder,
        timeout=settings.smtp.timeout,
    )
    password, token = _imap_credentials(settings, imap, interactive)
    try:
        return ImapSource(imap, password, token, ssl_context)
    except ImapError as exc:
        raise UsageError(exc.message) from None


def _imap_credentials(
    settings: Settings, imap: ImapSettings, interactive: bool
) -> tuple[str | None, Callable[[], str] | None]:
    if settings.bounces.imap_auth == "xoauth2":
        return None, checked_token_command(settings.smtp.oauth_token_command)
    password = get_imap_password(imap.user, imap.host, interactive=interactive)
    if password is None:
        raise UsageError(
            "Falta la contraseña IMAP: defina ROTOMAIL_IMAP_PASSWORD o guárdela con "
            "«rotomail config set-password --imap»."
        )
    return password, None

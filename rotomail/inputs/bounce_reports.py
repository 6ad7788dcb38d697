"""Reading a non-delivery report: bytes in, the failed recipients and the returned message out.

Standard reports (RFC 3464, ``multipart/report; report-type=delivery-status``) are read
field by field with the ``email`` package: Final-Recipient, Action, Status,
Diagnostic-Code and the returned headers' Message-ID. Everything else (Exchange's legacy
notices, Exim, qmail, ...) goes through flufl.bounce, Mailman's detectors, which give the
failed addresses; the status and diagnostic are then taken from the report's own text
where it carries them.

Nothing here raises on bad input: a message that is not a report gives a
:class:`BounceReport` with no recipients and ``reason`` saying why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from flufl.bounce import all_failures

logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)  # its detectors log every miss

FAILED, DELAYED = "failed", "delayed"
_STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w.])")  # not in an IP
_SMTP_CODE = re.compile(r"\b([245]\d\d)[ -]")
_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Where the report was delivered: the VERP token lives in these addresses.
_DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class BouncedRecipient:
    address: str  # lower case
    action: str  # failed | delayed
    status: str  # "5.1.1", "4.4.7"; "5.0.0" / "4.0.0" when the report gives none
    diagnostic: str  # one line, as the report words it

    @property
    def permanent(self) -> bool:
        return self.action == FAILED


@dataclass(frozen=True)
class BounceReport:
    recipients: tuple[BouncedRecipient, ...]
    message_ids: tuple[str, ...]  # Message-IDs of the returned (original) message
    delivered_to: tuple[str, ...]  # addresses the report was delivered to (VERP)
    date: datetime | None  # the report's Date, naive local time
    reason: str = ""  # why nothing was found, in Spanish


def parse_report(data: bytes) -> BounceReport:
    """Never raises: anything unreadable is a report with no recipients and a reason."""
    try:
        msg = message_from_bytes(data, policy=policy.compat32)
        return _parse(msg)
    except Exception as exc:  # malformed MIME can trip any part of the email package
        return BounceReport((), (), (), None, f"no se pudo leer el mensaje ({type(exc).__name__})")


def _parse(msg: Message) -> BounceReport:
    delivered_to = tuple(_delivered_to(msg))
    date = _date(msg)
    message_ids = tuple(dict.fromkeys(_returned_message_ids(msg)))
    if msg.get_content_type() == "multipart/report" and _delivery_status_parts(msg):
        recipients = tuple(_dsn_recipients(msg))
        reason = "" if recipients else "el informe no trae destinatarios fallidos ni retrasados"
        return BounceReport(recipients, message_ids, delivered_to, date, reason)
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripped on odd input: not a report we can read
        temporary, permanent = frozenset(), frozenset()
    text = _text(msg)
    found: dict[str, BouncedRecipient] = {}
    for raw, action in [(a, FAILED) for a in permanent] + [(a, DELAYED) for a in temporary]:
        address = _decode(raw).strip().strip("<>").lower()
        if not _ADDRESS.fullmatch(address) or address in found:
            continue
        status, diagnostic = _from_text(text, address, action)
        found[address] = BouncedRecipient(address, action, status, diagnostic)
    reason = "" if found else "no parece un informe de rebote (ningún destinatario fallido)"
    return BounceReport(tuple(found.values()), message_ids, delivered_to, date, reason)


def _decode(raw: bytes | str) -> str:
    return raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _date(msg: Message) -> datetime | None:
    try:
        value = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value


def _delivered_to(msg: Message) -> Iterator[str]:
    headers = [str(h) for name in _DELIVERED_TO for h in msg.get_all(name, [])]
    for _, address in getaddresses(headers):
        if address:
            yield address.lower()


def _delivery_status_parts(msg: Message) -> list[Message]:
    return [
        part
        for part in msg.walk()
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    ]


def _status_groups(part: Message) -> list[Message]:
    """The per-message and per-recipient field groups of a delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parsed the groups as headers
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    groups = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [message_from_bytes(g.encode("utf-8", "replace") + b"\n\n") for g in groups]


def _field_value(value: object) -> str:
    """``rfc822; user@example.mx`` -> ``user@example.mx``; ``smtp; 550 ...`` -> ``550 ...``."""
    text = _one_line(str(value or ""))
    kind, separator, rest = text.partition(";")
    return rest.strip() if separator and " " not in kind.strip() else text


def _dsn_recipients(msg: Message) -> Iterator[BouncedRecipient]:
    for part in _delivery_status_parts(msg):
        for group in _status_groups(part):
            action = _one_line(str(group.get("Action", ""))).lower()
            if action not in (FAILED, DELAYED):
                continue  # delivered, relayed, expanded: nothing went wrong
            recipient = _field_value(
                group.get("Final-Recipient") or group.get("Original-Recipient")
            )
            address = recipient.strip("<>").lower()
            if not _ADDRESS.fullmatch(address):
                continue
            match = _STATUS.search(str(group.get("Status", "")))
            status = match.group(0) if match else ("5.0.0" if action == FAILED else "4.0.0")
            diagnostic = _field_value(group.get("Diagnostic-Code", "")) or _one_line(
                str(group.get("Status", ""))
            )
            yield BouncedRecipient(address, action, status, diagnostic)


def _returned_message_ids(msg: Message) -> Iterator[str]:
    """Message-IDs of the message that came back: in message/rfc822 or text/rfc822-headers
    parts, or quoted in the body by the servers that paste the original inline."""
    for part in msg.walk():
        if part is msg and msg.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            for returned in inner if isinstance(inner, list) else []:
                if isinstance(returned, Message) and returned.get("Message-ID"):
                    yield str(returned["Message-ID"]).strip()
        elif content_type in ("text/rfc822-headers", "text/plain", "message/global-headers"):
            yield from _MESSAGE_ID.findall(_part_text(part))


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _text(msg: Message) -> str:
    return "\n".join(
        _part_text(part)
        for part in msg.walk()
        if part.get_content_maintype() == "text" and not part.is_multipart()
    )


def _from_text(text: str, address: str, action: str) -> tuple[str, str]:
    """(status, diagnostic) from the lines after a mention of ``address`` that carry a status
    or SMTP code; the diagnostic is those lines joined, as the report words them."""
    lines = text.splitlines()
    default = "5.0.0" if action == FAILED else "4.0.0"
    for index, line in enumerate(lines):
        if address not in line.lower():
            continue
        for end in range(index, min(index + 6, len(lines))):
            status = _STATUS.search(lines[end])
            code = _SMTP_CODE.search(lines[end])
            if status or code:
                found = status.group(0) if status else f"{code.group(1)[0]}.0.0"  # type: ignore[union-attr]
                context = lines[index + 1 : end + 1] if end > index else [lines[end]]
                return found, _one_line(" ".join(part.strip(" <>:") for part in context))
    return default, ""

"""Reading a non-delivery report: bytes in, the failed recipients and the returned message out.

Standard reports (RFC 3464, ``multipart/report; report-type=delivery-status``) are read
field by field with the ``email`` package: Original-Recipient and Final-Recipient (either
names the recipient: servers put an internal alias in Final-Recipient), Action, Status,
Diagnostic-Code and the returned headers' Message-ID. A report whose fields name no failed
or delayed recipient, and everything that is not a standard report (Exchange's legacy
notices, Exim, qmail, Yahoo, GroupWise, ...), goes through flufl.bounce, Mailman's
detectors, which give the failed addresses, temporary or permanent; the status and
diagnostic are then taken from the report's own text where it carries them. A delay
warning read that way never gives a permanent failure: its addresses are delayed.

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
# In a report's text only failures count (4xx, 5xx), and never the end of an IP address.
_FAILURE_STATUS = re.compile(r"(?<![\w.])([45])\.(\d{1,3})\.(\d{1,3})(?![\w.])")
_SMTP_CODE = re.compile(r"(?<![\w.])([45]\d\d)[ -]")
_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Where the report was delivered: the VERP token lives in these addresses.
_DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class BouncedRecipient:
    address: str  # lower case; Original-Recipient when the report gives it (what was sent to)
    action: str  # failed | delayed
    status: str  # "5.1.1", "4.4.7"; "5.0.0" / "4.0.0" when the report gives none
    diagnostic: str  # one line, as the report words it
    also: tuple[str, ...] = ()  # other names of the same recipient (Final-Recipient)

    @property
    def permanent(self) -> bool:
        return self.action == FAILED

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address the report names this recipient by; any of them may be ours."""
        return (self.address, *self.also)


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
    standard = msg.get_content_type() == "multipart/report" and bool(_delivery_status_parts(msg))
    recipients = tuple(_dsn_recipients(msg)) if standard else ()
    if not recipients:
        # Not a standard report, or one whose fields name nobody (a malformed field, an
        # Action with a comment, fields out of place): Mailman's detectors read the text.
        recipients = tuple(_detected_recipients(msg))
    if recipients:
        reason = ""
    elif standard:
        reason = "el informe no trae destinatarios fallidos ni retrasados"
    else:
        reason = "no parece un informe de rebote (ningún destinatario fallido)"
    return BounceReport(recipients, message_ids, delivered_to, date, reason)


def _detected_recipients(msg: Message) -> Iterator[BouncedRecipient]:
    """The failed and delayed addresses flufl.bounce finds; all delayed in a delay warning."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripped on odd input: not a report we can read
        return
    text = _text(msg)
    warning = _is_delay_warning(msg, text)
    seen: set[str] = set()
    for raw, action in [(a, FAILED) for a in permanent] + [(a, DELAYED) for a in temporary]:
        address = _decode(raw).strip().strip("<>").lower()
        if not _ADDRESS.fullmatch(address) or address in seen:
            continue
        seen.add(address)
        if warning:
            action = DELAYED
        status, diagnostic = _from_text(text, address, action)
        if action == DELAYED and status.startswith("5"):
            status = "4.0.0"  # a warning quoting a permanent-looking reply is still a warning
        yield BouncedRecipient(address, action, status, diagnostic)


# What delay warnings say, in their subject or their text, whatever their format: Postfix
# ("Delayed Mail (still being retried)", "THIS IS A WARNING ONLY"), Sendmail ("Warning:
# could not send message for past 4 hours"), Exim ("Warning: message ... delayed 24
# hours"), Gmail and Exchange ("Delivery Status Notification (Delay)", "has not yet been
# delivered"), OpenSMTPD and the RFC 3464 field "Action: delayed" pasted as text.
_WARNING_SUBJECT = re.compile(
    r"^\s*delayed mail\b|\(delay(ed)?\)|delivery (has been |is )?delayed"
    r"|delivery status notification: (warning|delayed)|\bdelayed \d+ (hours|minutes|days)\b"
    r"|could not send (message|mail) for past",
    re.IGNORECASE,
)
_WARNING_TEXT = re.compile(
    r"this is a warning only|you do not need to resend|still being retried"
    r"|will (be retried|continue to try|keep trying)|has not yet been delivered"
    r"|^\s*action:\s*delayed|could not send (message|mail) for past",
    re.IGNORECASE | re.MULTILINE,
)


def _is_delay_warning(msg: Message, text: str) -> bool:
    subject = _one_line(str(msg.get("Subject", "")))
    if re.match(r"\s*(undeliver|returned|failure|delivery fail)", subject, re.IGNORECASE):
        return False  # a failure notice quoting the original subject, whatever that says
    return bool(_WARNING_SUBJECT.search(subject) or _WARNING_TEXT.search(text))


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


def _action(value: object) -> str:
    """``failed``, ``delayed`` or "" (delivered, relayed, expanded: nothing went wrong).
    Some servers comment the field ("failed (bad destination)"); OpenSMTPD writes "error",
    SendGrid "expired" (the relay gave up, as Postfix does with "failed" and 4.4.7)."""
    action = _one_line(str(value or "")).lower()
    if action.startswith(("fail", "error", "expired")):
        return FAILED
    return DELAYED if action.startswith("delayed") else ""


def _dsn_recipients(msg: Message) -> Iterator[BouncedRecipient]:
    seen: set[tuple[str, ...]] = set()
    for part in _delivery_status_parts(msg):
        for group in _status_groups(part):
            action = _action(group.get("Action"))
            if not action:
                continue
            names = [
                _field_value(group.get(field, "")).strip("<>").lower()
                for field in ("Original-Recipient", "Final-Recipient")
            ]
            addresses = tuple(dict.fromkeys(a for a in names if _ADDRESS.fullmatch(a)))
            if not addresses or addresses in seen:
                continue  # no address, or the same recipient again (some servers repeat it)
            seen.add(addresses)
            match = _STATUS.search(str(group.get("Status", "")))
            status = match.group(0) if match else ("5.0.0" if action == FAILED else "4.0.0")
            diagnostic = _field_value(group.get("Diagnostic-Code", "")) or _one_line(
                str(group.get("Status", ""))
            )
            yield BouncedRecipient(addresses[0], action, status, diagnostic, addresses[1:])


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
            status = _FAILURE_STATUS.search(lines[end])
            code = _SMTP_CODE.search(lines[end])
            if status or code:
                found = status.group(0) if status else f"{code.group(1)[0]}.0.0"  # type: ignore[union-attr]
                context = lines[index + 1 : end + 1] if end > index else [lines[end]]
                return found, _one_line(" ".join(part.strip(" <>:") for part in context))
    return default, ""

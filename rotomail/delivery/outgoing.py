"""What a transport is given to deliver: one message in no channel's terms.

An :class:`Outgoing` says who sends it, to whom, what it says (subject, text and HTML
bodies, attachments) and the headers a statement needs (Message-ID, Date, the VERP
envelope sender). SMTP and the outbox turn it into MIME bytes with the one builder in
``messages`` (``message_bytes``); another channel may read the fields instead.

It also carries the run's claim hook: the transport calls ``claim`` right before its point
of no return (before DATA over SMTP, before the file is written in the outbox). The hook
commits the customer's exactly-once claim and raises when the claim is lost or the run
stopped; the transport then delivers nothing and lets the exception through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address

from rotomail.inputs.addresses import ascii_address, unicode_address


@dataclass(frozen=True)
class Attachment:
    filename: str  # already a safe file name (messages.safe_attachment_name)
    content: bytes
    mime_type: str = "application/octet-stream"  # e.g. "application/pdf", "text/plain"


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver. Immutable: a deferred round or a claim hook is a copy
    (``dataclasses.replace``). Addresses were parsed and checked when it was built."""

    sender: Address  # the From header
    to: tuple[Address, ...]  # named in the To header, and receive it
    subject: str  # one clean line
    text: str
    html: str = ""  # the HTML alternative of ``text``; "" for text only
    attachments: tuple[Attachment, ...] = ()
    reply_to: Address | None = None
    cc: tuple[Address, ...] = ()  # named in the Cc header, and receive it (the collector)
    bcc: tuple[str, ...] = ()  # receive it, never named in a header (the archive copy)
    message_id: str = ""  # "<...@domain>"
    date: str = ""  # the Date header (RFC 5322)
    return_path: str = ""  # the envelope sender (VERP); "" is the From address
    name: str = ""  # a file stem for a channel that stores it (the PDF's name)
    only: tuple[str, ...] = ()  # when set, to these of its recipients only (deferred rounds)
    claim: Callable[[], None] | None = None  # called right before the point of no return
    mime: bytes = b""  # its MIME bytes once built (render workers build them once)

    @property
    def envelope_sender(self) -> str:
        spec = self.sender.addr_spec
        return self.return_path or ascii_address(spec) or spec

    @property
    def recipients(self) -> list[str]:
        """Every address it goes to: ``only`` when set, else the To addresses (each once,
        whatever its case), the Cc addresses not among them and then the blind copies."""
        if self.only:
            return list(self.only)
        seen: set[str] = set()
        recipients: list[str] = []
        for address in (*self.to, *self.cc):
            spec = _spec(address)  # as the header names it (an IDN domain in punycode), read back
            if spec.lower() not in seen:
                seen.add(spec.lower())
                recipients.append(spec)
        return [*recipients, *self.bcc]

    @property
    def copies(self) -> frozenset[str]:
        """The recipients that are copies, not the addressees (Cc and blind copies, lower
        case): what the server answers for them is never the addressees' outcome."""
        to = {_spec(address).lower() for address in self.to}
        copies = {_spec(address).lower() for address in self.cc} | {a.lower() for a in self.bcc}
        return frozenset(copies - to)


def _spec(address: Address) -> str:
    return unicode_address(ascii_address(address.addr_spec) or address.addr_spec)

"""The contract between a run and a transport: what a transport answers for one message
(the per-address outcome, or the error that says why it was not, or maybe not, delivered),
the :class:`Transport` protocol and what a channel is given to open its transports. Shared by
every channel and by the run, so none of them imports another for these types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rotomail.delivery.outgoing import Outgoing
from rotomail.errors import RotomailError
from rotomail.words import Status


@dataclass(frozen=True)
class Delivery:
    """What happened to each recipient of one message."""

    accepted: list[str]
    refused: dict[str, str]  # address -> the server's 5xx reply for it
    reply: str  # the final reply, e.g. "250 2.0.0 Ok: queued as ABC"
    deferred: dict[str, str] = field(default_factory=dict)  # address -> its 4xx reply


def without(answers: dict[str, str], copies: frozenset[str]) -> dict[str, str]:
    """Per-address answers (refused, deferred) but those of the copies."""
    return {address: reply for address, reply in answers.items() if address.lower() not in copies}


def for_addressees(delivery: Delivery, copies: frozenset[str]) -> Delivery:
    """What happened to the addressees: the answers for the copies (a collector's Cc, the
    archive's blind copy, ``Outgoing.copies``) never count for or against the customer."""
    if not copies:
        return delivery
    return Delivery(
        [address for address in delivery.accepted if address.lower() not in copies],
        without(delivery.refused, copies),
        delivery.reply,
        without(delivery.deferred, copies),
    )


class SendError(RotomailError):
    """A message was not (or maybe not) delivered. ``reply`` is the server's text or reason."""

    exit_code = 1

    def __init__(self, reply: str, message: str | None = None) -> None:
        super().__init__(message or reply)
        self.reply = reply


class TemporaryFailure(SendError):
    """4xx (or a broken connection before DATA) on every attempt. When the recipients were
    the ones put off, ``deferred`` (4xx) and ``refused`` (5xx) hold their replies."""

    def __init__(
        self,
        reply: str,
        message: str | None = None,
        *,
        deferred: dict[str, str] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reply, message)
        self.deferred = dict(deferred or {})
        self.refused = dict(refused or {})


class ConnectionFailed(TemporaryFailure):
    """No SMTP session could be opened: refused, timed out, or 4xx at the greeting."""


class PermanentFailure(SendError):
    """5xx: not retried. ``refused``: each address's reply when the recipients were refused."""

    def __init__(
        self, reply: str, message: str | None = None, *, refused: dict[str, str] | None = None
    ) -> None:
        super().__init__(reply, message)
        self.refused = dict(refused or {})


class Uncertain(SendError):
    """The connection broke after the message content was sent: it may have gone out."""


class AuthenticationFailed(SendError):
    """The server refused the login: a configuration error that stops the run."""

    exit_code = 2


class ConfigurationError(SendError):
    """Unsafe or impossible configuration (no STARTTLS, bad certificate, no password)."""

    exit_code = 2


class DailyCapReached(SendError):
    """``daily_cap`` messages were already sent today."""


class WriteFailed(SendError):
    """The message could not be written where it goes (the outbox on a full disk, a
    read-only folder): nothing of it was kept, so the customer failed (never uncertain),
    and the run stops, as every later message would fail alike. Exit 2 when the folder may
    not be written (a configuration to fix), else 1."""

    def __init__(self, reply: str, exit_code: int = 1) -> None:
        super().__init__(reply)
        self.exit_code = exit_code


# Failures that would repeat for every customer: the run stops, untried customers stay
# pending for the next run.
RUN_STOPPERS = (AuthenticationFailed, ConfigurationError, DailyCapReached, WriteFailed)


class Transport(Protocol):
    """One channel's way out. ``deliver`` calls ``outgoing.claim`` (when set) right before
    its point of no return and delivers nothing when the hook raises; it answers with a
    :class:`Delivery` (at least one recipient accepted) or raises one of the errors above:
    no recipient to deliver to is :class:`TemporaryFailure` (some deferred) or
    :class:`PermanentFailure` (all refused), raised before the claim is taken."""

    # The status of a delivered message: sent (a server took it) or saved (kept here).
    delivered_status: Status

    def deliver(self, outgoing: Outgoing, *, retry: bool = True) -> Delivery:
        """``retry=False``: one try only (the caller retries deferred recipients itself)."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Close at once, without waiting for the server (a run stopped mid-transaction)."""


@dataclass(frozen=True)
class TransportSetup:
    """What a channel may need to open a run's transports, besides the settings."""

    folder_for: Callable[[int], Path]  # run id -> the run's folder (its files)
    interactive: bool  # a password may be asked at the terminal
    sent_today: Callable[[], int] = lambda: 0  # what earlier runs sent today (a daily cap)

"""What a transport answers for one message: the per-address outcome, or the error that
says why it was not (or maybe not) delivered. Shared by the SMTP and outbox transports and
by the run, so none of them imports another for these types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Protocol

from rotomail.errors import RotomailError

if TYPE_CHECKING:
    from rotomail.delivery.messages import PreparedMessage


@dataclass(frozen=True)
class Delivery:
    accepted: list[str]
    refused: dict[str, str]  # address -> the server's 5xx reply for it
    reply: str  # the final reply, e.g. "250 2.0.0 Ok: queued as ABC"
    deferred: dict[str, str] = field(default_factory=dict)  # address -> its 4xx reply


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
        retry: bool = True,
    ) -> Delivery: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Close at once, without waiting for the server (a run stopped mid-transaction)."""

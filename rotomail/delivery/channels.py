"""The delivery channels: a name -> when a run uses it, how it is described and how its
transports are opened. A new channel is one module (its :class:`~results.Transport` and an
``open_transports``) and one entry here.

The first entry that applies to the settings and the mode is the run's channel; its name is
kept with every claim (exactly once holds per channel) and in the run's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rotomail import words
from rotomail.config import Settings
from rotomail.delivery import mailer, outbox
from rotomail.delivery.results import Transport, TransportSetup
from rotomail.words import Mode


@dataclass(frozen=True)
class Channel:
    name: str
    applies: Callable[[Settings, Mode], bool]  # (settings, mode): a run would use it
    describe: Callable[[Settings], str]  # for the run's header and log, in Spanish
    # Called once before a run (a password is asked now); gives run id -> Transport.
    open_transports: Callable[[Settings, TransportSetup], Callable[[int], Transport]]


CHANNELS: dict[str, Channel] = {
    words.Channel.SMTP: Channel(
        words.Channel.SMTP, mailer.applies, mailer.describe, mailer.open_transports
    ),
    words.Channel.OUTBOX: Channel(
        words.Channel.OUTBOX,
        lambda settings, mode: True,
        outbox.describe,
        outbox.open_transports,
    ),
}


def channel_for(settings: Settings, mode: Mode) -> Channel:
    """The run's channel: the first registered one that applies (the outbox always does)."""
    return next(c for c in CHANNELS.values() if c.applies(settings, mode))

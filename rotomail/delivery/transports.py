"""Choosing the transport for a run from the settings, through the channel registry
(``channels``): SMTP, or the outbox when no SMTP host is configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rotomail.config import Settings
from rotomail.delivery.channels import channel_for
from rotomail.delivery.results import Transport, TransportSetup
from rotomail.words import Channel, Mode


def channel_name(settings: Settings, mode: Mode) -> str:
    """Where the run's messages go; exactly-once claims are kept per channel."""
    return channel_for(settings, mode).name


def uses_smtp(settings: Settings, mode: Mode) -> bool:
    return channel_name(settings, mode) == Channel.SMTP


def describe(settings: Settings, mode: Mode) -> str:
    return channel_for(settings, mode).describe(settings)


def transport_factory(
    settings: Settings,
    mode: Mode,
    folder_for: Callable[[int], Path],
    interactive: bool,
    sent_today: Callable[[], int] = lambda: 0,
) -> Callable[[int], Transport]:
    """A function run_id -> Transport of the run's channel; a password is obtained now,
    before the run.

    ``sent_today`` counts what earlier runs sent today, so a daily cap holds across runs.
    """
    setup = TransportSetup(folder_for, interactive, sent_today)
    return channel_for(settings, mode).open_transports(settings, setup)

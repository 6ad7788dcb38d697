"""Modes, statuses and channels: each member is the string the database stores, and every
word a user can be shown has its Spanish in the one table."""

from __future__ import annotations

import pytest

from rotomail.words import (
    SPANISH,
    SUMMARY,
    AddressStatus,
    Channel,
    Mode,
    RunStatus,
    Status,
    with_code,
)


@pytest.mark.parametrize("word", [*Mode, *RunStatus, *Status, *AddressStatus])
def test_every_word_shown_has_its_spanish(word: str) -> None:
    assert SPANISH[word] and SPANISH[word] != word


def test_members_are_the_stored_strings() -> None:
    assert [*Mode] == ["send", "test", "dry-run", "resend"]
    assert [*Channel] == ["smtp", "outbox"]
    assert Status.IN_FLIGHT == "in_flight" and AddressStatus.BOUNCED == Status.BOUNCED


def test_the_summary_counts_every_outcome_a_run_ends_with() -> None:
    assert set(Status) - set(SUMMARY) == {Status.IN_FLIGHT}


@pytest.mark.parametrize(
    ("code", "text", "shown"),
    [
        ("5.1.1", "550 5.1.1 <b@x.example.com>: User unknown", "550 5.1.1 <b@x.example.com>: User unknown"),
        ("550 5.1.1", "550 5.1.1 550 5.1.1 User unknown", "550 5.1.1 User unknown"),
        (250, "250 OK", "250 OK"),
        (250, "250 250 OK", "250 OK"),
        (250, "2.0.0 Ok: queued as ABC", "250 2.0.0 Ok: queued as ABC"),
        (550, "5.1.1 Mailbox 550 full", "550 5.1.1 Mailbox 550 full"),
        ("", "Connection refused", "Connection refused"),
    ],
)  # fmt: skip
def test_a_code_is_shown_once(code: object, text: str, shown: str) -> None:
    assert with_code(code, text) == shown

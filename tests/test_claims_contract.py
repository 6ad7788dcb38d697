"""Exactly once (rotomail.delivery.claims): which existing claim a run may take over, with
and without ``--force`` / ``--retry-failed``, what it is told when it may not, and that a
claim is kept per customer, statement date and channel — on the real database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from rotomail.delivery import claims
from rotomail.delivery.candidates import Candidate
from rotomail.delivery.claims import ClaimDenied, ClaimKey
from rotomail.delivery.liveness import HOST
from rotomail.delivery.records import RunRecords
from rotomail.delivery.report import SendOptions
from rotomail.store import claims as stored
from rotomail.store.db import open_engine
from rotomail.store.models import SendRun, StatementClaim

DATE = date(2026, 11, 30)
OPTIONS = SendOptions(sociedad="SM02", statement_date=DATE, operator="prueba")
CANDIDATES = [Candidate("SM02", "1001", "Cliente 1001", "", ("cxc@cliente.example.mx",))]
KEY = ClaimKey("SM02", "1001", DATE)
RUN = SendRun.__table__  # type: ignore[attr-defined]
CLAIM = StatementClaim.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def start_run(engine: Engine, *, dead: bool = False) -> int:
    run_id = RunRecords(engine, OPTIONS).start(CANDIDATES, "smtp prueba")
    if dead:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        with engine.begin() as connection:
            connection.execute(
                RUN.update().where(RUN.c.id == run_id).values(host=HOST, pid=child.pid)
            )
    return run_id


def hold(engine: Engine, run_id: int, status: str, key: ClaimKey = KEY) -> None:
    with engine.begin() as connection:
        assert claims.take(connection, key, run_id) is None
        if status != "in_flight":
            assert claims.advance(connection, key, run_id, "in_flight", status)


def take(engine: Engine, run_id: int, **flags: Any) -> ClaimDenied | None:
    with engine.begin() as connection:
        return claims.take(connection, KEY, run_id, **flags)


def claim(engine: Engine, key: ClaimKey = KEY) -> tuple[str, int]:
    with engine.connect() as connection:
        return stored.claim_of(connection, key)


@pytest.mark.parametrize(
    ("status", "holder_dead", "flags", "granted"),
    [
        ("failed", False, {}, True),
        ("sent", False, {}, False),
        ("sent", False, {"retry": True}, False),
        ("sent", False, {"force": True}, True),
        ("partial", False, {}, False),
        ("partial", False, {"retry": True}, True),
        ("partial", False, {"force": True}, True),
        ("bounced", False, {}, False),
        ("bounced", False, {"retry": True}, True),
        ("bounced", False, {"force": True}, True),
        ("in_flight", False, {"force": True}, False),  # en proceso: never
        ("in_flight", False, {"retry": True}, False),
        ("in_flight", True, {}, False),  # uncertain: only when asked
        ("in_flight", True, {"retry": True}, True),
        ("in_flight", True, {"force": True}, True),
    ],
)
def test_which_claim_a_run_may_take_over(
    engine: Engine, status: str, holder_dead: bool, flags: dict[str, bool], granted: bool
) -> None:
    holder = start_run(engine)
    hold(engine, holder, status)
    if holder_dead:
        with engine.begin() as connection:
            connection.execute(RUN.update().where(RUN.c.id == holder).values(pid=0))
    taker = start_run(engine)
    denied = take(engine, taker, **flags)
    if granted:
        assert denied is None
        assert claim(engine) == ("in_flight", taker)
    else:
        assert denied == ClaimDenied(status, holder, not holder_dead)
        assert claim(engine) == (status, holder)


def test_a_run_retakes_its_own_claim_and_a_dead_runs_claim_is_reported_dead(
    engine: Engine,
) -> None:
    run_id = start_run(engine)
    hold(engine, run_id, "in_flight")
    assert take(engine, run_id) is None  # DATA again after a temporary failure
    dead = start_run(engine, dead=True)
    other = ClaimKey("SM02", "1002", DATE)
    hold(engine, dead, "in_flight", other)
    with engine.begin() as connection:
        assert claims.take(connection, other, run_id) == ClaimDenied("in_flight", dead, False)
    with engine.begin() as connection:
        assert claims.take(connection, other, run_id, retry=True) is None


def updated_at(engine: Engine) -> datetime:
    with engine.connect() as connection:
        return connection.execute(select(CLAIM.c.updated_at)).scalar_one()


def test_a_claim_moves_only_from_the_state_it_is_in(engine: Engine) -> None:
    run_id = start_run(engine)
    before = datetime.now() - timedelta(seconds=1)
    hold(engine, run_id, "in_flight")
    assert updated_at(engine) >= before
    old = datetime(2026, 1, 1)
    with engine.begin() as connection:
        connection.execute(CLAIM.update().values(updated_at=old))
    other = start_run(engine)
    with engine.begin() as connection:
        assert not claims.advance(connection, KEY, run_id, "sent", "failed")
        assert not claims.advance(connection, KEY, other, "in_flight", "sent")
        assert updated_at(engine) == old  # a move refused changes nothing
        assert claims.advance(connection, KEY, run_id, "in_flight", "sent")
    assert claim(engine) == ("sent", run_id)
    assert updated_at(engine) >= before


def test_claims_are_per_customer_date_and_channel(engine: Engine) -> None:
    first = start_run(engine)
    hold(engine, first, "sent")
    second = start_run(engine)
    for key in (
        ClaimKey("SM02", "1001", DATE, "outbox"),
        ClaimKey("SM02", "1001", date(2026, 12, 31)),
        ClaimKey("SM02", "1002", DATE),
        ClaimKey("SM03", "1001", DATE),
    ):
        with engine.begin() as connection:
            assert claims.take(connection, key, second) is None, key
        assert claim(engine, key) == ("in_flight", second)
    assert claim(engine) == ("sent", first)


def test_existing_claims_of_a_run_date(engine: Engine) -> None:
    alive = start_run(engine)
    dead = start_run(engine, dead=True)
    hold(engine, alive, "sent")
    hold(engine, dead, "in_flight", ClaimKey("SM02", "1002", DATE))
    hold(engine, alive, "failed", ClaimKey("SM02", "1003", DATE, "outbox"))
    hold(engine, alive, "failed", ClaimKey("SM02", "1004", date(2026, 10, 31)))
    hold(engine, alive, "failed", ClaimKey("SM03", "1005", DATE))
    assert claims.existing_claims(engine, "SM02", DATE) == {
        "1001": ClaimDenied("sent", alive, True),
        "1002": ClaimDenied("in_flight", dead, False),
    }
    assert claims.existing_claims(engine, "SM02", DATE, "outbox") == {
        "1003": ClaimDenied("failed", alive, True)
    }

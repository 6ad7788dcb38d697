"""Exactly once: a claim per (sociedad, cliente, statement date) guards every real send.

A claim moves ``claimed`` -> ``in_flight`` (just before SMTP DATA) -> ``sent`` or ``failed``.
Each move is a compare-and-set on (run_id, status), so two runs, or two operators on one
PostgreSQL database, can never both reach DATA for the same customer and date:

* ``sent``: skipped unless ``--force``.
* ``in_flight``: the message may or may not have gone out (a crash or a dropped connection
  after DATA); reported as uncertain and taken over only with ``--force``/``--retry-failed``.
* ``failed``: any later run may take it over.
* ``claimed`` by another run: nothing was sent yet; taken over once the claim is older than
  ``LEASE`` (its run died before DATA). The owner's own move to ``in_flight`` then fails, so
  even a slow live owner never sends a stolen customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from rotomail.db import insert_ignore
from rotomail.models import StatementClaim

LEASE = timedelta(minutes=5)
_claim = StatementClaim.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimKey:
    sociedad: str
    cliente: str
    statement_date: date

    def where(self) -> list[Any]:
        return [
            _claim.c.sociedad == self.sociedad,
            _claim.c.cliente == self.cliente,
            _claim.c.statement_date == self.statement_date,
        ]


@dataclass(frozen=True)
class ClaimDenied:
    status: str  # sent | in_flight | claimed
    run_id: int


def existing_claims(engine: Engine, sociedad: str, statement_date: date) -> dict[str, ClaimDenied]:
    """cliente -> current claim, for a first pass over a whole run in one query."""
    query = select(_claim.c.cliente, _claim.c.status, _claim.c.run_id).where(
        _claim.c.sociedad == sociedad, _claim.c.statement_date == statement_date
    )
    with engine.connect() as connection:
        return {
            row.cliente: ClaimDenied(row.status, row.run_id) for row in connection.execute(query)
        }


def take(
    engine: Engine, key: ClaimKey, run_id: int, *, force: bool = False, retry: bool = False
) -> ClaimDenied | None:
    """Claim ``key`` for ``run_id``; None when granted, else what stands in the way."""
    now = datetime.now()
    values = {
        "sociedad": key.sociedad,
        "cliente": key.cliente,
        "statement_date": key.statement_date,
        "run_id": run_id,
        "status": "claimed",
        "updated_at": now,
    }
    with engine.begin() as connection:
        if insert_ignore(connection, _claim, values):
            return None
        row = connection.execute(
            select(_claim.c.status, _claim.c.run_id, _claim.c.updated_at).where(*key.where())
        ).one()
        allowed = (
            row.status == "failed"
            or row.run_id == run_id
            or (row.status == "sent" and force)
            or (row.status == "in_flight" and (force or retry))
            or (row.status == "claimed" and now - row.updated_at > LEASE)
        )
        if allowed and _move(connection, key, row.run_id, row.status, run_id, "claimed"):
            return None
        return ClaimDenied(row.status, row.run_id)


def _move(
    connection: Connection, key: ClaimKey, run_id: int, status: str, new_run: int, new_status: str
) -> bool:
    result = connection.execute(
        update(_claim)
        .where(*key.where(), _claim.c.run_id == run_id, _claim.c.status == status)
        .values(run_id=new_run, status=new_status, updated_at=datetime.now())
    )
    return result.rowcount == 1


def advance(connection: Connection, key: ClaimKey, run_id: int, old: str, new: str) -> bool:
    """Compare-and-set this run's claim from ``old`` to ``new``."""
    return _move(connection, key, run_id, old, run_id, new)


def release(engine: Engine, key: ClaimKey, run_id: int) -> None:
    """Give back a claim that never reached DATA (run stopped, or message not built)."""
    with engine.begin() as connection:
        connection.execute(
            delete(_claim).where(
                *key.where(), _claim.c.run_id == run_id, _claim.c.status == "claimed"
            )
        )

"""The ``statement_claim`` rows: at most one real send per customer, statement date and
channel. What a claim means and when it may be taken over is ``delivery/claims.py``; here
are its reads and its compare-and-set writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from rotomail.store.db import insert_ignore
from rotomail.store.models import StatementClaim, table_of
from rotomail.words import Channel

_claim = table_of(StatementClaim)


@dataclass(frozen=True)
class ClaimKey:
    sociedad: str
    cliente: str
    statement_date: date
    channel: str = Channel.SMTP


def claims_of(
    connection: Connection, sociedad: str, statement_date: date, channel: str
) -> list[Row[Any]]:
    """(cliente, status, run_id) of every claim of a sociedad's statements of one date."""
    query = select(_claim.c.cliente, _claim.c.status, _claim.c.run_id).where(
        _claim.c.sociedad == sociedad,
        _claim.c.statement_date == statement_date,
        _claim.c.channel == channel,
    )
    return list(connection.execute(query))


def insert_claim(connection: Connection, key: ClaimKey, run_id: int, status: str) -> bool:
    """Insert the claim of ``key`` for ``run_id`` unless one exists; True when inserted."""
    values = {
        "sociedad": key.sociedad,
        "cliente": key.cliente,
        "statement_date": key.statement_date,
        "channel": key.channel,
        "run_id": run_id,
        "status": status,
        "updated_at": datetime.now(),
    }
    return insert_ignore(connection, _claim, values)


def claim_of(connection: Connection, key: ClaimKey) -> tuple[str, int]:
    """(status, run_id) of the existing claim of ``key``."""
    query = select(_claim.c.status, _claim.c.run_id).where(
        _claim.c.sociedad == key.sociedad,
        _claim.c.cliente == key.cliente,
        _claim.c.statement_date == key.statement_date,
        _claim.c.channel == key.channel,
    )
    status, run_id = connection.execute(query).one()
    return status, run_id


# The compare-and-set of a claim, built once (see db.insert_ignore).
_MOVE = (
    update(_claim)
    .where(
        _claim.c.sociedad == bindparam("key_sociedad"),
        _claim.c.cliente == bindparam("key_cliente"),
        _claim.c.statement_date == bindparam("key_date"),
        _claim.c.channel == bindparam("key_channel"),
        _claim.c.run_id == bindparam("old_run"),
        _claim.c.status == bindparam("old_status"),
    )
    .values(
        run_id=bindparam("new_run"),
        status=bindparam("new_status"),
        updated_at=bindparam("now"),
    )
)


def move_claim(
    connection: Connection, key: ClaimKey, run_id: int, status: str, new_run: int, new_status: str
) -> bool:
    """Compare-and-set: the claim of ``key`` held by ``run_id`` as ``status`` passes to
    ``new_run`` as ``new_status``; False when it was not in that state."""
    result = connection.execute(
        _MOVE,
        {
            "key_sociedad": key.sociedad,
            "key_cliente": key.cliente,
            "key_date": key.statement_date,
            "key_channel": key.channel,
            "old_run": run_id,
            "old_status": status,
            "new_run": new_run,
            "new_status": new_status,
            "now": datetime.now(),
        },
    )
    return result.rowcount == 1

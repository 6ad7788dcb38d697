"""Exactly once: a claim per (sociedad, cliente, statement date) guards every real send.

The claim is inserted as ``in_flight`` right before SMTP DATA, in the same transaction that
records the customer as in flight, and moves to ``sent`` after the server's final 250 (or
to ``failed``). Taking it is an insert-or-compare-and-set, so two runs, or two operators on
one PostgreSQL database, can never both reach DATA for the same customer and date: the
loser resets its SMTP transaction and reports the customer as skipped.

What a run finds when it wants a customer that already has a claim:

* ``sent``: skipped unless ``--force``.
* ``failed``: taken over.
* ``partial`` (some addresses still deferred by the server): taken over by ``--retry-failed``
  (which sends to those addresses only) or ``--force``; skipped otherwise.
* ``bounced`` (every address bounced, found by ``rotomail bounces``): skipped unless
  ``--retry-failed`` or ``--force``.
* ``in_flight`` by a run that is still alive: skipped ("en proceso").
* ``in_flight`` by a dead run (killed, or its connection lost after DATA): the message may
  or may not have gone out; reported as uncertain and taken over only with ``--force`` or
  ``--retry-failed``.

A crash before DATA leaves no claim, so the next run simply sends. Whether the claiming run
is alive is ``liveness.run_alive``: the very process that started it (host, PID and start
time), or a recent heartbeat from another host.

Claims are kept per channel (``smtp`` or ``outbox``): a statement saved in the outbox never
left the machine, so it does not count as sent for a later SMTP run, and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from rotomail.delivery.liveness import run_alive
from rotomail.store.db import insert_ignore
from rotomail.store.models import StatementClaim, table_of

_claim = table_of(StatementClaim)
CHANNELS = ("smtp", "outbox")


@dataclass(frozen=True)
class ClaimKey:
    sociedad: str
    cliente: str
    statement_date: date
    channel: str = "smtp"

    def where(self) -> list[Any]:
        return [
            _claim.c.sociedad == self.sociedad,
            _claim.c.cliente == self.cliente,
            _claim.c.statement_date == self.statement_date,
            _claim.c.channel == self.channel,
        ]


@dataclass(frozen=True)
class ClaimDenied:
    status: str  # sent | in_flight | failed | bounced
    run_id: int
    alive: bool  # the claiming run is still running


def existing_claims(
    engine: Engine, sociedad: str, statement_date: date, channel: str = "smtp"
) -> dict[str, ClaimDenied]:
    """cliente -> current claim, for a first pass over a whole run in one query."""
    query = select(_claim.c.cliente, _claim.c.status, _claim.c.run_id).where(
        _claim.c.sociedad == sociedad,
        _claim.c.statement_date == statement_date,
        _claim.c.channel == channel,
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        alive = {run_id: run_alive(connection, run_id) for run_id in {r.run_id for r in rows}}
    return {r.cliente: ClaimDenied(r.status, r.run_id, alive[r.run_id]) for r in rows}


def take(
    connection: Connection, key: ClaimKey, run_id: int, *, force: bool = False, retry: bool = False
) -> ClaimDenied | None:
    """Claim ``key`` as in flight for ``run_id``; None when granted, else what stands in the way."""
    values = {
        "sociedad": key.sociedad,
        "cliente": key.cliente,
        "statement_date": key.statement_date,
        "channel": key.channel,
        "run_id": run_id,
        "status": "in_flight",
        "updated_at": datetime.now(),
    }
    if insert_ignore(connection, _claim, values):
        return None
    row = connection.execute(select(_claim.c.status, _claim.c.run_id).where(*key.where())).one()
    alive = row.run_id != run_id and run_alive(connection, row.run_id)
    allowed = (
        row.run_id == run_id  # our own claim: DATA retried after a temporary failure
        or row.status == "failed"
        or (row.status == "sent" and force)
        or (row.status == "partial" and (force or retry))
        or (row.status == "in_flight" and not alive and (force or retry))
        or (row.status == "bounced" and (force or retry))
    )
    if allowed and _move(connection, key, row.run_id, row.status, run_id, "in_flight"):
        return None
    return ClaimDenied(row.status, row.run_id, alive)


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


def _move(
    connection: Connection, key: ClaimKey, run_id: int, status: str, new_run: int, new_status: str
) -> bool:
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


def advance(connection: Connection, key: ClaimKey, run_id: int, old: str, new: str) -> bool:
    """Compare-and-set this run's claim from ``old`` to ``new``."""
    return _move(connection, key, run_id, old, run_id, new)

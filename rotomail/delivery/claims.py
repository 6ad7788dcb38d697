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
from datetime import date

from sqlalchemy import Connection, Engine

from rotomail.delivery.liveness import run_alive
from rotomail.store import claims as stored
from rotomail.store.claims import ClaimKey
from rotomail.words import Channel, Status

__all__ = ["ClaimDenied", "ClaimKey", "advance", "existing_claims", "take"]


@dataclass(frozen=True)
class ClaimDenied:
    status: str  # sent | in_flight | failed | bounced
    run_id: int
    alive: bool  # the claiming run is still running


def existing_claims(
    engine: Engine, sociedad: str, statement_date: date, channel: str = Channel.SMTP
) -> dict[str, ClaimDenied]:
    """cliente -> current claim, for a first pass over a whole run in one query."""
    with engine.connect() as connection:
        rows = stored.claims_of(connection, sociedad, statement_date, channel)
        alive = {run_id: run_alive(connection, run_id) for run_id in {r.run_id for r in rows}}
    return {r.cliente: ClaimDenied(r.status, r.run_id, alive[r.run_id]) for r in rows}


def take(
    connection: Connection, key: ClaimKey, run_id: int, *, force: bool = False, retry: bool = False
) -> ClaimDenied | None:
    """Claim ``key`` as in flight for ``run_id``; None when granted, else what stands in the way."""
    if stored.insert_claim(connection, key, run_id, Status.IN_FLIGHT):
        return None
    status, holder = stored.claim_of(connection, key)
    alive = holder != run_id and run_alive(connection, holder)
    allowed = (
        holder == run_id  # our own claim: DATA retried after a temporary failure
        or status == Status.FAILED
        or (status == Status.SENT and force)
        or (status == Status.PARTIAL and (force or retry))
        or (status == Status.IN_FLIGHT and not alive and (force or retry))
        or (status == Status.BOUNCED and (force or retry))
    )
    if allowed and stored.move_claim(connection, key, holder, status, run_id, Status.IN_FLIGHT):
        return None
    return ClaimDenied(status, holder, alive)


def advance(connection: Connection, key: ClaimKey, run_id: int, old: str, new: str) -> bool:
    """Compare-and-set this run's claim from ``old`` to ``new``."""
    return stored.move_claim(connection, key, run_id, old, run_id, new)

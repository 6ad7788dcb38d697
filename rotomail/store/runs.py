"""A send run's rows as it writes them: the run (``send_run``), one row per customer
(``delivery``) and one per address (``delivery_address``). What the rows mean is
``delivery/``'s (``records``, ``liveness``, ``deferred``); reading past runs is ``history``.

Statements executed once per customer are built once: SQLAlchemy then reuses the compiled
form, where a statement built per call costs ~0.15 ms of construction and cache-key work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from rotomail.store.db import insert_ignore
from rotomail.store.models import Delivery, DeliveryAddress, SendRun, table_of
from rotomail.words import AddressStatus, RunStatus, Status

_run = table_of(SendRun)
_delivery = table_of(Delivery)
_address = table_of(DeliveryAddress)

_BATCH = 2000  # rows per INSERT of a run's customers

# One customer's row; the SET columns are the other keys of the parameters.
_UPDATE_DELIVERY = update(_delivery).where(
    _delivery.c.run_id == bindparam("where_run"),
    _delivery.c.cliente == bindparam("where_cliente"),
)
_INSERT_ADDRESS = insert(_address)


def insert_run(connection: Connection, values: Mapping[str, Any]) -> int:
    """Insert a run; its id."""
    primary_key = connection.execute(insert(_run).values(**values)).inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


def insert_deliveries(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """A run's customers, one row each."""
    for start in range(0, len(rows), _BATCH):
        connection.execute(insert(_delivery), list(rows[start : start + _BATCH]))


def update_delivery(
    connection: Connection, run_id: int, cliente: str, values: Mapping[str, Any]
) -> None:
    """Set ``values`` on one customer's row of ``run_id``."""
    connection.execute(_UPDATE_DELIVERY, {"where_run": run_id, "where_cliente": cliente, **values})


def set_pending_detail(connection: Connection, run_id: int, detail: str) -> None:
    """``detail`` on every customer of ``run_id`` still pending."""
    connection.execute(
        update(_delivery)
        .where(_delivery.c.run_id == run_id, _delivery.c.status == Status.PENDING)
        .values(detail=detail, updated_at=datetime.now())
    )


def update_run(connection: Connection, run_id: int, values: Mapping[str, Any]) -> None:
    connection.execute(update(_run).where(_run.c.id == run_id).values(**values))


class RunProcess(NamedTuple):
    """What tells whether a run may still be alive."""

    status: str
    host: str
    pid: int
    process_start: str
    heartbeat_at: datetime | None
    sociedad: str
    started_at: datetime


def run_process(connection: Connection, run_id: int) -> RunProcess | None:
    row = connection.execute(
        select(
            _run.c.status,
            _run.c.host,
            _run.c.pid,
            _run.c.process_start,
            _run.c.heartbeat_at,
            _run.c.sociedad,
            _run.c.started_at,
        ).where(_run.c.id == run_id)
    ).first()
    return None if row is None else RunProcess(*row)


def running_runs(connection: Connection) -> list[int]:
    """Ids of the runs recorded as running."""
    return list(
        connection.execute(select(_run.c.id).where(_run.c.status == RunStatus.RUNNING)).scalars()
    )


def interrupt_runs(
    connection: Connection, run_ids: Sequence[int], *, in_flight_detail: str, pending_detail: str
) -> None:
    """Close ``run_ids`` (still running) as interrupted: their customers in flight become
    uncertain with ``in_flight_detail``; those pending stay so with ``pending_detail``."""
    connection.execute(
        update(_run)
        .where(_run.c.id.in_(run_ids), _run.c.status == RunStatus.RUNNING)
        .values(status=RunStatus.INTERRUPTED, finished_at=datetime.now())
    )
    connection.execute(
        update(_delivery)
        .where(_delivery.c.run_id.in_(run_ids), _delivery.c.status == Status.IN_FLIGHT)
        .values(status=Status.UNCERTAIN, detail=in_flight_detail)
    )
    connection.execute(
        update(_delivery)
        .where(_delivery.c.run_id.in_(run_ids), _delivery.c.status == Status.PENDING)
        .values(detail=pending_detail)
    )


def insert_addresses(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """A customer's answers per address, none recorded yet."""
    connection.execute(_INSERT_ADDRESS, list(rows))


def save_address(connection: Connection, row: Mapping[str, Any]) -> None:
    """One address's answer: inserted, or replacing the one recorded earlier in the run."""
    if insert_ignore(connection, _address, dict(row)):
        return
    key = ("run_id", "cliente", "correo")
    connection.execute(
        update(_address)
        .where(*(_address.c[name] == row[name] for name in key))
        .values(**{name: value for name, value in row.items() if name not in key})
    )


def deferred_addresses(engine: Engine, run_id: int) -> dict[str, tuple[str, ...]]:
    """cliente -> its addresses still deferred in ``run_id`` (for ``--retry-failed``)."""
    query = (
        select(_address.c.cliente, _address.c.correo)
        .where(_address.c.run_id == run_id, _address.c.status == AddressStatus.DEFERRED)
        .order_by(_address.c.id)
    )
    result: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for cliente, correo in connection.execute(query):
            result.setdefault(cliente, []).append(correo)
    return {cliente: tuple(correos) for cliente, correos in result.items()}

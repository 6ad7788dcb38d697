"""Past runs and their per-customer outcomes.

What history shows is derived from the per-customer rows, which a run writes as it goes:
a running or interrupted run shows what it has done so far, and a customer a crashed run
never reached says which later run sent it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, Row, and_, case, false, func, select

from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.store.models import Delivery, SendRun, StatementClaim, table_of
from rotomail.words import Mode, Status, spanish

_run = table_of(SendRun)
_delivery = table_of(Delivery)
_claim = table_of(StatementClaim)

# Counted per run from its deliveries: (column, statuses).
COUNTERS = {
    "sent": (Status.SENT, Status.BUILT, Status.SAVED),
    "failed": (Status.FAILED, Status.PARTIAL),
    "skipped": (Status.SKIPPED,),
    "uncertain": (Status.UNCERTAIN,),
    "pending": (Status.PENDING, Status.IN_FLIGHT),
}
UNFINISHED = (Status.PENDING, Status.IN_FLIGHT, Status.UNCERTAIN, Status.FAILED)


def list_runs(engine: Engine, limit: int = 30) -> list[Row[Any]]:
    """The latest runs, each with counters taken from its deliveries at this moment."""
    counts = (
        select(
            _delivery.c.run_id,
            *(
                func.sum(case((_delivery.c.status.in_(statuses), 1), else_=0)).label(name)
                for name, statuses in COUNTERS.items()
            ),
        )
        .group_by(_delivery.c.run_id)
        .subquery()
    )
    run_columns = [c for c in _run.c if c.name not in COUNTERS]
    query = (
        select(
            *run_columns,
            *(func.coalesce(counts.c[name], 0).label(name) for name in COUNTERS),
        )
        .outerjoin(counts, counts.c.run_id == _run.c.id)
        .order_by(_run.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


def get_run(engine: Engine, run_id: int) -> Row[Any]:
    with engine.connect() as connection:
        run = connection.execute(select(_run).where(_run.c.id == run_id)).first()
    if run is None:
        raise DataError(f"No existe la corrida {run_id}.")
    return run


def run_deliveries(engine: Engine, run_id: int) -> list[Row[Any]]:
    """The run's customers; ``sent_by`` names the later run that sent a customer this run
    left unfinished (pending, in flight, uncertain or failed), else None."""
    run = get_run(engine, run_id)
    later = and_(
        _claim.c.sociedad == _delivery.c.sociedad,
        _claim.c.cliente == _delivery.c.cliente,
        _claim.c.statement_date == _delivery.c.statement_date,
        _claim.c.channel == run.channel,
        _claim.c.status == Status.SENT,
        _claim.c.run_id != run_id,
        _delivery.c.status.in_(UNFINISHED),
    )
    query = (
        select(*_delivery.c, _claim.c.run_id.label("sent_by"))
        .outerjoin(_claim, later if run.mode == Mode.SEND else false())  # rehearsals claim nothing
        .where(_delivery.c.run_id == run_id)
        .order_by(_delivery.c.id)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


def customer_statements(engine: Engine, sociedad: str, cliente: str) -> list[Row[Any]]:
    """Every statement that went to one customer, oldest first, with its run: what was
    sent (or may have been), to which addresses, with which Message-ID and reply."""
    query = (
        select(
            _delivery.c.run_id,
            _run.c.started_at,
            _run.c.statement_date,
            _run.c.mode,
            _run.c.transport,
            _run.c.os_user,
            _delivery.c.status,
            _delivery.c.correos,
            _delivery.c.message_id,
            _delivery.c.detail,
            _delivery.c.refused,
            _delivery.c.updated_at,
            _delivery.c.pdf_path,
        )
        .join(_run, _run.c.id == _delivery.c.run_id)
        .where(
            _delivery.c.sociedad == normalize_sociedad(sociedad),
            _delivery.c.cliente == normalize_cliente(cliente),
            _delivery.c.status.in_(
                (Status.SENT, Status.SAVED, Status.BUILT, Status.PARTIAL, Status.UNCERTAIN)
            ),
        )
        .order_by(_delivery.c.run_id, _delivery.c.id)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


# A customer got the statement of a real run in these states (its previous statement).
RECEIVED = (Status.SENT, Status.SAVED, Status.PARTIAL)


def previous_statements(
    engine: Engine, sociedad: str, clientes: set[str], before: date, chunk: int = 500
) -> dict[str, date]:
    """cliente -> the cut-off date of the last statement a real run sent it before
    ``before`` (customers never sent one are left out)."""
    ordered = sorted(clientes)
    result: dict[str, date] = {}
    for start in range(0, len(ordered), chunk):
        query = (
            select(_delivery.c.cliente, func.max(_delivery.c.statement_date))
            .join(_run, _run.c.id == _delivery.c.run_id)
            .where(
                _run.c.mode == Mode.SEND,
                _delivery.c.sociedad == sociedad,
                _delivery.c.cliente.in_(ordered[start : start + chunk]),
                _delivery.c.status.in_(RECEIVED),
                _delivery.c.statement_date < before,
            )
            .group_by(_delivery.c.cliente)
        )
        with engine.connect() as connection:
            result.update({cliente: day for cliente, day in connection.execute(query)})
    return result


def retry_targets(engine: Engine, run_id: int) -> tuple[str, date, list[str]]:
    """(sociedad, statement date, clientes) of the customers that failed or bounced in ``run_id``."""
    run = get_run(engine, run_id)
    if run.mode == Mode.RESEND:
        raise DataError(
            f"La corrida {run_id} fue un reenvío (--to); repítalo con "
            "«rotomail send --cliente … --to …»."
        )
    if run.mode != Mode.SEND:
        raise DataError(
            f"La corrida {run_id} fue un ensayo ({spanish(run.mode)}); no hay nada que reenviar."
        )
    query = select(_delivery.c.cliente).where(
        _delivery.c.run_id == run_id,
        _delivery.c.status.in_(
            (
                Status.FAILED,
                Status.UNCERTAIN,
                Status.PENDING,
                Status.IN_FLIGHT,
                Status.PARTIAL,
                Status.BOUNCED,
            )
        ),
    )
    with engine.connect() as connection:
        clientes = list(connection.execute(query).scalars())
    if not clientes:
        raise DataError(f"La corrida {run_id} no tiene clientes fallidos.")
    return run.sociedad, run.statement_date, clientes


def sent_today(engine: Engine) -> int:
    """Messages sent since midnight (all runs): seeds the transport's daily cap."""
    midnight = datetime.combine(date.today(), time.min)
    query = select(func.count()).where(
        _delivery.c.status == Status.SENT, _delivery.c.updated_at >= midnight
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)

"""Past runs and their per-customer outcomes."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, Row, select

from rotomail.errors import DataError
from rotomail.store.models import Delivery, SendRun

_run = SendRun.__table__  # type: ignore[attr-defined]
_delivery = Delivery.__table__  # type: ignore[attr-defined]


def list_runs(engine: Engine, limit: int = 30) -> list[Row[Any]]:
    query = select(_run).order_by(_run.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        return list(connection.execute(query))


def get_run(engine: Engine, run_id: int) -> Row[Any]:
    with engine.connect() as connection:
        run = connection.execute(select(_run).where(_run.c.id == run_id)).first()
    if run is None:
        raise DataError(f"No existe la corrida {run_id}.")
    return run


def run_deliveries(engine: Engine, run_id: int) -> list[Row[Any]]:
    get_run(engine, run_id)
    query = select(_delivery).where(_delivery.c.run_id == run_id).order_by(_delivery.c.id)
    with engine.connect() as connection:
        return list(connection.execute(query))


def retry_targets(engine: Engine, run_id: int) -> tuple[str, date, list[str]]:
    """(sociedad, statement date, clientes) of the customers that failed or bounced in ``run_id``."""
    run = get_run(engine, run_id)
    if run.mode != "send":
        raise DataError(
            f"La corrida {run_id} fue un ensayo ({run.mode}); no hay nada que reenviar."
        )
    query = select(_delivery.c.cliente).where(
        _delivery.c.run_id == run_id,
        _delivery.c.status.in_(
            ("failed", "uncertain", "pending", "in_flight", "partial", "bounced")
        ),
    )
    with engine.connect() as connection:
        clientes = list(connection.execute(query).scalars())
    if not clientes:
        raise DataError(f"La corrida {run_id} no tiene clientes fallidos.")
    return run.sociedad, run.statement_date, clientes


def sent_today(engine: Engine) -> int:
    """Messages sent since midnight (all runs): seeds the transport's daily cap."""
    from sqlalchemy import func

    midnight = datetime.combine(date.today(), time.min)
    query = select(func.count()).where(
        _delivery.c.status == "sent", _delivery.c.updated_at >= midnight
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)

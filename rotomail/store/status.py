"""What ``rotomail status`` reads: the customers a sociedad's statements are about, and
the records of the real runs for one statement date.

Library functions over an engine; what the records mean is ``delivery/status.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Engine, and_, func, select, union

from rotomail.store.models import CatalogEntry, Customer, Delivery, OpenItem, SendRun, table_of
from rotomail.words import Mode

_catalog = table_of(CatalogEntry)
_customer = table_of(Customer)
_delivery = table_of(Delivery)
_item = table_of(OpenItem)
_run = table_of(SendRun)


class Reported(NamedTuple):
    """A customer with open items in the snapshot or a catalog entry."""

    cliente: str
    nombre: str  # "" when the master does not know the customer
    in_catalog: bool


class Record(NamedTuple):
    """One customer's outcome in one real run (mode send) for the statement date."""

    cliente: str
    nombre: str
    status: str  # as stored: sent, partial, uncertain, bounced, failed, saved, skipped, ...
    run_id: int
    updated_at: datetime


def reported_customers(engine: Engine, sociedad: str) -> list[Reported]:
    """Every customer of ``sociedad`` (normalized) with open items or a catalog entry, once,
    by cliente."""
    with_items = select(_item.c.cliente).where(_item.c.sociedad == sociedad)
    with_entry = select(_catalog.c.cliente).where(_catalog.c.sociedad == sociedad)
    clientes = union(with_items, with_entry).subquery()
    query = (
        select(
            clientes.c.cliente,
            func.coalesce(_customer.c.nombre, ""),
            _catalog.c.cliente.is_not(None),
        )
        .outerjoin(
            _customer,
            and_(_customer.c.sociedad == sociedad, _customer.c.cliente == clientes.c.cliente),
        )
        .outerjoin(
            _catalog,
            and_(_catalog.c.sociedad == sociedad, _catalog.c.cliente == clientes.c.cliente),
        )
        .order_by(clientes.c.cliente)
    )
    with engine.connect() as connection:
        return [Reported(*row) for row in connection.execute(query)]


def statement_records(engine: Engine, sociedad: str, statement_date: date) -> list[Record]:
    """The per-customer rows of every real run (not a rehearsal or a dry run) of
    ``sociedad``'s statements of ``statement_date``, oldest run first."""
    query = (
        select(
            _delivery.c.cliente,
            _delivery.c.nombre,
            _delivery.c.status,
            _delivery.c.run_id,
            _delivery.c.updated_at,
        )
        .join(_run, _run.c.id == _delivery.c.run_id)
        .where(
            _delivery.c.sociedad == sociedad,
            _delivery.c.statement_date == statement_date,
            _run.c.mode == Mode.SEND,
        )
        .order_by(_delivery.c.run_id, _delivery.c.id)
    )
    with engine.connect() as connection:
        return [Record(*row) for row in connection.execute(query)]

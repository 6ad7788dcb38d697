"""The customer master: import (upsert by sociedad + cliente) and search."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, or_, select

from rotomail.ids import normalize_cliente, normalize_sociedad, search_key
from rotomail.inputs.parsers import CustomerParse, CustomerRecord, ParseResult, Reject
from rotomail.store.db import upsert
from rotomail.store.models import Customer, table_of

_customer = table_of(Customer)


@dataclass
class ImportSummary:
    inserted: int = 0
    updated: int = 0
    rejects: list[Reject] = field(default_factory=list)


def import_customers(engine: Engine, parsed: ParseResult[CustomerRecord]) -> ImportSummary:
    """Upsert the valid rows in one transaction; a later row of the same pair wins. A
    master without a collector column (``ejecutivo``) leaves the stored collectors as
    they are."""
    latest: dict[tuple[str, str], CustomerRecord] = {}
    for record in parsed.rows:
        latest[(record.sociedad, record.cliente)] = record
    now = datetime.now()
    with_collectors = not isinstance(parsed, CustomerParse) or "ejecutivo" in parsed.headings
    values = [
        {
            "sociedad": r.sociedad,
            "cliente": r.cliente,
            "nombre": r.nombre,
            "rfc": r.rfc,
            "correo": ";".join(r.correos),
            "idioma": r.idioma,
            "updated_at": now,
            "nombre_search": search_key(r.nombre),
        }
        | ({"ejecutivo": r.ejecutivo} if with_collectors else {})
        for r in latest.values()
    ]
    sociedades = sorted({sociedad for sociedad, _ in latest})
    existing_query = select(_customer.c.sociedad, _customer.c.cliente).where(
        _customer.c.sociedad.in_(sociedades)
    )
    with engine.begin() as connection:
        existing = {(s, c) for s, c in connection.execute(existing_query)}
        upsert(connection, _customer, values, keys=("sociedad", "cliente"))
    updated = sum(1 for key in latest if key in existing)
    return ImportSummary(len(values) - updated, updated, list(parsed.rejects))


@dataclass(frozen=True)
class CustomerRow:
    sociedad: str
    cliente: str
    nombre: str
    rfc: str
    correo: str
    idioma: str


def search_customers(
    engine: Engine,
    sociedad: str | None = None,
    cliente: str | None = None,
    nombre: str | None = None,
) -> list[CustomerRow]:
    query = select(
        _customer.c.sociedad,
        _customer.c.cliente,
        _customer.c.nombre,
        _customer.c.rfc,
        _customer.c.correo,
        _customer.c.idioma,
    )
    if sociedad:
        query = query.where(_customer.c.sociedad == normalize_sociedad(sociedad))
    if cliente:
        query = query.where(_customer.c.cliente == normalize_cliente(cliente))
    if nombre:
        key = search_key(nombre.strip())
        query = query.where(
            or_(
                _customer.c.nombre_search.contains(key, autoescape=True),
                func.lower(_customer.c.rfc).contains(key, autoescape=True),
            )
        )
    query = query.order_by(_customer.c.sociedad, _customer.c.cliente)
    with engine.connect() as connection:
        return [CustomerRow(*row) for row in connection.execute(query)]


def sociedad_known(engine: Engine, sociedad: str) -> bool:
    """True when the customer master has some customer of ``sociedad``."""
    query = (
        select(_customer.c.cliente)
        .where(_customer.c.sociedad == normalize_sociedad(sociedad))
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).first() is not None

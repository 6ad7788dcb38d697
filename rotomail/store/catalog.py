"""The recipient catalog as it is read: which addresses receive each customer's statement,
and which customers are held. Light on purpose: ``catalog search`` imports only this (the
edits are in ``catalog_edits``, the customers nobody covers in ``missing``).

Library functions over an engine; the CLI only parses options and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, func, or_, select

from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad, search_key
from rotomail.store.models import CatalogEntry, CatalogHold, Customer, table_of

_catalog = table_of(CatalogEntry)
_customer = table_of(Customer)
_hold = table_of(CatalogHold)


@dataclass(frozen=True)
class CatalogRow:
    sociedad: str
    cliente: str
    nombre: str
    correo_text: str  # the addresses joined by ";", as stored
    idioma: str = ""  # the entry's own language ("" = the master's, else the company's)
    master_idioma: str = ""  # the master's language ("" = the company's)
    retenido: str = ""  # the reason of the customer's hold; "" when not held

    @property
    def correos(self) -> list[str]:
        return self.correo_text.split(";")


def search_entries(
    engine: Engine,
    sociedad: str | None = None,
    cliente: str | None = None,
    text: str | None = None,
    nombre: str | None = None,
) -> list[CatalogRow]:
    """Entries by sociedad and/or cliente, plus a substring of the name or an address
    (``text``) and/or of the name (``nombre``); accents and case never matter. Each with
    the master's language and the reason of its hold, if it is held."""
    query = (
        select(
            _catalog.c.sociedad,
            _catalog.c.cliente,
            _customer.c.nombre,
            _catalog.c.correos,
            _catalog.c.idioma,
            _customer.c.idioma,
            func.coalesce(_hold.c.reason, ""),
        )
        .join(
            _customer,
            and_(
                _customer.c.sociedad == _catalog.c.sociedad,
                _customer.c.cliente == _catalog.c.cliente,
            ),
        )
        .outerjoin(
            _hold,
            and_(_hold.c.sociedad == _catalog.c.sociedad, _hold.c.cliente == _catalog.c.cliente),
        )
    )
    if sociedad:
        query = query.where(_catalog.c.sociedad == normalize_sociedad(sociedad))
    if cliente:
        query = query.where(_catalog.c.cliente == normalize_cliente(cliente))
    if text:
        key = search_key(text.strip())
        query = query.where(
            or_(
                _customer.c.nombre_search.contains(key, autoescape=True),
                _catalog.c.correos_search.contains(key, autoescape=True),
            )
        )
    if nombre:
        query = query.where(
            _customer.c.nombre_search.contains(search_key(nombre.strip()), autoescape=True)
        )
    query = query.order_by(_catalog.c.sociedad, _catalog.c.cliente)
    with engine.connect() as connection:
        return [CatalogRow(*row) for row in connection.execute(query).all()]


def not_in_catalog(sociedad: str, cliente: str) -> DataError:
    return DataError(
        f"No existe en el catálogo el cliente {normalize_cliente(cliente)} "
        f"de la sociedad {normalize_sociedad(sociedad)}."
    )


def get_entry(engine: Engine, sociedad: str, cliente: str) -> CatalogRow:
    found = search_entries(engine, sociedad, cliente)
    if not found:
        raise not_in_catalog(sociedad, cliente)
    return found[0]


def recipients_of(engine: Engine, sociedad: str) -> list[Row[Any]]:
    """Every catalog entry of ``sociedad`` (normalized) by cliente, with the master's
    name, RFC and language: (cliente, nombre, rfc, correos, idioma, master_idioma)."""
    query = (
        select(
            _catalog.c.cliente,
            _customer.c.nombre,
            _customer.c.rfc,
            _catalog.c.correos,
            _catalog.c.idioma,
            _customer.c.idioma.label("master_idioma"),
        )
        .join(
            _customer,
            and_(
                _customer.c.sociedad == _catalog.c.sociedad,
                _customer.c.cliente == _catalog.c.cliente,
            ),
        )
        .where(_catalog.c.sociedad == sociedad)
        .order_by(_catalog.c.cliente)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


@dataclass(frozen=True)
class HoldRow:
    """A held customer: why, who held it and when."""

    sociedad: str
    cliente: str
    nombre: str  # "" when the master no longer knows the customer
    reason: str
    held_by: str
    held_at: datetime


def list_holds(engine: Engine, sociedad: str | None = None) -> list[HoldRow]:
    """Every held customer (of ``sociedad``, or of all), by sociedad and cliente."""
    query = select(
        _hold.c.sociedad,
        _hold.c.cliente,
        func.coalesce(_customer.c.nombre, ""),
        _hold.c.reason,
        _hold.c.held_by,
        _hold.c.held_at,
    ).outerjoin(
        _customer,
        and_(_customer.c.sociedad == _hold.c.sociedad, _customer.c.cliente == _hold.c.cliente),
    )
    if sociedad:
        query = query.where(_hold.c.sociedad == normalize_sociedad(sociedad))
    query = query.order_by(_hold.c.sociedad, _hold.c.cliente)
    with engine.connect() as connection:
        return [HoldRow(*row) for row in connection.execute(query).all()]


def holds_of(engine: Engine, sociedad: str) -> dict[str, str]:
    """cliente -> reason, for the held customers of ``sociedad``."""
    return {hold.cliente: hold.reason for hold in list_holds(engine, sociedad)}

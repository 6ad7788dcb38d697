"""The recipient catalog: which addresses receive each customer's statement.

Library functions over an engine; the CLI only parses options and prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Engine, String, Text, and_, column, delete, or_, select, table

from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad, search_key
from rotomail.store.db import upsert

if TYPE_CHECKING:
    from rotomail.inputs.parsers import PasteRecord

CUSTOMER_NOT_FOUND = "Sociedad no encontrada para este cliente"
SAVED = "La información se actualizó exitosamente."

# Lightweight views (sqlalchemy.table) of the columns these functions touch, instead of
# the SQLModel classes: importing SQLModel and the ORM costs ~0.1 s, a fifth of the 0.5 s
# budget for `catalog search`. tests/test_migrations.py checks them against rotomail.store.models.
_catalog = table(
    "catalog_entry",
    column("sociedad", String),
    column("cliente", String),
    column("correos", String),
    column("updated_at", DateTime),
    column("correos_search", Text),
)
_customer = table(
    "customer",
    column("sociedad", String),
    column("cliente", String),
    column("nombre", String),
    column("correo", String),
    column("nombre_search", Text),
)


@dataclass(frozen=True)
class CatalogRow:
    sociedad: str
    cliente: str
    nombre: str
    correo_text: str  # the addresses joined by ";", as stored

    @property
    def correos(self) -> list[str]:
        return self.correo_text.split(";")


def add_entry(engine: Engine, sociedad: str, cliente: str, correos_text: str) -> CatalogRow:
    """Create or replace one entry (Alta individual). Nothing is written on error."""
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    with engine.begin() as connection:
        nombre = connection.execute(
            select(_customer.c.nombre).where(
                _customer.c.sociedad == sociedad, _customer.c.cliente == cliente
            )
        ).scalar()
        if nombre is None:
            raise DataError(CUSTOMER_NOT_FOUND)
        from rotomail.inputs.addresses import parse_addresses

        correos = parse_addresses(correos_text)
        upsert(
            connection,
            _catalog,
            [_entry_values(sociedad, cliente, correos)],
            keys=("sociedad", "cliente"),
        )
    return CatalogRow(sociedad, cliente, nombre, ";".join(correos))


def _entry_values(sociedad: str, cliente: str, correos: list[str]) -> dict[str, object]:
    return {
        "sociedad": sociedad,
        "cliente": cliente,
        "correos": ";".join(correos),
        "updated_at": datetime.now(),
        "correos_search": search_key(";".join(correos)),
    }


def search_entries(
    engine: Engine,
    sociedad: str | None = None,
    cliente: str | None = None,
    text: str | None = None,
    nombre: str | None = None,
) -> list[CatalogRow]:
    """Entries by sociedad and/or cliente, plus a substring of the name or an address
    (``text``) and/or of the name (``nombre``); accents and case never matter."""
    query = select(
        _catalog.c.sociedad, _catalog.c.cliente, _customer.c.nombre, _catalog.c.correos
    ).join(
        _customer,
        and_(
            _customer.c.sociedad == _catalog.c.sociedad,
            _customer.c.cliente == _catalog.c.cliente,
        ),
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


def _not_in_catalog(sociedad: str, cliente: str) -> DataError:
    return DataError(
        f"No existe en el catálogo el cliente {normalize_cliente(cliente)} "
        f"de la sociedad {normalize_sociedad(sociedad)}."
    )


def get_entry(engine: Engine, sociedad: str, cliente: str) -> CatalogRow:
    found = search_entries(engine, sociedad, cliente)
    if not found:
        raise _not_in_catalog(sociedad, cliente)
    return found[0]


def delete_entry(engine: Engine, sociedad: str, cliente: str) -> None:
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    with engine.begin() as connection:
        result = connection.execute(
            delete(_catalog).where(_catalog.c.sociedad == sociedad, _catalog.c.cliente == cliente)
        )
        if result.rowcount == 0:
            raise _not_in_catalog(sociedad, cliente)


# --- Alta masiva -------------------------------------------------------------------------

READY = "Listo para grabar"
READY_REPLACES = "Listo para grabar (reemplaza los correos actuales)"
WRITTEN = "Grabado"
NOT_WRITTEN = "No se grabó: "


@dataclass(frozen=True)
class ImportRow:
    """One pasted row with what will happen, or what happened, to it."""

    line: int
    sociedad: str
    cliente: str
    nombre: str = ""
    correos: list[str] = field(default_factory=list)
    message: str = READY
    ok: bool = True

    @property
    def correo_text(self) -> str:
        return ";".join(self.correos)


def plan_import(engine: Engine, records: Iterable[PasteRecord]) -> list[ImportRow]:
    """Validate pasted rows against the customer master; no writes.

    The same pair twice: the last row wins and the earlier one says so.
    """
    from rotomail.inputs.addresses import parse_addresses

    rows = list(records)
    last_line = {(r.sociedad, r.cliente): r.line for r in rows if not r.error}
    sociedades = {sociedad for sociedad, _ in last_line}
    customers = _customers_of(engine, sociedades)
    existing = _catalog_keys_of(engine, sociedades)
    return [_plan_row(record, customers, existing, last_line, parse_addresses) for record in rows]


def _plan_row(
    record: PasteRecord,
    customers: dict[tuple[str, str], tuple[str, str]],
    existing: set[tuple[str, str]],
    last_line: dict[tuple[str, str], int],
    parse_addresses: Callable[[str], list[str]],
) -> ImportRow:
    key = (record.sociedad, record.cliente)
    text = record.correo_text
    nombre, message, correos = "", record.error, [text] if text else []
    customer = None if message else customers.get(key)
    if not message and customer is None:
        message = CUSTOMER_NOT_FOUND
    if customer is not None:
        nombre, master_email = customer
        if not text.strip():
            text = master_email
        if not text.strip():
            message = "Sin correo: ni en la fila ni en el maestro de clientes"
    if not message:
        try:
            correos = parse_addresses(text)
        except DataError as exc:
            message = exc.message
    if not message and last_line[key] != record.line:
        message = f"Repetido: se usa la línea {last_line[key]}"
    if message:
        return ImportRow(record.line, *key, nombre, correos, message, ok=False)
    return ImportRow(
        record.line, *key, nombre, correos, READY_REPLACES if key in existing else READY
    )


# One query per sociedad: far cheaper than huge IN lists for a bulk paste.
def _customers_of(engine: Engine, sociedades: set[str]) -> dict[tuple[str, str], tuple[str, str]]:
    query = select(
        _customer.c.sociedad, _customer.c.cliente, _customer.c.nombre, _customer.c.correo
    ).where(_customer.c.sociedad.in_(sorted(sociedades)))
    with engine.connect() as connection:
        return {(s, c): (nombre, correo) for s, c, nombre, correo in connection.execute(query)}


def _catalog_keys_of(engine: Engine, sociedades: set[str]) -> set[tuple[str, str]]:
    query = select(_catalog.c.sociedad, _catalog.c.cliente).where(
        _catalog.c.sociedad.in_(sorted(sociedades))
    )
    with engine.connect() as connection:
        return {(s, c) for s, c in connection.execute(query)}


def apply_import(engine: Engine, plan: list[ImportRow]) -> list[ImportRow]:
    """Save every valid row in one transaction; return the rows with their outcome."""
    valid = [row for row in plan if row.ok]
    with engine.begin() as connection:
        upsert(
            connection,
            _catalog,
            [_entry_values(row.sociedad, row.cliente, row.correos) for row in valid],
            keys=("sociedad", "cliente"),
        )
    return [replace(row, message=WRITTEN if row.ok else NOT_WRITTEN + row.message) for row in plan]

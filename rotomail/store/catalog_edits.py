"""Changes to the recipient catalog: an entry added, replaced or deleted (Alta individual),
a customer held or released, pasted rows planned and saved (Alta masiva), and the trail of
who changed what.

Library functions over an engine; the CLI only parses options and prints.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    insert,
    select,
)

from rotomail.company import language_code
from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_cliente, normalize_sociedad, search_key
from rotomail.inputs.addresses import judge_ahead, parse_addresses
from rotomail.store.catalog import CatalogRow, not_in_catalog
from rotomail.store.db import upsert
from rotomail.store.models import CatalogChange, CatalogEntry, CatalogHold, Customer, table_of

if TYPE_CHECKING:
    from rotomail.inputs.parsers import PasteRecord


def customer_not_found(sociedad: str, cliente: str, sociedad_known: bool) -> str:
    """Why a (sociedad, cliente) is refused: a customer number the sociedad's master does
    not have, or a sociedad the master has no customer of."""
    if sociedad_known:
        return (
            f"Cliente {cliente} no encontrado en el maestro de clientes de la sociedad {sociedad}"
        )
    return f"Sociedad {sociedad} no encontrada en el maestro de clientes"


SAVED = "La información se actualizó exitosamente."

_catalog = table_of(CatalogEntry)
_customer = table_of(Customer)
_hold = table_of(CatalogHold)
_change = table_of(CatalogChange)

LANGUAGE_HELP = "S, E o P (claves de SAP) o es, en, pt"


def parse_language(raw: str, what: str = "Idioma") -> str:
    """``"E"``/``"en"``/``"English"`` -> ``"en"``; "" for blank; DataError when unknown."""
    if not raw.strip():
        return ""
    code = language_code(raw)
    if not code:
        raise DataError(f"{what} «{raw.strip()}» no válido: use {LANGUAGE_HELP}.")
    return code


def os_user() -> str:
    """Who made a change: the operating-system user (the audit trail's "who")."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        return "desconocido"


def add_entry(
    engine: Engine, sociedad: str, cliente: str, correos_text: str, idioma: str = ""
) -> CatalogRow:
    """Create or replace one entry (Alta individual). Nothing is written on error."""
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    idioma = parse_language(idioma)
    with engine.begin() as connection:
        nombre = _customer_name(connection, sociedad, cliente)
        correos = parse_addresses(correos_text)
        before = _entries_now(connection, [(sociedad, cliente)])
        values = _entry_values(sociedad, cliente, correos, idioma)
        upsert(connection, _catalog, [values], keys=("sociedad", "cliente"))
        key = (sociedad, cliente)
        action = "replace" if key in before else "add"
        log_changes(connection, [(key, action, before.get(key), _entry_state(values))])
    return CatalogRow(sociedad, cliente, nombre, ";".join(correos), idioma)


def _customer_name(connection: Connection, sociedad: str, cliente: str) -> str:
    """The customer's name in the master; DataError when the master does not have it."""
    nombre = connection.execute(
        select(_customer.c.nombre).where(
            _customer.c.sociedad == sociedad, _customer.c.cliente == cliente
        )
    ).scalar()
    if nombre is None:
        known = connection.execute(
            select(_customer.c.cliente).where(_customer.c.sociedad == sociedad).limit(1)
        ).first()
        raise DataError(customer_not_found(sociedad, cliente, known is not None))
    return str(nombre)


def _entry_values(
    sociedad: str, cliente: str, correos: list[str], idioma: str = ""
) -> dict[str, object]:
    return {
        "sociedad": sociedad,
        "cliente": cliente,
        "correos": ";".join(correos),
        "idioma": idioma,
        "updated_at": datetime.now(),
        "correos_search": search_key(";".join(correos)),
    }


def delete_entry(engine: Engine, sociedad: str, cliente: str) -> None:
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    with engine.begin() as connection:
        before = _entries_now(connection, [(sociedad, cliente)])
        result = connection.execute(
            delete(_catalog).where(_catalog.c.sociedad == sociedad, _catalog.c.cliente == cliente)
        )
        if result.rowcount == 0:
            raise not_in_catalog(sociedad, cliente)
        key = (sociedad, cliente)
        log_changes(connection, [(key, "delete", before.get(key), None)])


# --- who changed what ------------------------------------------------------------------

ACTION_TEXT = {
    "add": "alta",
    "replace": "reemplazo",
    "delete": "borrado",
    "hold": "retención",
    "release": "liberación",
    "import": "alta masiva",
    "dispute": "aclaración",
    "resolve": "aclaración resuelta",
    "dispute_cleared": "aclaración terminada (compensada)",
}


def _entry_state(values: dict[str, Any]) -> dict[str, str]:
    return {"correos": str(values["correos"]), "idioma": str(values.get("idioma") or "")}


def _entries_now(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, str]]:
    """The current entries of ``keys`` (one query per sociedad), as the trail stores them."""
    wanted = set(keys)
    result: dict[tuple[str, str], dict[str, str]] = {}
    for sociedad in sorted({s for s, _ in wanted}):
        query = select(
            _catalog.c.sociedad, _catalog.c.cliente, _catalog.c.correos, _catalog.c.idioma
        ).where(_catalog.c.sociedad == sociedad)
        if len(wanted) < 100:
            query = query.where(_catalog.c.cliente.in_(sorted(c for s, c in wanted)))
        for s, c, correos, idioma in connection.execute(query):
            if (s, c) in wanted:
                result[(s, c)] = {"correos": correos, "idioma": idioma or ""}
    return result


def log_changes(
    connection: Connection,
    changes: Iterable[tuple[tuple[str, str], str, dict[str, str] | None, dict[str, str] | None]],
) -> None:
    """One trail row per change: (key, action, before, after); None = no entry."""
    user, now = os_user()[:100], datetime.now()
    rows = [
        {
            "sociedad": sociedad,
            "cliente": cliente,
            "action": action,
            "changed_by": user,
            "changed_at": now,
            "before": json.dumps(before, ensure_ascii=False) if before is not None else "",
            "after": json.dumps(after, ensure_ascii=False) if after is not None else "",
        }
        for (sociedad, cliente), action, before, after in changes
    ]
    for start in range(0, len(rows), 2000):
        connection.execute(insert(_change), rows[start : start + 2000])


@dataclass(frozen=True)
class CatalogChangeRow:
    changed_at: datetime
    changed_by: str
    action: str
    before: str  # as shown: "a@x.example.mx;b@x.example.mx (en)", "retenido: disputa", ""
    after: str


def _state_text(raw: str) -> str:
    if not raw:
        return ""
    state = json.loads(raw)
    if "aclaracion" in state:
        return f"en aclaración {state.get('documento', '')}: {state['aclaracion']}"
    if "retenido" in state:
        return f"retenido: {state['retenido']}"
    idioma = state.get("idioma") or ""
    return state.get("correos", "") + (f" ({idioma})" if idioma else "")


def list_changes(engine: Engine, sociedad: str, cliente: str) -> list[CatalogChangeRow]:
    """Every change to one customer's entry and hold, oldest first."""
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    query = (
        select(
            _change.c.changed_at,
            _change.c.changed_by,
            _change.c.action,
            _change.c.before,
            _change.c.after,
        )
        .where(_change.c.sociedad == sociedad, _change.c.cliente == cliente)
        .order_by(_change.c.id)
    )
    with engine.connect() as connection:
        return [
            CatalogChangeRow(
                at, by, ACTION_TEXT.get(action, action), _state_text(before), _state_text(after)
            )
            for at, by, action, before, after in connection.execute(query)
        ]


# --- holds -------------------------------------------------------------------------------


def hold_customer(engine: Engine, sociedad: str, cliente: str, reason: str) -> None:
    """Hold one customer's statement (SAP's dunning block): never selected, never sent."""
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("Indique el motivo de la retención con --reason.")
    with engine.begin() as connection:
        _customer_name(connection, sociedad, cliente)
        before = _hold_state(connection, sociedad, cliente)
        values = {
            "sociedad": sociedad,
            "cliente": cliente,
            "reason": reason,
            "held_by": os_user()[:100],
            "held_at": datetime.now(),
        }
        upsert(connection, _hold, [values], keys=("sociedad", "cliente"))
        log_changes(connection, [((sociedad, cliente), "hold", before, {"retenido": reason})])


def release_customer(engine: Engine, sociedad: str, cliente: str) -> None:
    sociedad, cliente = normalize_sociedad(sociedad), normalize_cliente(cliente)
    with engine.begin() as connection:
        before = _hold_state(connection, sociedad, cliente)
        if before is None:
            raise DataError(f"El cliente {cliente} de la sociedad {sociedad} no está retenido.")
        connection.execute(
            delete(_hold).where(_hold.c.sociedad == sociedad, _hold.c.cliente == cliente)
        )
        log_changes(connection, [((sociedad, cliente), "release", before, None)])


def _hold_state(connection: Connection, sociedad: str, cliente: str) -> dict[str, str] | None:
    reason = connection.execute(
        select(_hold.c.reason).where(_hold.c.sociedad == sociedad, _hold.c.cliente == cliente)
    ).scalar()
    return None if reason is None else {"retenido": reason}


# --- Alta masiva -------------------------------------------------------------------------

READY = "Listo para grabar"
READY_REPLACES = "Listo para grabar (reemplaza los correos actuales)"
WRITTEN = "Grabado"
UNCHANGED = "Sin cambios: el catálogo ya lo tenía así"
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
    idioma: str = ""  # from an Idioma column; "" keeps the master's / company's

    @property
    def correo_text(self) -> str:
        return ";".join(self.correos)


def plan_import(engine: Engine, records: Iterable[PasteRecord]) -> list[ImportRow]:
    """Validate pasted rows against the customer master; no writes.

    The same pair twice: the last row wins and the earlier one says so.
    """
    rows = list(records)
    last_line = {(r.sociedad, r.cliente): r.line for r in rows if not r.error}
    sociedades = {sociedad for sociedad, _ in last_line}
    customers = _customers_of(engine, sociedades)
    existing = _catalog_keys_of(engine, sociedades)
    known = {sociedad for sociedad, _ in customers}
    # the addresses _plan_row will validate: those of rows of a known customer, or the
    # master's when the row has none
    judge_ahead(
        record.correo_text if record.correo_text.strip() else customers[key][1]
        for record in rows
        if not record.error and (key := (record.sociedad, record.cliente)) in customers
    )
    return [
        _plan_row(record, customers, existing, last_line, parse_addresses, known) for record in rows
    ]


def _plan_row(
    record: PasteRecord,
    customers: dict[tuple[str, str], tuple[str, str]],
    existing: set[tuple[str, str]],
    last_line: dict[tuple[str, str], int],
    parse_addresses: Callable[[str], list[str]],
    known_sociedades: set[str],
) -> ImportRow:
    key = (record.sociedad, record.cliente)
    text = record.correo_text
    nombre, message, correos = "", record.error, [text] if text else []
    customer = None if message else customers.get(key)
    if not message and customer is None:
        message = customer_not_found(*key, record.sociedad in known_sociedades)
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
    idioma = ""
    if not message:
        try:
            idioma = parse_language(record.idioma)
        except DataError as exc:
            message = exc.message
    if not message and last_line[key] != record.line:
        message = f"Repetido: se usa la línea {last_line[key]}"
    if message:
        return ImportRow(record.line, *key, nombre, correos, message, ok=False)
    return ImportRow(
        record.line,
        *key,
        nombre,
        correos,
        READY_REPLACES if key in existing else READY,
        idioma=idioma,
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
    values = [_entry_values(row.sociedad, row.cliente, row.correos, row.idioma) for row in valid]
    keys = [(row.sociedad, row.cliente) for row in valid]
    with engine.begin() as connection:
        before = _entries_now(connection, keys)
        # an entry already as the row says is left alone: no write, no change in the trail
        changed = [
            (key, value)
            for key, value in zip(keys, values, strict=True)
            if before.get(key) != _entry_state(value)
        ]
        unchanged = set(keys) - {key for key, _ in changed}
        if changed:
            upsert(connection, _catalog, [v for _, v in changed], keys=("sociedad", "cliente"))
        log_changes(
            connection,
            [(key, "import", before.get(key), _entry_state(value)) for key, value in changed],
        )
    return [
        replace(
            row,
            message=(UNCHANGED if (row.sociedad, row.cliente) in unchanged else WRITTEN)
            if row.ok
            else NOT_WRITTEN + row.message,
        )
        for row in plan
    ]

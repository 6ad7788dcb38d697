"""Who has received a statement, and what became of everyone else's: the state of each
customer's statement for one date (``rotomail status``).

The customers are those with open items in the snapshot or with a catalog entry, each
once. Their state comes from the records of the real runs for that date (rehearsals and
dry runs send nobody anything) and, when no run says anything, from the catalog as it is
now. When several apply, the first of ``STATES`` wins: a statement sent in one run and
failed in a later ``--force`` run was received.

For a date other than the snapshot's, the snapshot says nothing about who had open items
then, so the answer is built from the run records only: the customers some run included,
without balances.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_sociedad
from rotomail.store.catalog import list_holds
from rotomail.store.ledger import balances, snapshot_of
from rotomail.store.status import Record, reported_customers, statement_records
from rotomail.words import SPANISH, Status

HELD = "retenido"
MISSING = "sin correo"  # open items, no catalog entry
PENDING = "pendiente"  # a catalog entry, nothing sent yet
# A run's outcome -> the customer's state. Never tried ("pending") and dry runs ("built")
# say nothing; a customer still in flight is reported as the run would end it if it died.
_RECORDED: dict[str, str] = {
    status: SPANISH[status]
    for status in (
        Status.SENT,
        Status.PARTIAL,
        Status.UNCERTAIN,
        Status.BOUNCED,
        Status.FAILED,
        Status.SAVED,
        Status.SKIPPED,
    )
}
_RECORDED[Status.IN_FLIGHT] = SPANISH[Status.UNCERTAIN]
# Every state, in the order of precedence when several apply.
STATES = (
    "enviado",
    "parcial",
    "incierto",
    "rebotado",
    "fallido",
    "guardado",
    "omitido",  # left out by the run (--skip-zero)
    HELD,
    MISSING,
    PENDING,
)
_RANK = {state: rank for rank, state in enumerate(STATES)}


@dataclass(frozen=True)
class CustomerState:
    """One customer's statement for the date: its state, and the run (and the time) that
    decided it; for a held customer, when it was held."""

    sociedad: str
    cliente: str
    nombre: str
    estado: str  # one of STATES
    saldo: dict[str, Decimal] = field(default_factory=dict)  # per currency; {} = unknown/none
    corrida: int | None = None
    fecha: datetime | None = None
    ejecutivo: str = ""  # the customer's collector: not known to rotomail yet


@dataclass(frozen=True)
class StatementStatus:
    sociedad: str
    statement_date: date
    snapshot_date: date | None  # the open items' date; None when none are imported
    customers: list[CustomerState]

    @property
    def from_records_only(self) -> bool:
        """True when the date is not the snapshot's: the run records are all there is."""
        return self.snapshot_date != self.statement_date

    def counts(self) -> dict[str, int]:
        """state -> customers, in the order of STATES, states nobody is in left out."""
        found = {state: 0 for state in STATES}
        for customer in self.customers:
            found[customer.estado] += 1
        return {state: count for state, count in found.items() if count}


def parse_state(text: str) -> str:
    """A state as the user typed it (``FALLIDO``, ``sin-correo``), or UsageError."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    plain = " ".join(plain.replace("-", " ").replace("_", " ").split())
    if plain not in _RANK:
        listed = ", ".join(f"«{state}»" for state in STATES)
        raise UsageError(f"Estado «{text}» no válido: use {listed}.")
    return plain


def decide(
    records: Iterable[Record], *, held_at: datetime | None, in_catalog: bool
) -> tuple[str, Record | None]:
    """The state of one customer's statement and the record that decided it.

    ``records`` are the customer's rows of the real runs for the date, oldest first; the
    latest of the best state decides. Without one: held (``held_at`` is when), no catalog
    entry, or pending (the latest run that never tried it, if any).
    """
    best: tuple[str, Record] | None = None
    untried: Record | None = None
    for record in records:
        state = _RECORDED.get(record.status)
        if state is None:
            untried = record
        elif best is None or _RANK[state] <= _RANK[best[0]]:
            best = (state, record)
    if best is not None:
        return best
    if held_at is not None:
        return HELD, None
    if not in_catalog:
        return MISSING, None
    return PENDING, untried


def statement_status(
    engine: Engine,
    sociedad: str,
    statement_date: date | None = None,
    states: Collection[str] = (),
) -> StatementStatus:
    """The state of every customer's statement of ``sociedad`` for ``statement_date``
    (default: the snapshot's date), narrowed to ``states`` when given."""
    sociedad = normalize_sociedad(sociedad)
    snapshot = snapshot_of(engine, sociedad)
    ledger_date = snapshot.snapshot_date if snapshot else None
    if statement_date is None:
        if ledger_date is None:
            raise DataError(
                f"No hay partidas abiertas importadas para la sociedad {sociedad}; indique la "
                "fecha con --date (el estado se arma entonces con los registros de envío)."
            )
        statement_date = ledger_date
    by_customer: dict[str, list[Record]] = {}
    for record in statement_records(engine, sociedad, statement_date):
        by_customer.setdefault(record.cliente, []).append(record)
    if ledger_date == statement_date:
        customers = _from_snapshot(engine, sociedad, by_customer)
    else:
        customers = _from_records(sociedad, by_customer)
    if states:
        customers = [c for c in customers if c.estado in states]
    return StatementStatus(sociedad, statement_date, ledger_date, customers)


def _from_snapshot(
    engine: Engine, sociedad: str, by_customer: dict[str, list[Record]]
) -> list[CustomerState]:
    totals = balances(engine, sociedad)
    held = {hold.cliente: hold.held_at for hold in list_holds(engine, sociedad)}
    result = []
    for customer in reported_customers(engine, sociedad):
        held_at = held.get(customer.cliente)
        state, record = decide(
            by_customer.get(customer.cliente, ()),
            held_at=held_at,
            in_catalog=customer.in_catalog,
        )
        result.append(
            CustomerState(
                sociedad,
                customer.cliente,
                customer.nombre,
                state,
                totals.get(customer.cliente, {}),
                record.run_id if record else None,
                record.updated_at if record else (held_at if state == HELD else None),
            )
        )
    return result


def _from_records(sociedad: str, by_customer: dict[str, list[Record]]) -> list[CustomerState]:
    result = []
    for cliente in sorted(by_customer):
        records = by_customer[cliente]
        state, record = decide(records, held_at=None, in_catalog=True)
        result.append(
            CustomerState(
                sociedad,
                cliente,
                records[-1].nombre,
                state,
                {},
                record.run_id if record else None,
                record.updated_at if record else None,
            )
        )
    return result

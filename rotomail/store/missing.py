"""Nobody left out silently: the customers with open items that neither have a catalog entry
nor are held, so nobody would get their statement.

Library functions over an engine; the CLI only parses options and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from rotomail.ids import normalize_sociedad
from rotomail.statement.labels import format_balances
from rotomail.store.ledger import balances
from rotomail.store.models import CatalogEntry, CatalogHold, Customer, table_of

_catalog = table_of(CatalogEntry)
_customer = table_of(Customer)
_hold = table_of(CatalogHold)


@dataclass(frozen=True)
class MissingCustomer:
    """A customer with open items but neither a catalog entry nor a hold: nobody would
    get their statement."""

    sociedad: str
    cliente: str
    nombre: str  # "" when the master does not know the customer
    correo: str  # the master's address(es), when it has any
    balance: dict[str, Decimal]

    @property
    def balance_text(self) -> str:
        return format_balances(self.balance)


def missing_customers(engine: Engine, sociedad: str) -> list[MissingCustomer]:
    """Customers of ``sociedad`` with open items, no catalog entry and no hold."""
    sociedad = normalize_sociedad(sociedad)
    totals = balances(engine, sociedad)
    with engine.connect() as connection:
        covered = {
            cliente
            for (cliente,) in connection.execute(
                select(_catalog.c.cliente).where(_catalog.c.sociedad == sociedad)
            )
        }
        covered |= {
            cliente
            for (cliente,) in connection.execute(
                select(_hold.c.cliente).where(_hold.c.sociedad == sociedad)
            )
        }
        wanted = sorted(set(totals) - covered)
        master = {
            cliente: (nombre, correo)
            for cliente, nombre, correo in connection.execute(
                select(_customer.c.cliente, _customer.c.nombre, _customer.c.correo).where(
                    _customer.c.sociedad == sociedad
                )
            )
            if cliente in set(wanted)
        }
    return [
        MissingCustomer(sociedad, cliente, *master.get(cliente, ("", "")), totals[cliente])
        for cliente in wanted
    ]

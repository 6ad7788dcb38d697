"""Who can get a statement: a sociedad's catalog entries with name and balance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, and_, select

from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.statement.labels import format_amount
from rotomail.store.ledger import balances
from rotomail.store.models import CatalogEntry, Customer

_catalog = CatalogEntry.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Candidate:
    sociedad: str
    cliente: str
    nombre: str
    rfc: str
    correos: tuple[str, ...]
    balance: dict[str, Decimal] = field(default_factory=dict)

    @property
    def balance_text(self) -> str:
        if not any(self.balance.values()):
            return "sin saldo"
        return " · ".join(
            f"{moneda} {format_amount(total, 'es')}"
            for moneda, total in sorted(self.balance.items())
        )


def list_candidates(
    engine: Engine, sociedad: str, clientes: Iterable[str] | None = None
) -> list[Candidate]:
    """Catalog entries of ``sociedad`` (narrowed to ``clientes``) with name and balance."""
    sociedad = normalize_sociedad(sociedad)
    wanted = [normalize_cliente(c) for c in clientes] if clientes else None
    query = (
        select(_catalog.c.cliente, _customer.c.nombre, _customer.c.rfc, _catalog.c.correos)
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
        rows = connection.execute(query).all()
    if not rows:
        raise DataError(f"La sociedad {sociedad} no tiene clientes en el catálogo de envío.")
    totals = balances(engine, sociedad)
    found = {
        row.cliente: Candidate(
            sociedad,
            row.cliente,
            row.nombre,
            row.rfc,
            tuple(row.correos.split(";")),
            totals.get(row.cliente, {}),
        )
        for row in rows
    }
    if wanted is None:
        return list(found.values())
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(f"No están en el catálogo de la sociedad {sociedad}: {', '.join(missing)}")
    return [found[c] for c in dict.fromkeys(wanted)]

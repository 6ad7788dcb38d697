"""Who can get a statement: a sociedad's catalog entries with name, balance and language;
held customers never are; addresses that bounced are left out of a retry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import Engine

from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.statement.labels import format_balances
from rotomail.store.bounces import bounced_addresses
from rotomail.store.catalog import holds_of, recipients_of
from rotomail.store.disputes import disputed_balances
from rotomail.store.ledger import balances


@dataclass(frozen=True)
class Candidate:
    sociedad: str
    cliente: str
    nombre: str
    rfc: str
    correos: tuple[str, ...]
    balance: dict[str, Decimal] = field(default_factory=dict)
    idioma: str = ""  # the catalog entry's language, else the master's; "" = the company's
    ejecutivo: str = ""  # the collector's code (the master's "Encargado"); "" = none
    # currency -> the amount of its disputed open items (in ``balance``, not overdue)
    disputed: dict[str, Decimal] = field(default_factory=dict)

    @property
    def balance_text(self) -> str:
        return format_balances(self.balance)

    @property
    def disputed_text(self) -> str:
        """The disputed amounts per currency, "" without any."""
        return format_balances(self.disputed) if self.disputed else ""


def list_candidates(
    engine: Engine, sociedad: str, clientes: Iterable[str] | None = None
) -> list[Candidate]:
    """Catalog entries of ``sociedad`` (narrowed to ``clientes``) with name, balance and
    language; held customers are never candidates (naming one is an error)."""
    sociedad = normalize_sociedad(sociedad)
    wanted = [normalize_cliente(c) for c in clientes] if clientes else None
    rows = recipients_of(engine, sociedad)
    if not rows:
        raise DataError(f"La sociedad {sociedad} no tiene clientes en el catálogo de envío.")
    totals = balances(engine, sociedad)
    disputed = disputed_balances(engine, sociedad)
    held = holds_of(engine, sociedad)
    found = {
        row.cliente: Candidate(
            sociedad,
            row.cliente,
            row.nombre,
            row.rfc,
            tuple(row.correos.split(";")),
            totals.get(row.cliente, {}),
            row.idioma or row.master_idioma or "",  # both stored as es | pt | en
            row.ejecutivo,
            disputed.get(row.cliente, {}),
        )
        for row in rows
        if row.cliente not in held
    }
    if wanted is None:
        return list(found.values())
    named_held = [c for c in wanted if c in held]
    if named_held:
        raise DataError(
            f"Retenido (no se envía): {', '.join(f'{c} ({held[c]})' for c in named_held)}; "
            f"libérelo con «rotomail catalog release {sociedad} {named_held[0]}»."
        )
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(f"No están en el catálogo de la sociedad {sociedad}: {', '.join(missing)}")
    return [found[c] for c in dict.fromkeys(wanted)]


def without_bounced(engine: Engine, candidates: list[Candidate]) -> list[Candidate]:
    """The candidates with only their addresses that never bounced (for --retry-failed);
    a candidate left with none is reported "sin dirección válida" by the run."""
    if not candidates:
        return candidates
    bounced = bounced_addresses(engine, candidates[0].sociedad, [c.cliente for c in candidates])
    return [
        replace(c, correos=tuple(a for a in c.correos if a.lower() not in bounced[c.cliente]))
        if c.cliente in bounced
        else c
        for c in candidates
    ]


def marked_addresses(correos: Iterable[str], bounced: set[str]) -> str:
    """The addresses as the checklist shows them, those that bounced marked "(rebotó)"."""
    return ";".join(f"{a} (rebotó)" if a.lower() in bounced else a for a in correos)

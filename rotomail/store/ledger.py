"""Open items: the snapshot behind the statements, replaced per sociedad on import."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby

from sqlalchemy import Engine, delete, func, insert, select

from rotomail.errors import DataError
from rotomail.inputs.parsers import OpenItemRecord, ParseResult
from rotomail.statement.model import StatementItem
from rotomail.store.db import upsert
from rotomail.store.models import LedgerSnapshot, OpenItem

_item = OpenItem.__table__  # type: ignore[attr-defined]
_snapshot = LedgerSnapshot.__table__  # type: ignore[attr-defined]
MAX_LISTED_REJECTS = 50


@dataclass(frozen=True)
class LedgerImport:
    snapshot_date: date
    per_sociedad: dict[str, int]
    skipped: int


def import_ledger(
    engine: Engine,
    parsed: ParseResult[OpenItemRecord],
    snapshot_date: date,
    *,
    skip_bad: bool = False,
    source: str = "",
) -> LedgerImport:
    """Replace the open items of every sociedad in the file, in one transaction.

    A file with rejected rows imports nothing unless ``skip_bad``.
    """
    if parsed.rejects and not skip_bad:
        listed = [f"  Línea {r.line}: {r.reason}" for r in parsed.rejects[:MAX_LISTED_REJECTS]]
        more = len(parsed.rejects) - len(listed)
        if more > 0:
            listed.append(f"  ... y {more} más")
        raise DataError(
            f"{len(parsed.rejects)} filas rechazadas; no se importó nada "
            "(use --skip-bad para importar las demás):\n" + "\n".join(listed)
        )
    if not parsed.rows:
        raise DataError("El archivo no contiene partidas abiertas.")
    counts: dict[str, int] = {}
    for record in parsed.rows:
        counts[record.sociedad] = counts.get(record.sociedad, 0) + 1
    now = datetime.now()
    values = [
        {
            "sociedad": r.sociedad,
            "cliente": r.cliente,
            "documento": r.documento,
            "tipo": r.tipo,
            "referencia": r.referencia,
            "fecha_documento": r.fecha_documento,
            "vencimiento": r.vencimiento,
            "importe": r.importe,
            "moneda": r.moneda,
            "texto": r.texto[:255],
        }
        for r in parsed.rows
    ]
    with engine.begin() as connection:
        connection.execute(delete(_item).where(_item.c.sociedad.in_(list(counts))))
        for start in range(0, len(values), 5000):
            connection.execute(insert(_item), values[start : start + 5000])
        upsert(
            connection,
            _snapshot,
            [
                {
                    "sociedad": sociedad,
                    "snapshot_date": snapshot_date,
                    "imported_at": now,
                    "source": source[:255],
                    "item_count": count,
                }
                for sociedad, count in counts.items()
            ],
            keys=("sociedad",),
        )
    return LedgerImport(snapshot_date, counts, len(parsed.rejects))


def balances(engine: Engine, sociedad: str) -> dict[str, dict[str, Decimal]]:
    """cliente -> currency -> balance, in one query."""
    query = (
        select(_item.c.cliente, _item.c.moneda, func.sum(_item.c.importe))
        .where(_item.c.sociedad == sociedad)
        .group_by(_item.c.cliente, _item.c.moneda)
    )
    result: dict[str, dict[str, Decimal]] = {}
    with engine.connect() as connection:
        for cliente, moneda, total in connection.execute(query):
            result.setdefault(cliente, {})[moneda] = Decimal(total).quantize(Decimal("0.01"))
    return result


def _to_item(row: object) -> StatementItem:
    return StatementItem(
        documento=row.documento,  # type: ignore[attr-defined]
        tipo=row.tipo,  # type: ignore[attr-defined]
        referencia=row.referencia,  # type: ignore[attr-defined]
        fecha_documento=row.fecha_documento,  # type: ignore[attr-defined]
        vencimiento=row.vencimiento,  # type: ignore[attr-defined]
        importe=Decimal(row.importe),  # type: ignore[attr-defined]
        moneda=row.moneda,  # type: ignore[attr-defined]
        texto=row.texto,  # type: ignore[attr-defined]
    )


def items_for(engine: Engine, sociedad: str, cliente: str) -> list[StatementItem]:
    query = select(_item).where(_item.c.sociedad == sociedad, _item.c.cliente == cliente)
    with engine.connect() as connection:
        return [_to_item(row) for row in connection.execute(query)]


def iter_items_by_customer(
    engine: Engine, sociedad: str, clientes: set[str], chunk: int = 500
) -> Iterator[tuple[str, list[StatementItem]]]:
    """(cliente, items) for the wanted customers that have items, a chunk of customers per
    query. No read transaction stays open across the run: on SQLite a long-lived reader
    would stop WAL checkpoints and every write of the run would get slower."""
    ordered = sorted(clientes)
    for start in range(0, len(ordered), chunk):
        query = (
            select(_item)
            .where(
                _item.c.sociedad == sociedad, _item.c.cliente.in_(ordered[start : start + chunk])
            )
            .order_by(_item.c.cliente, _item.c.id)
        )
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        for cliente, group in groupby(rows, key=lambda row: row.cliente):
            yield cliente, [_to_item(row) for row in group]


def snapshot_date(engine: Engine, sociedad: str) -> date | None:
    with engine.connect() as connection:
        return connection.execute(
            select(_snapshot.c.snapshot_date).where(_snapshot.c.sociedad == sociedad)
        ).scalar()

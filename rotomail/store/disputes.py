"""Disputed items (issue 21): documents a customer disputes, kept across ledger imports.

A dispute is keyed by (sociedad, cliente, documento), not by the open-item row an import
replaces, so a re-import keeps it; it marks every open item of the customer with that
document. It ends when resolved (``resolve_item``) or when an import no longer has the
document open for the customer (``end_cleared``: the item was cleared). SAP's per-item
dunning block (``open_item.bloqueo``, read on import) marks an item as disputed too, for as
long as the export carries it. Every dispute and resolution goes to the catalog's change
trail with the operating-system user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, and_, delete, exists, func, or_, select

from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.store.catalog_edits import log_changes, os_user
from rotomail.store.db import upsert
from rotomail.store.models import Customer, DisputedItem, OpenItem, table_of

_dispute = table_of(DisputedItem)
_item = table_of(OpenItem)
_customer = table_of(Customer)


def blocked_reason(bloqueo: str) -> str:
    """How an item disputed by SAP's dunning block says why."""
    return f"bloqueo de reclamación en SAP «{bloqueo.strip()}»"


def _state(documento: str, reason: str) -> dict[str, str]:
    return {"documento": documento, "aclaracion": reason}


def _key(sociedad: str, cliente: str, documento: str) -> tuple[str, str, str]:
    documento = documento.strip()
    if not documento:
        raise UsageError("Indique el número de documento.")
    return normalize_sociedad(sociedad), normalize_cliente(cliente), documento


def dispute_item(engine: Engine, sociedad: str, cliente: str, documento: str, reason: str) -> int:
    """Mark every open item of the customer with ``documento`` as disputed; how many.
    None open: DataError, nothing changed."""
    sociedad, cliente, documento = _key(sociedad, cliente, documento)
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("Indique el motivo de la aclaración con --reason.")
    with engine.begin() as connection:
        count = connection.execute(
            select(func.count()).where(
                _item.c.sociedad == sociedad,
                _item.c.cliente == cliente,
                _item.c.documento == documento,
            )
        ).scalar_one()
        if not count:
            raise DataError(
                f"El cliente {cliente} de la sociedad {sociedad} no tiene partidas abiertas con "
                f"el documento {documento}; no se marcó nada."
            )
        before = _reason_of(connection, sociedad, cliente, documento)
        upsert(
            connection,
            _dispute,
            [
                {
                    "sociedad": sociedad,
                    "cliente": cliente,
                    "documento": documento,
                    "reason": reason,
                    "disputed_by": os_user()[:100],
                    "disputed_at": datetime.now(),
                }
            ],
            keys=("sociedad", "cliente", "documento"),
        )
        log_changes(
            connection,
            [
                (
                    (sociedad, cliente),
                    "dispute",
                    None if before is None else _state(documento, before),
                    _state(documento, reason),
                )
            ],
        )
    return int(count)


def resolve_item(engine: Engine, sociedad: str, cliente: str, documento: str) -> None:
    """Take a dispute back; one not there is a DataError (saying so when SAP's dunning
    block is what marks the item)."""
    sociedad, cliente, documento = _key(sociedad, cliente, documento)
    with engine.begin() as connection:
        before = _reason_of(connection, sociedad, cliente, documento)
        if before is None:
            blocked = connection.execute(
                select(_item.c.bloqueo).where(
                    _item.c.sociedad == sociedad,
                    _item.c.cliente == cliente,
                    _item.c.documento == documento,
                    _item.c.bloqueo != "",
                )
            ).scalar()
            if blocked:
                raise DataError(
                    f"El documento {documento} del cliente {cliente} tiene "
                    f"{blocked_reason(blocked)}: quítelo en SAP y vuelva a importar las partidas."
                )
            raise DataError(
                f"El documento {documento} del cliente {cliente} de la sociedad {sociedad} no "
                "está en aclaración."
            )
        connection.execute(
            delete(_dispute).where(
                _dispute.c.sociedad == sociedad,
                _dispute.c.cliente == cliente,
                _dispute.c.documento == documento,
            )
        )
        log_changes(connection, [((sociedad, cliente), "resolve", _state(documento, before), None)])


def _reason_of(connection: Connection, sociedad: str, cliente: str, documento: str) -> str | None:
    reason: str | None = connection.execute(
        select(_dispute.c.reason).where(
            _dispute.c.sociedad == sociedad,
            _dispute.c.cliente == cliente,
            _dispute.c.documento == documento,
        )
    ).scalar()
    return reason


def end_cleared(connection: Connection, sociedades: Iterable[str]) -> int:
    """Within an import: end the disputes whose document the new snapshot no longer has
    open for the customer (it was cleared), each in the change trail; how many."""
    open_still = exists().where(
        _item.c.sociedad == _dispute.c.sociedad,
        _item.c.cliente == _dispute.c.cliente,
        _item.c.documento == _dispute.c.documento,
    )
    ended = 0
    for sociedad in sorted(sociedades):
        gone = connection.execute(
            select(_dispute.c.cliente, _dispute.c.documento, _dispute.c.reason).where(
                _dispute.c.sociedad == sociedad, ~open_still
            )
        ).all()
        if not gone:
            continue
        for cliente, documento, _reason in gone:
            connection.execute(
                delete(_dispute).where(
                    _dispute.c.sociedad == sociedad,
                    _dispute.c.cliente == cliente,
                    _dispute.c.documento == documento,
                )
            )
        log_changes(
            connection,
            [
                ((sociedad, cliente), "dispute_cleared", _state(documento, reason), None)
                for cliente, documento, reason in gone
            ],
        )
        ended += len(gone)
    return ended


def disputes_of(
    connection: Connection, sociedad: str, clientes: Iterable[str]
) -> dict[tuple[str, str], str]:
    """(cliente, documento) -> why it is disputed, for the customers named (``ledger
    dispute``; SAP's dunning block is on the item itself)."""
    wanted = list(clientes)
    result: dict[tuple[str, str], str] = {}
    for start in range(0, len(wanted), 500):
        query = select(_dispute.c.cliente, _dispute.c.documento, _dispute.c.reason).where(
            _dispute.c.sociedad == sociedad, _dispute.c.cliente.in_(wanted[start : start + 500])
        )
        for cliente, documento, reason in connection.execute(query):
            result[(cliente, documento)] = reason
    return result


def _disputed_join() -> tuple[object, object]:
    """open_item LEFT JOIN disputed_item on its document, and "is disputed"."""
    joined = _item.outerjoin(
        _dispute,
        and_(
            _dispute.c.sociedad == _item.c.sociedad,
            _dispute.c.cliente == _item.c.cliente,
            _dispute.c.documento == _item.c.documento,
        ),
    )
    disputed = or_(_dispute.c.documento.is_not(None), _item.c.bloqueo != "")
    return joined, disputed


def disputed_balances(engine: Engine, sociedad: str) -> dict[str, dict[str, Decimal]]:
    """cliente -> currency -> the amount of its disputed open items, in one query."""
    joined, disputed = _disputed_join()
    query = (
        select(_item.c.cliente, _item.c.moneda, func.sum(_item.c.importe))
        .select_from(joined)  # type: ignore[arg-type]
        .where(_item.c.sociedad == sociedad, disputed)  # type: ignore[arg-type]
        .group_by(_item.c.cliente, _item.c.moneda)
    )
    result: dict[str, dict[str, Decimal]] = {}
    with engine.connect() as connection:
        for cliente, moneda, total in connection.execute(query):
            result.setdefault(cliente, {})[moneda] = Decimal(total).quantize(Decimal("0.01"))
    return result


@dataclass(frozen=True)
class DisputeRow:
    """One disputed document of a customer, as ``ledger disputes`` lists it."""

    cliente: str
    nombre: str
    documento: str
    importe: Decimal  # the sum of its open items
    moneda: str
    reason: str
    by: str  # who marked it ("SAP" for the dunning block)
    at: datetime | None


def list_disputes(engine: Engine, sociedad: str) -> list[DisputeRow]:
    """The sociedad's disputed documents with open items, by customer and document."""
    sociedad = normalize_sociedad(sociedad)
    joined, disputed = _disputed_join()
    query = (
        select(
            _item.c.cliente,
            _item.c.documento,
            _item.c.moneda,
            func.sum(_item.c.importe),
            func.max(_item.c.bloqueo),
            _dispute.c.reason,
            _dispute.c.disputed_by,
            _dispute.c.disputed_at,
        )
        .select_from(joined)  # type: ignore[arg-type]
        .where(_item.c.sociedad == sociedad, disputed)  # type: ignore[arg-type]
        .group_by(
            _item.c.cliente,
            _item.c.documento,
            _item.c.moneda,
            _dispute.c.reason,
            _dispute.c.disputed_by,
            _dispute.c.disputed_at,
        )
        .order_by(_item.c.cliente, _item.c.documento, _item.c.moneda)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        names = dict(
            connection.execute(
                select(_customer.c.cliente, _customer.c.nombre).where(
                    _customer.c.sociedad == sociedad
                )
            ).all()
        )
    return [
        DisputeRow(
            cliente,
            names.get(cliente, ""),
            documento,
            Decimal(total).quantize(Decimal("0.01")),
            moneda,
            reason if reason is not None else blocked_reason(bloqueo),
            by if by is not None else "SAP",
            at,
        )
        for cliente, documento, moneda, total, bloqueo, reason, by, at in rows
    ]

"""Open items: the snapshot behind the statements, replaced per sociedad on import.

An import streams its files into one transaction: all of it or nothing, whatever the size.

One snapshot per run: an import waits while a run is under way (``runs_under_way``, asked
with the snapshots held exclusively, so no run can start in between), and a run that starts
holds them shared while it records itself and checks that the snapshot is still the one it
planned with (``hold_snapshots``). On SQLite the write lock is that hold; on PostgreSQL an
advisory lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, false, func, insert, select, text, update

from rotomail.errors import DataError, UsageError
from rotomail.inputs.parsers import (
    LedgerLayout,
    LedgerReader,
    OpenItemRecord,
    ParseResult,
    Reject,
    TotalMismatch,
    input_name,
)
from rotomail.inputs.tabular import iter_rows, open_source
from rotomail.statement.model import (
    PAYMENT_WINDOW_DAYS,
    ClearedItem,
    PaymentsReceived,
    StatementItem,
    payments_received,
)
from rotomail.store.db import upsert
from rotomail.store.disputes import blocked_reason, disputes_of, end_cleared
from rotomail.store.history import previous_statements
from rotomail.store.lengths import too_long
from rotomail.store.models import (
    ClearedLedgerItem,
    Customer,
    LedgerSnapshot,
    OpenItem,
    table_of,
)

_item = table_of(OpenItem)
_cleared = table_of(ClearedLedgerItem)
_customer = table_of(Customer)
_snapshot = table_of(LedgerSnapshot)
MAX_LISTED_REJECTS = 50


_SNAPSHOT_LOCK = 7_365_002  # PostgreSQL advisory-lock key: imports exclusive, run starts shared
WAIT_FOR_RUNS = 1.0  # seconds between looks while an import waits for the runs under way
# What is reading the open items now (the runs under way, described); [] = nothing.
Readers = Callable[[Connection], list[str]]

CLEARING_SHARE = 5  # a snapshot that clears more than 1/5 of a sociedad's customers asks first
_BATCH = 5000


@dataclass(frozen=True)
class Clearing:
    """Customers of a sociedad with open items before the import and none after it."""

    sociedad: str
    before: int
    cleared: int

    @property
    def suspicious(self) -> bool:
        """More than a fifth cleared at once: most often a partial file, sometimes month-end."""
        return self.cleared * CLEARING_SHARE > self.before

    @property
    def message(self) -> str:
        return (
            f"{self.sociedad}: {self.before} clientes tenían partidas abiertas; "
            f"{self.cleared} quedan sin ninguna."
        )


@dataclass
class LedgerImport:
    snapshot_date: date
    per_sociedad: dict[str, int]
    skipped: int
    clearings: list[Clearing] = field(default_factory=list)
    date_source: str = "opción"  # "archivo" (printed key date), "opción" (--date) or "hoy"
    not_in_master: dict[tuple[str, str], int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)  # the first ones, when skipped
    cleared: dict[str, int] = field(default_factory=dict)  # sociedad -> cleared items kept
    cleared_not_in_master: int = 0  # cleared items of customers missing from the master
    has_clearing: bool = False  # a file had a clearing date column (an all-items export)
    disputes_ended: int = 0  # disputes ended: their document is no longer open (cleared)
    blocked: int = 0  # open items with SAP's dunning block (bloqueo): in dispute


def not_in_master_summary(unknown: dict[tuple[str, str], int], limit: int = 20) -> str:
    """``3 partidas de 2 clientes que no están en el maestro: SM02 1006999 (2), …``."""
    shown = [
        f"{sociedad} {cliente} ({count})"
        for (sociedad, cliente), count in sorted(unknown.items())[:limit]
    ]
    more = f" y {len(unknown) - limit} más" if len(unknown) > limit else ""
    return (
        f"{sum(unknown.values())} partidas de {len(unknown)} clientes que no están en el "
        f"maestro (rotomail customers import): {', '.join(shown)}{more}"
    )


class _SnapshotWriter:
    """Writes a new snapshot inside one transaction as items arrive.

    The first item of a sociedad records which customers had open items, loads the
    master's customers of that sociedad and deletes the old items; items then go in
    batches. Rejected rows are counted (and the first ones kept for the message);
    once there is one and ``skip_bad`` is off nothing more is written, since all will be
    rolled back anyway.
    """

    def __init__(self, connection: Connection, skip_bad: bool) -> None:
        self.connection = connection
        self.skip_bad = skip_bad
        self.counts: dict[str, int] = {}
        self.cleared: dict[str, int] = {}
        self.cleared_unknown = 0
        self.before: dict[str, set[str]] = {}
        self.after: dict[str, set[str]] = {}
        self.master: dict[str, set[str]] = {}
        self.unknown: dict[tuple[str, str], int] = {}
        self.rejects: list[Reject] = []
        self.reject_count = 0
        self._batch: list[dict[str, Any]] = []
        self._cleared_batch: list[dict[str, Any]] = []
        self.disputes_ended = 0  # disputes whose document the import no longer has open
        self.blocked = 0  # open items with SAP's dunning block: in dispute

    def reject(self, reject: Reject) -> None:
        self.reject_count += 1
        if len(self.rejects) < MAX_LISTED_REJECTS:
            self.rejects.append(reject)

    def add(self, record: OpenItemRecord) -> None:
        problem = too_long(_cleared if record.cleared else _item, _fields(record))
        if problem is not None:
            self.reject(Reject(record.line, problem))
            return
        sociedad = record.sociedad
        if sociedad not in self.before:
            self._start(sociedad)
        if record.cleared:
            self._add_cleared(record)
            return
        if record.cliente not in self.master[sociedad]:
            key = (sociedad, record.cliente)
            self.unknown[key] = self.unknown.get(key, 0) + 1
            self.reject_count += 1
            return
        self.counts[sociedad] += 1
        self.blocked += bool(record.bloqueo.strip())
        self.after[sociedad].add(record.cliente)
        if self.reject_count and not self.skip_bad:
            return
        self._batch.append(
            {
                "sociedad": sociedad,
                "cliente": record.cliente,
                "documento": record.documento,
                "tipo": record.tipo,
                "referencia": record.referencia,
                "fecha_documento": record.fecha_documento,
                "vencimiento": record.vencimiento,
                "importe": record.importe,
                "moneda": record.moneda,
                "texto": record.texto[:255],
                "asignacion": record.asignacion[:60],
                "bloqueo": record.bloqueo[:10],
            }
        )
        if len(self._batch) >= _BATCH:
            self.flush()

    def _add_cleared(self, record: OpenItemRecord) -> None:
        """A cleared item: never open; kept for the payments section. One of a customer
        missing from the master is counted and left out (nothing is owed on it)."""
        if record.cliente not in self.master[record.sociedad]:
            self.cleared_unknown += 1
            return
        self.cleared[record.sociedad] += 1
        if self.reject_count and not self.skip_bad:
            return
        self._cleared_batch.append(
            {
                "sociedad": record.sociedad,
                "cliente": record.cliente,
                "documento": record.documento,
                "tipo": record.tipo,
                "referencia": record.referencia,
                "fecha_documento": record.fecha_documento,
                "importe": record.importe,
                "moneda": record.moneda,
                "texto": record.texto[:255],
                "doc_compensacion": record.doc_compensacion,
                "fecha_compensacion": record.fecha_compensacion,
                "asignacion": record.asignacion[:60],
            }
        )
        if len(self._cleared_batch) >= _BATCH:
            self.flush()

    def _start(self, sociedad: str) -> None:
        connection = self.connection
        self.before[sociedad] = set(
            connection.execute(
                select(_item.c.cliente).where(_item.c.sociedad == sociedad).distinct()
            ).scalars()
        )
        self.master[sociedad] = set(
            connection.execute(
                select(_customer.c.cliente).where(_customer.c.sociedad == sociedad)
            ).scalars()
        )
        connection.execute(delete(_item).where(_item.c.sociedad == sociedad))
        connection.execute(delete(_cleared).where(_cleared.c.sociedad == sociedad))
        self.counts[sociedad] = 0
        self.cleared[sociedad] = 0
        self.after[sociedad] = set()

    def flush(self) -> None:
        if self._batch:
            self.connection.execute(insert(_item), self._batch)
            self._batch = []
        if self._cleared_batch:
            self.connection.execute(insert(_cleared), self._cleared_batch)
            self._cleared_batch = []

    def refuse_rejects(self) -> None:
        """Without ``skip_bad``, any refused row refuses the file: list them, import nothing."""
        if not self.reject_count or self.skip_bad:
            return
        listed = [f"  Línea {r.line}: {r.reason}" for r in self.rejects]
        lines_refused = self.reject_count - sum(self.unknown.values())
        if lines_refused > len(listed):
            listed.append(f"  ... y {lines_refused - len(listed)} más")
        if self.unknown:
            listed.append("  " + not_in_master_summary(self.unknown))
        raise DataError(
            f"{self.reject_count} filas rechazadas; no se importó nada "
            "(use --skip-bad para importar las demás):\n" + "\n".join(listed)
        )

    def clearings(self) -> list[Clearing]:
        return [
            Clearing(sociedad, len(before), len(before - self.after[sociedad]))
            for sociedad, before in sorted(self.before.items())
        ]

    def finish(
        self,
        snapshot_date: date,
        source: str,
        due_date_sources: dict[str, str],
        confirm: Callable[[list[Clearing]], bool] | None,
    ) -> list[Clearing]:
        self.refuse_rejects()
        if not any(self.counts.values()) and not any(self.cleared.values()):
            raise DataError("El archivo no contiene partidas abiertas.")
        self.flush()
        clearings = self.clearings()
        if confirm is not None and any(c.suspicious for c in clearings) and not confirm(clearings):
            raise DataError("Importación cancelada; no se cambió nada.")
        self.disputes_ended = end_cleared(self.connection, self.counts)
        upsert(
            self.connection,
            _snapshot,
            [
                {
                    "sociedad": sociedad,
                    "snapshot_date": snapshot_date,
                    "imported_at": datetime.now(),
                    "source": source[:255],
                    "item_count": count,
                    "due_date_source": due_date_sources.get(sociedad, "vencimiento"),
                }
                for sociedad, count in self.counts.items()
                if count or self.cleared[sociedad]
            ],
            keys=("sociedad",),
        )
        return clearings


def _fields(record: OpenItemRecord) -> dict[str, str]:
    """The record's text fields as they are stored (``texto`` and ``asignacion`` are cut to
    their columns: free text, never a reason to refuse an item)."""
    return {
        "sociedad": record.sociedad,
        "cliente": record.cliente,
        "documento": record.documento,
        "tipo": record.tipo,
        "referencia": record.referencia,
        "moneda": record.moneda,
        "doc_compensacion": record.doc_compensacion,
    }


def hold_snapshots(connection: Connection, *, exclusive: bool) -> None:
    """Within a transaction: hold the open items exclusively (an import) or shared (a run
    recording its start) until it ends. SQLite: an exclusive hold is its write lock (a write
    that changes nothing), a shared one the run's own first write."""
    if connection.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        connection.execute(text(f"SELECT {function}(:key)"), {"key": _SNAPSHOT_LOCK})
    elif exclusive:
        connection.execute(
            update(_snapshot).where(false()).values(item_count=_snapshot.c.item_count)
        )


@contextmanager
def _replacing(
    engine: Engine, readers: Readers, on_wait: Callable[[list[str]], None]
) -> Iterator[Connection]:
    """A transaction that may replace open items: taken once no run is under way (told
    through ``on_wait`` once), held so that none starts until it ends."""
    told = False
    while True:
        with engine.connect() as connection:
            transaction = connection.begin()
            hold_snapshots(connection, exclusive=True)
            busy = readers(connection)
            if not busy:
                with transaction:
                    yield connection
                return
            transaction.rollback()
        if not told:
            on_wait(busy)
            told = True
        time.sleep(WAIT_FOR_RUNS)


def import_ledger(
    engine: Engine,
    parsed: ParseResult[OpenItemRecord],
    snapshot_date: date,
    *,
    skip_bad: bool = False,
    source: str = "",
    readers: Readers = lambda connection: [],
    on_wait: Callable[[list[str]], None] = lambda busy: None,
) -> LedgerImport:
    """Replace the open items of every sociedad in a parsed file, in one transaction.

    A file with rejected rows (or items of customers missing from the master) imports
    nothing unless ``skip_bad``; a file whose totals do not match never imports.
    """
    mismatches: list[TotalMismatch] = getattr(parsed, "mismatches", [])
    if mismatches:
        raise DataError(totals_message(mismatches, source))
    layout = getattr(parsed, "layout", None)
    due = layout.due_field if layout is not None else "vencimiento"
    with _replacing(engine, readers, on_wait) as connection:
        writer = _SnapshotWriter(connection, skip_bad)
        for reject in parsed.rejects:
            writer.reject(reject)
        for record in parsed.rows:
            writer.add(record)
        clearings = writer.finish(snapshot_date, source, dict.fromkeys(writer.counts, due), None)
    return LedgerImport(
        snapshot_date,
        writer.counts,
        writer.reject_count,
        clearings,
        "opción",
        writer.unknown,
        cleared=writer.cleared,
        cleared_not_in_master=writer.cleared_unknown,
        has_clearing=layout is not None and "fecha_compensacion" in layout.columns,
        disputes_ended=writer.disputes_ended,
        blocked=writer.blocked,
    )


def totals_message(mismatches: list[TotalMismatch], source: str) -> str:
    listed = "\n".join(f"  {m.message}" for m in mismatches[:MAX_LISTED_REJECTS])
    more = len(mismatches) - MAX_LISTED_REJECTS
    if more > 0:
        listed += f"\n  ... y {more} más"
    return (
        f"Los totales de control de {input_name(source)} no cuadran con sus partidas; no "
        f"se importó nada (el archivo está incompleto o fue modificado):\n{listed}"
    )


@dataclass(frozen=True)
class ImportOptions:
    snapshot_date: date | None = None  # --date; None: the key date printed in the files
    skip_bad: bool = False
    column_map: dict[str, str] = field(default_factory=dict)
    strict_columns: frozenset[str] = frozenset()  # fields mapped on the command line
    due_date_from: str | None = None


def import_ledger_files(
    engine: Engine,
    files: Sequence[str],
    options: ImportOptions,
    *,
    on_layout: Callable[[LedgerLayout], None] = lambda layout: None,
    confirm: Callable[[list[Clearing]], bool] | None = None,
    today: date | None = None,
    readers: Readers = lambda connection: [],
    on_wait: Callable[[list[str]], None] = lambda busy: None,
) -> LedgerImport:
    """Read one or more FBL5N exports as one snapshot, streaming, in one transaction.

    Each file is read row by row (memory stays flat whatever its size). The snapshot
    date is ``options.snapshot_date``, else the key date printed in the files (they must
    agree: a differing ``--date`` is a usage error), else today. ``confirm`` is asked when a
    sociedad would lose more than a fifth of its customers with open items; refusing rolls
    everything back. While ``readers`` names runs under way the import waits (``on_wait``
    is told once), before reading anything.
    """
    if len({str(Path(f).resolve()) if f != "-" else f for f in files}) < len(files):
        raise UsageError("El mismo archivo aparece dos veces; sus partidas se sumarían dos veces.")
    key_dates: dict[str, date] = {}
    due_date_sources: dict[str, str] = {}
    has_clearing = False
    with _replacing(engine, readers, on_wait) as connection:
        writer = _SnapshotWriter(connection, options.skip_bad)
        for name in files:
            with open_source(name) as stream:
                reader = LedgerReader(
                    iter_rows(stream, name),
                    name,
                    column_map=options.column_map,
                    strict_columns=set(options.strict_columns),
                    due_date_from=options.due_date_from,
                )
                layout = reader.layout
                on_layout(layout)
                has_clearing = has_clearing or "fecha_compensacion" in layout.columns
                if layout.key_date is not None:
                    key_dates[input_name(name)] = layout.key_date
                    _check_date(options.snapshot_date, key_dates)
                for entry in reader:
                    if isinstance(entry, Reject):
                        writer.reject(entry)
                        continue
                    writer.add(entry)
                    known = due_date_sources.setdefault(entry.sociedad, layout.due_field)
                    if known != layout.due_field:
                        raise DataError(
                            f"Las partidas de {entry.sociedad} vienen de archivos con fechas "
                            f"distintas ({known} y {layout.due_field}); no se importó nada."
                        )
            if reader.mismatches:
                raise DataError(totals_message(reader.mismatches, name))
        if options.snapshot_date is not None:
            snapshot, date_source = options.snapshot_date, "opción"
        elif key_dates:
            snapshot, date_source = next(iter(key_dates.values())), "archivo"
        else:
            snapshot, date_source = today or date.today(), "hoy"
        clearings = writer.finish(snapshot, ", ".join(files), due_date_sources, confirm)
    return LedgerImport(
        snapshot,
        writer.counts,
        writer.reject_count,
        clearings,
        date_source,
        writer.unknown,
        writer.rejects,
        writer.cleared,
        writer.cleared_unknown,
        has_clearing,
        writer.disputes_ended,
        writer.blocked,
    )


def _check_date(given: date | None, key_dates: dict[str, date]) -> None:
    printed = sorted(set(key_dates.values()))
    if len(printed) > 1:
        listed = ", ".join(f"{name}: {day:%d.%m.%Y}" for name, day in key_dates.items())
        raise DataError(f"Los archivos son de fechas de clave distintas ({listed}).")
    if given is not None and printed and given != printed[0]:
        name = next(iter(key_dates))
        raise UsageError(
            f"--date {given.isoformat()} no coincide con la fecha de clave que imprime {name} "
            f"({printed[0]:%d.%m.%Y}); quite --date o importe el archivo correcto."
        )


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


def _to_item(row: object, disputes: dict[tuple[str, str], str]) -> StatementItem:
    bloqueo = row.bloqueo.strip()  # type: ignore[attr-defined]
    aclaracion = disputes.get((row.cliente, row.documento), "")  # type: ignore[attr-defined]
    return StatementItem(
        documento=row.documento,  # type: ignore[attr-defined]
        tipo=row.tipo,  # type: ignore[attr-defined]
        referencia=row.referencia,  # type: ignore[attr-defined]
        fecha_documento=row.fecha_documento,  # type: ignore[attr-defined]
        vencimiento=row.vencimiento,  # type: ignore[attr-defined]
        importe=Decimal(row.importe),  # type: ignore[attr-defined]
        moneda=row.moneda,  # type: ignore[attr-defined]
        texto=row.texto,  # type: ignore[attr-defined]
        asignacion=row.asignacion,  # type: ignore[attr-defined]
        aclaracion=aclaracion or (blocked_reason(bloqueo) if bloqueo else ""),
    )


def items_for(engine: Engine, sociedad: str, cliente: str) -> list[StatementItem]:
    query = select(_item).where(_item.c.sociedad == sociedad, _item.c.cliente == cliente)
    with engine.connect() as connection:
        disputes = disputes_of(connection, sociedad, [cliente])
        return [_to_item(row, disputes) for row in connection.execute(query)]


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
            disputes = disputes_of(connection, sociedad, ordered[start : start + chunk])
        for cliente, group in groupby(rows, key=lambda row: row.cliente):
            yield cliente, [_to_item(row, disputes) for row in group]


class SnapshotInfo(NamedTuple):
    """The open items loaded for a sociedad: as of which date, imported when (a new import
    of the same date is another snapshot)."""

    snapshot_date: date
    imported_at: datetime


def snapshot_of(source: Engine | Connection, sociedad: str) -> SnapshotInfo | None:
    query = select(_snapshot.c.snapshot_date, _snapshot.c.imported_at).where(
        _snapshot.c.sociedad == sociedad
    )
    if isinstance(source, Connection):
        row = source.execute(query).first()
    else:
        with source.connect() as connection:
            row = connection.execute(query).first()
    return None if row is None else SnapshotInfo(*row)


def due_date_source(engine: Engine, sociedad: str) -> str:
    """What the snapshot's aging counts from: ``vencimiento`` or the stand-in used."""
    with engine.connect() as connection:
        value = connection.execute(
            select(_snapshot.c.due_date_source).where(_snapshot.c.sociedad == sociedad)
        ).scalar()
    return value or "vencimiento"


def _to_cleared(row: Any) -> ClearedItem:
    return ClearedItem(
        documento=row.documento,
        tipo=row.tipo,
        referencia=row.referencia,
        fecha_documento=row.fecha_documento,
        importe=Decimal(row.importe),
        moneda=row.moneda,
        doc_compensacion=row.doc_compensacion,
        fecha_compensacion=row.fecha_compensacion,
        asignacion=row.asignacion,
    )


def cleared_since(
    engine: Engine, sociedad: str, since: dict[str, date], until: date, chunk: int = 500
) -> dict[str, list[ClearedItem]]:
    """cliente -> its items cleared after ``since[cliente]`` and up to ``until``, for the
    customers of ``since`` (a chunk of customers per query)."""
    ordered = sorted(since)
    result: dict[str, list[ClearedItem]] = {}
    for start in range(0, len(ordered), chunk):
        part = ordered[start : start + chunk]
        query = (
            select(_cleared)
            .where(
                _cleared.c.sociedad == sociedad,
                _cleared.c.cliente.in_(part),
                _cleared.c.fecha_compensacion > min(since[c] for c in part),
                _cleared.c.fecha_compensacion <= until,
            )
            .order_by(_cleared.c.cliente, _cleared.c.fecha_compensacion, _cleared.c.id)
        )
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            if row.fecha_compensacion > since[row.cliente]:
                result.setdefault(row.cliente, []).append(_to_cleared(row))
    return result


def payments_for(
    engine: Engine, sociedad: str, clientes: set[str], statement_date: date
) -> dict[str, PaymentsReceived]:
    """cliente -> the payments and credits received since its previous statement (from
    the run history; without one, the 30 days before ``statement_date``), for the
    customers that have any."""
    previous = previous_statements(engine, sociedad, clientes, statement_date)
    window = statement_date - timedelta(days=PAYMENT_WINDOW_DAYS)
    since = {cliente: previous.get(cliente, window) for cliente in clientes}
    result = {}
    for cliente, cleared in cleared_since(engine, sociedad, since, statement_date).items():
        payments = payments_received(cleared, statement_date, previous.get(cliente))
        if payments.lines:
            result[cliente] = payments
    return result

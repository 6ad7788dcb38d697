"""An account statement as plain data: the open items of one customer, aged and totalled.

Rules (../shared/reference/statement.md):

* Items are sorted by net due date, then document number.
* Days overdue = statement date - due date, never negative (0 when not yet due).
* Aging buckets by net due date: Por vencer (0 days: due today or later), then one bucket
  per limit of ``aging`` (config.toml ``[statement] aging``; default 30, 60, 90: 1–30, 31–60,
  61–90) and the last, "más de" the highest limit.
* Currencies are never mixed: one summary per currency, ordered by currency code.
* A disputed item (``ledger dispute``, or SAP's dunning block on the item) stays in the
  detail and in the balance, marked "En aclaración", and in no aging bucket: it is not
  counted as overdue (``CurrencySummary.disputed``).
* Amounts are rounded to the cent once, on entry, so every total is exactly the sum of
  the amounts printed in the detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from rotomail.company import LANGUAGES, Collector, CompanyProfile, contact_details
from rotomail.config import DEFAULT_AGING
from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, safe_filename_part

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
PAYMENT_WINDOW_DAYS = 30  # payments shown without an earlier statement: the last 30 days


@dataclass(frozen=True)
class StatementItem:
    """One open item (invoice, credit note, payment) as it comes from the ledger."""

    documento: str
    tipo: str
    referencia: str
    fecha_documento: date | None
    vencimiento: date  # net due date
    importe: Decimal  # credit notes and payments negative
    moneda: str
    texto: str = ""
    asignacion: str = ""  # SAP's ZUONR: often the CFDI's folio or UUID
    aclaracion: str = ""  # why it is disputed ("" = not disputed): in no aging bucket


@dataclass(frozen=True)
class ClearedItem:
    """An item an all-items export shows cleared: its clearing document and date."""

    documento: str
    tipo: str
    referencia: str
    fecha_documento: date | None
    importe: Decimal  # credit notes and payments negative
    moneda: str
    doc_compensacion: str  # "" when the export had no clearing document column
    fecha_compensacion: date
    asignacion: str = ""  # SAP's ZUONR


@dataclass(frozen=True)
class PaymentLine:
    """A payment or credit note cleared in the period, as printed."""

    item: ClearedItem
    importe: Decimal  # what was received: positive, rounded to the cent
    moneda: str
    settled: tuple[str, ...]  # what it cleared: each item's reference, else its document


@dataclass(frozen=True)
class PaymentsReceived:
    """Payments and credit notes cleared after ``since`` up to the statement date."""

    since: date  # cleared after this day: the previous statement's date, or 30 days back
    lines: tuple[PaymentLine, ...]

    def totals(self) -> dict[str, Decimal]:
        """Currency -> amount received, in currency order (never mixed)."""
        result: dict[str, Decimal] = {}
        for line in self.lines:
            result[line.moneda] = result.get(line.moneda, ZERO) + line.importe
        return dict(sorted(result.items()))


def payments_received(
    cleared: Iterable[ClearedItem],
    statement_date: date,
    previous_statement: date | None,
) -> PaymentsReceived:
    """The payments and credit notes (negative items) cleared after the customer's
    previous statement (without one: the 30 days before ``statement_date``) and up to
    ``statement_date``, oldest first; each names the items its clearing document cleared.
    """
    if previous_statement is not None and previous_statement < statement_date:
        since = previous_statement
    else:
        since = statement_date - timedelta(days=PAYMENT_WINDOW_DAYS)
    items = list(cleared)
    by_clearing: dict[str, list[ClearedItem]] = {}
    for item in items:
        if item.doc_compensacion:
            by_clearing.setdefault(item.doc_compensacion, []).append(item)
    lines = []
    for item in sorted(items, key=lambda i: (i.fecha_compensacion, i.moneda, i.documento)):
        if item.importe >= 0 or not since < item.fecha_compensacion <= statement_date:
            continue
        settled = tuple(
            other.referencia or other.documento
            for other in by_clearing.get(item.doc_compensacion, [])
            if other.importe > 0
        )
        importe = (-item.importe).quantize(CENT, rounding=ROUND_HALF_UP)
        lines.append(PaymentLine(item, importe, item.moneda.strip().upper(), settled))
    return PaymentsReceived(since, tuple(lines))


@dataclass(frozen=True)
class StatementCustomer:
    sociedad: str
    cliente: str
    nombre: str
    rfc: str = ""


@dataclass(frozen=True)
class StatementLine:
    """An item as printed: amount rounded to the cent, its days overdue and aging bucket."""

    item: StatementItem
    importe: Decimal
    moneda: str
    dias_vencidos: int
    bucket: int  # index into CurrencySummary.buckets; -1: disputed, in no bucket

    @property
    def disputed(self) -> bool:
        return bool(self.item.aclaracion)


@dataclass(frozen=True)
class CurrencySummary:
    moneda: str
    buckets: tuple[Decimal, ...]  # Por vencer, then one per aging limit, then "más de"
    balance: Decimal  # every item's amount: the buckets plus what is disputed
    item_count: int
    disputed: Decimal = ZERO  # the disputed items' amount: in the balance, in no bucket

    @property
    def not_due(self) -> Decimal:
        return self.buckets[0]

    @property
    def overdue(self) -> Decimal:
        """What is past due and not disputed."""
        return sum(self.buckets[1:], ZERO)


@dataclass(frozen=True)
class Statement:
    company: CompanyProfile
    customer: StatementCustomer
    statement_date: date
    lines: tuple[StatementLine, ...]
    summaries: tuple[CurrencySummary, ...]
    language: str = ""  # the customer's (es | pt | en); "" = the company's
    # the company's own document types in words: {"ZR": {"es": "…", "en": "…"}}
    document_types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # "vencimiento" (net due date), or the stand-in the ledger import was told to use
    due_date_source: str = "vencimiento"
    aging: tuple[int, ...] = DEFAULT_AGING  # the highest days of each bucket but the last
    payments: PaymentsReceived | None = None  # cleared payments and credits, when any
    collector: Collector | None = None  # the customer's collector, in the contact line

    @property
    def contact(self) -> tuple[str, str, str]:
        """The contact line's phone, e-mail and collector's name (``contact_details``)."""
        return contact_details(self.company, self.collector)

    @property
    def cliente(self) -> str:
        """The customer number as printed: without SAP's leading zeros."""
        return normalize_cliente(self.customer.cliente)

    def disputed(self) -> dict[str, Decimal]:
        """Currency -> the amount in dispute, for the currencies that have any."""
        return {s.moneda: s.disputed for s in self.summaries if s.disputed}

    @property
    def is_zero(self) -> bool:
        """True when there is nothing to collect: no items, or every balance is zero."""
        return all(summary.balance == 0 for summary in self.summaries)

    @property
    def filename(self) -> str:
        return statement_filename(self.customer.cliente, self.statement_date)

    @property
    def lang(self) -> str:
        """The language it is written in: the customer's, else the company's."""
        return self.language or self.company.language

    def summary_for(self, moneda: str) -> CurrencySummary | None:
        return next((s for s in self.summaries if s.moneda == moneda), None)


def bucket_for(dias_vencidos: int, aging: tuple[int, ...] = DEFAULT_AGING) -> int:
    """The aging bucket of an item overdue ``dias_vencidos`` days (<= 0: not yet due)."""
    for index, limit in enumerate((0, *aging)):
        if dias_vencidos <= limit:
            return index
    return len(aging) + 1


def _line(item: StatementItem, statement_date: date, aging: tuple[int, ...]) -> StatementLine:
    moneda = item.moneda.strip().upper()
    if not moneda:
        raise DataError(f"El documento {item.documento} no tiene moneda.")
    if not isinstance(item.importe, Decimal) or not item.importe.is_finite():
        raise DataError(f"El documento {item.documento} tiene un importe inválido.")
    dias = max((statement_date - item.vencimiento).days, 0)
    importe = item.importe.quantize(CENT, rounding=ROUND_HALF_UP)
    bucket = -1 if item.aclaracion else bucket_for(dias, aging)
    return StatementLine(item, importe, moneda, dias, bucket)


def _summaries(
    lines: Iterable[StatementLine], aging: tuple[int, ...]
) -> tuple[CurrencySummary, ...]:
    sums: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    disputed: dict[str, Decimal] = {}
    for line in lines:
        buckets = sums.setdefault(line.moneda, [ZERO] * (len(aging) + 2))
        if line.disputed:
            disputed[line.moneda] = disputed.get(line.moneda, ZERO) + line.importe
        else:
            buckets[line.bucket] += line.importe
        counts[line.moneda] = counts.get(line.moneda, 0) + 1
    return tuple(
        CurrencySummary(
            moneda=moneda,
            buckets=tuple(b),
            balance=sum(b, ZERO) + disputed.get(moneda, ZERO),
            item_count=counts[moneda],
            disputed=disputed.get(moneda, ZERO),
        )
        for moneda, b in sorted(sums.items())
    )


def build_statement(
    company: CompanyProfile,
    customer: StatementCustomer,
    items: Iterable[StatementItem],
    statement_date: date,
    language: str = "",
    document_types: Mapping[str, Mapping[str, str]] | None = None,
    due_date_source: str = "vencimiento",
    aging: tuple[int, ...] = DEFAULT_AGING,
    payments: PaymentsReceived | None = None,
    collector: Collector | None = None,
) -> Statement:
    """Age and total ``items`` as of ``statement_date`` (the cut-off date), with the
    company's phone and address in the statement's language where its profile gives
    them."""
    if (language or company.language) in LANGUAGES:
        company = company.for_language(language or company.language)
    lines = sorted(
        (_line(item, statement_date, aging) for item in items),
        key=lambda line: (line.item.vencimiento, line.item.documento),
    )
    return Statement(
        company,
        customer,
        statement_date,
        tuple(lines),
        _summaries(lines, aging),
        language,
        document_types or {},
        due_date_source,
        aging,
        payments if payments is not None and payments.lines else None,
        collector,
    )


def statement_filename(cliente: str, statement_date: date) -> str:
    """``"0001006210"`` -> ``"1006210_20240331.pdf"``; nothing in it can leave its folder."""
    return f"{safe_filename_part(normalize_cliente(cliente))}_{statement_date:%Y%m%d}.pdf"

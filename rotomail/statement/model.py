"""An account statement as plain data: the open items of one customer, aged and totalled.

Rules (../shared/reference/statement.md):

* Items are sorted by net due date, then document number.
* Days overdue = statement date - due date, never negative (0 when not yet due).
* Aging buckets by net due date: Por vencer (0 days: due today or later), 1–30, 31–60,
  61–90 and más de 90 días.
* Currencies are never mixed: one summary per currency, ordered by currency code.
* Amounts are rounded to the cent once, on entry, so every total is exactly the sum of
  the amounts printed in the detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from rotomail.company import CompanyProfile
from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, safe_filename_part

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
BUCKET_COUNT = 5  # Por vencer, 1–30, 31–60, 61–90, más de 90 días
_BUCKET_LIMITS = (0, 30, 60, 90)  # the highest days overdue of each bucket but the last


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
    bucket: int  # index into CurrencySummary.buckets


@dataclass(frozen=True)
class CurrencySummary:
    moneda: str
    buckets: tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
    balance: Decimal
    item_count: int

    @property
    def not_due(self) -> Decimal:
        return self.buckets[0]

    @property
    def overdue(self) -> Decimal:
        return self.balance - self.buckets[0]


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

    @property
    def cliente(self) -> str:
        """The customer number as printed: without SAP's leading zeros."""
        return normalize_cliente(self.customer.cliente)

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


def bucket_for(dias_vencidos: int) -> int:
    """The aging bucket of an item overdue ``dias_vencidos`` days (<= 0: not yet due)."""
    for index, limit in enumerate(_BUCKET_LIMITS):
        if dias_vencidos <= limit:
            return index
    return len(_BUCKET_LIMITS)


def _line(item: StatementItem, statement_date: date) -> StatementLine:
    moneda = item.moneda.strip().upper()
    if not moneda:
        raise DataError(f"El documento {item.documento} no tiene moneda.")
    if not isinstance(item.importe, Decimal) or not item.importe.is_finite():
        raise DataError(f"El documento {item.documento} tiene un importe inválido.")
    dias = max((statement_date - item.vencimiento).days, 0)
    importe = item.importe.quantize(CENT, rounding=ROUND_HALF_UP)
    return StatementLine(item, importe, moneda, dias, bucket_for(dias))


def _summaries(lines: Iterable[StatementLine]) -> tuple[CurrencySummary, ...]:
    sums: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    for line in lines:
        buckets = sums.setdefault(line.moneda, [ZERO] * BUCKET_COUNT)
        buckets[line.bucket] += line.importe
        counts[line.moneda] = counts.get(line.moneda, 0) + 1
    return tuple(
        CurrencySummary(
            moneda=moneda,
            buckets=(b[0], b[1], b[2], b[3], b[4]),
            balance=sum(b, ZERO),
            item_count=counts[moneda],
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
) -> Statement:
    """Age and total ``items`` as of ``statement_date`` (the cut-off date)."""
    lines = sorted(
        (_line(item, statement_date) for item in items),
        key=lambda line: (line.item.vencimiento, line.item.documento),
    )
    return Statement(
        company,
        customer,
        statement_date,
        tuple(lines),
        _summaries(lines),
        language,
        document_types or {},
        due_date_source,
    )


def statement_filename(cliente: str, statement_date: date) -> str:
    """``"0001006210"`` -> ``"1006210_20240331.pdf"``; nothing in it can leave its folder."""
    return f"{safe_filename_part(normalize_cliente(cliente))}_{statement_date:%Y%m%d}.pdf"

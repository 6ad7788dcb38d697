"""Statement labels and number/date formatting for the company's language (es, pt, en).

Amounts and dates use Babel with explicit patterns, so the output never depends on the
machine's locale: es and en give ``1,234.56`` (es_MX, en_US), pt gives ``1.234,56``
(pt_BR); dates are ``dd/MM/yyyy`` in every language. An unknown language falls back to
Spanish. Babel is imported on first use and the parsed patterns are cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from babel import Locale
from babel.dates import parse_pattern

from rotomail.config import DEFAULT_AGING

DEFAULT_LANGUAGE = "es"
# Spanish and Portuguese readers write dd/mm/yyyy; a US reader takes 05/11/2026 for May
# 11, so English says "Nov 5, 2026" (shared/reference/sap-exports.md).
DATE_PATTERNS = {"es": "dd/MM/yyyy", "pt": "dd/MM/yyyy", "en": "MMM d, yyyy"}
_LOCALES = {"es": "es_MX", "pt": "pt_BR", "en": "en_US"}


@dataclass(frozen=True)
class Labels:
    """Every text printed on a statement, in one language."""

    title: str
    cutoff_date: str
    customer: str
    customer_number: str
    rfc: str
    summary: str
    aging_basis: str
    currency: str
    not_due: str
    over: str  # the last aging bucket; placeholder {days}
    balance: str
    overdue: str
    detail: str
    col_document: str
    col_reference: str
    col_type: str
    col_date: str
    col_due: str
    col_days: str
    col_amount: str
    col_currency: str
    total: str
    no_balance: str
    page: str  # placeholders {page} and {pages}
    contact: str  # placeholders {phone} and {email}
    contact_phone: str  # placeholder {phone}
    contact_email: str  # placeholder {email}
    payment: str
    bank: str
    beneficiary: str
    payment_reference: str
    payments: str  # the payments section's title; placeholder {date}
    payments_line: str  # the e-mail's line; placeholders {date} and {amounts}
    col_cleared: str  # the day a payment was applied (SAP's clearing date)
    col_settled: str  # what it paid
    disputed: str  # a disputed item's mark in the detail (days overdue column)
    disputed_line: str  # the summary's and the e-mail's line; placeholder {amounts}

    def buckets(self, aging: tuple[int, ...] = DEFAULT_AGING) -> tuple[str, ...]:
        """The aging bucket headings, in the order of ``CurrencySummary.buckets``:
        ``Por vencer``, ``1–30``, ``31–60`` … and ``Más de <last> días``."""
        lows = (1, *(days + 1 for days in aging[:-1]))
        ranges = tuple(f"{low}–{high}" for low, high in zip(lows, aging, strict=True))
        return (self.not_due, *ranges, self.over.format(days=aging[-1]))

    def contact_line(self, phone: str, email: str, name: str = "") -> str:
        """The AR contact line, with the customer's collector (``name``) when there is
        one: "Cuentas por Cobrar: Ana Ruiz · tel. … · …"; empty when there is nothing."""
        if phone and email:
            line = self.contact.format(phone=phone, email=email)
        elif phone:
            line = self.contact_phone.format(phone=phone)
        elif email or name:
            line = self.contact_email.format(email=email or name)
        else:
            return ""
        if not name or not (phone or email):
            return line
        title, _, rest = line.partition(": ")  # every language's line is "<title>: <rest>"
        return f"{title}: {name} · {rest}"


# When the export had no net due date and the user named a stand-in (``ledger import
# --due-date-from``), the due-date column and the aging note say what the aging counts from.
DUE_DATE_STANDINS: dict[str, dict[str, tuple[str, str]]] = {
    "fecha_base": {
        "es": ("Fecha base", "Antigüedad de saldos por fecha base de pago (sin vencimiento neto)"),
        "en": ("Baseline date", "Aging by baseline date for payment (no net due date)"),
        "pt": ("Data base", "Vencimento dos saldos pela data base (sem vencimento líquido)"),
    },
    "fecha_documento": {
        "es": ("Fecha doc.", "Antigüedad de saldos por fecha de documento (sin vencimiento neto)"),
        "en": ("Document date", "Aging by document date (no net due date)"),
        "pt": (
            "Data doc.",
            "Vencimento dos saldos pela data do documento (sem vencimento líquido)",
        ),
    },
}


def for_due_date_source(base: Labels, source: str, language: str) -> Labels:
    """``base`` with the due-date column and aging note of a stand-in, when there is one."""
    texts = DUE_DATE_STANDINS.get(source, {}).get(language)
    if texts is None:
        return base
    return replace(base, col_due=texts[0], aging_basis=texts[1])


_LABELS: dict[str, Labels] = {
    "es": Labels(
        title="Estado de cuenta",
        cutoff_date="Fecha de corte",
        customer="Cliente",
        customer_number="No. de cliente",
        rfc="RFC",
        summary="Resumen por moneda",
        aging_basis="Antigüedad de saldos por fecha de vencimiento neto",
        currency="Moneda",
        not_due="Por vencer",
        over="Más de {days} días",
        balance="Saldo",
        overdue="Vencido",
        detail="Detalle de partidas abiertas",
        col_document="Documento",
        col_reference="Referencia",
        col_type="Tipo",
        col_date="Fecha",
        col_due="Vencimiento",
        col_days="Días vencidos",
        col_amount="Importe",
        col_currency="Moneda",
        total="Total",
        no_balance="Sin saldo pendiente",
        page="Página {page} de {pages}",
        contact="Cuentas por Cobrar: tel. {phone} · {email}",
        contact_phone="Cuentas por Cobrar: tel. {phone}",
        contact_email="Cuentas por Cobrar: {email}",
        payment="Instrucciones de pago",
        bank="Banco",
        beneficiary="Beneficiario",
        payment_reference="Referencia (su número de cliente)",
        payments="Pagos y abonos recibidos desde el {date}",
        payments_line="Pagos y abonos recibidos desde el {date}: {amounts}",
        col_cleared="Aplicado",
        col_settled="Pagó",
        disputed="En aclaración",
        disputed_line="En aclaración (no incluido en lo vencido): {amounts}",
    ),
    "pt": Labels(
        title="Extrato de conta",
        cutoff_date="Data de corte",
        customer="Cliente",
        customer_number="Nº do cliente",
        rfc="Id. fiscal",
        summary="Resumo por moeda",
        aging_basis="Vencimento dos saldos pela data de vencimento líquido",
        currency="Moeda",
        not_due="A vencer",
        over="Mais de {days} dias",
        balance="Saldo",
        overdue="Vencido",
        detail="Detalhe das partidas em aberto",
        col_document="Documento",
        col_reference="Referência",
        col_type="Tipo",
        col_date="Data",
        col_due="Vencimento",
        col_days="Dias vencidos",
        col_amount="Valor",
        col_currency="Moeda",
        total="Total",
        no_balance="Sem saldo pendente",
        page="Página {page} de {pages}",
        contact="Contas a Receber: tel. {phone} · {email}",
        contact_phone="Contas a Receber: tel. {phone}",
        contact_email="Contas a Receber: {email}",
        payment="Instruções de pagamento",
        bank="Banco",
        beneficiary="Beneficiário",
        payment_reference="Referência (seu número de cliente)",
        payments="Pagamentos e créditos recebidos desde {date}",
        payments_line="Pagamentos e créditos recebidos desde {date}: {amounts}",
        col_cleared="Aplicado",
        col_settled="Pagou",
        disputed="Em contestação",
        disputed_line="Em contestação (não incluído no vencido): {amounts}",
    ),
    "en": Labels(
        title="Account statement",
        cutoff_date="Statement date",
        customer="Customer",
        customer_number="Customer no.",
        rfc="Tax ID",
        summary="Summary by currency",
        aging_basis="Aging by net due date",
        currency="Currency",
        not_due="Not yet due",
        over="Over {days} days",
        balance="Balance",
        overdue="Overdue",
        detail="Open items",
        col_document="Document",
        col_reference="Reference",
        col_type="Type",
        col_date="Date",
        col_due="Due date",
        col_days="Days overdue",
        col_amount="Amount",
        col_currency="Currency",
        total="Total",
        no_balance="No outstanding balance",
        page="Page {page} of {pages}",
        contact="Accounts Receivable: phone {phone} · {email}",
        contact_phone="Accounts Receivable: phone {phone}",
        contact_email="Accounts Receivable: {email}",
        payment="Payment instructions",
        bank="Bank",
        beneficiary="Beneficiary",
        payment_reference="Reference (your customer number)",
        payments="Payments and credits received since {date}",
        payments_line="Payments and credits received since {date}: {amounts}",
        col_cleared="Applied",
        col_settled="Paid",
        disputed="In dispute",
        disputed_line="In dispute (not included in overdue): {amounts}",
    ),
}

LANGUAGES = tuple(_LABELS)

# SAP's standard document types (table T003) in words, per language. A company's own codes
# come from config.toml ([document_types.ZR] es/en/pt) and win over these.
DOCUMENT_TYPES: dict[str, dict[str, str]] = {
    "RV": {"es": "Factura", "en": "Invoice", "pt": "Fatura"},
    "DR": {"es": "Factura", "en": "Invoice", "pt": "Fatura"},
    "DG": {"es": "Nota de crédito", "en": "Credit memo", "pt": "Nota de crédito"},
    "DZ": {"es": "Pago", "en": "Payment", "pt": "Pagamento"},
    "DA": {"es": "Documento de cliente", "en": "Customer document", "pt": "Documento de cliente"},
    "AB": {"es": "Documento contable", "en": "Accounting document", "pt": "Documento contábil"},
    "SA": {"es": "Asiento contable", "en": "G/L document", "pt": "Lançamento contábil"},
    "RE": {"es": "Factura de proveedor", "en": "Vendor invoice", "pt": "Fatura de fornecedor"},
    "KR": {"es": "Factura de proveedor", "en": "Vendor invoice", "pt": "Fatura de fornecedor"},
    "KG": {
        "es": "Nota de crédito de proveedor",
        "en": "Vendor credit memo",
        "pt": "Nota de crédito de fornecedor",
    },
    "KZ": {"es": "Pago a proveedor", "en": "Vendor payment", "pt": "Pagamento a fornecedor"},
    "ZP": {"es": "Pago", "en": "Payment", "pt": "Pagamento"},
}


def document_type_text(
    code: str, lang: str, custom: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """``"DG"`` -> ``"Nota de crédito"`` (es) / ``"Credit memo"`` (en); an unknown code as is.

    The company's own words (``custom``) win; a language they leave out falls back to
    Spanish, then to the code.
    """
    key = code.strip().upper()
    for table in (custom or {}, DOCUMENT_TYPES):
        words = table.get(key)
        if words:
            text = words.get(lang) or words.get(DEFAULT_LANGUAGE)
            if text:
                return text
    return code


def resolve_language(lang: str | None) -> str:
    """``"es"``, ``"pt"`` or ``"en"``; anything else (or nothing) is Spanish."""
    code = (lang or "").strip().lower()[:2]
    return code if code in _LABELS else DEFAULT_LANGUAGE


def labels(lang: str | None) -> Labels:
    """The statement labels for ``lang`` (Spanish when unknown)."""
    return _LABELS[resolve_language(lang)]


@cache
def _babel(lang: str) -> tuple[Locale, Any]:
    """The Babel locale and the parsed date pattern for a language."""
    return Locale.parse(_LOCALES[lang]), parse_pattern(DATE_PATTERNS[lang])


@cache
def _amount_marks(lang: str) -> dict[int, str]:
    """Python's ``"{:,.2f}"`` marks mapped to the locale's (CLDR data, through Babel)."""
    symbols = _babel(lang)[0].number_symbols["latn"]
    return str.maketrans(
        {",": symbols["group"], ".": symbols["decimal"], "-": symbols["minusSign"]}
    )


def format_amount(value: Decimal, lang: str | None = DEFAULT_LANGUAGE) -> str:
    """``Decimal("-1234.5")`` -> ``"-1,234.50"`` (es, en) or ``"-1.234,50"`` (pt).

    The same text as Babel's ``#,##0.00`` pattern (tests/test_i18n.py checks it) at a tenth
    of the cost: a statement prints dozens of amounts.
    """
    return f"{value:,.2f}".translate(_amount_marks(resolve_language(lang)))


def format_balances(balance: Mapping[str, Decimal], lang: str | None = DEFAULT_LANGUAGE) -> str:
    """A balance per currency on one line: ``"MXN 1,000.00 · USD 500.00"``; nothing owed in
    any currency is ``"sin saldo"``."""
    if not any(balance.values()):
        return "sin saldo"
    return " · ".join(
        f"{moneda} {format_amount(total, lang)}" for moneda, total in sorted(balance.items())
    )


@lru_cache(maxsize=4096)
def format_date(value: date, lang: str | None = DEFAULT_LANGUAGE) -> str:
    """``date(2024, 3, 5)`` -> ``"05/03/2024"`` (es, pt) or ``"Mar 5, 2024"`` (en)."""
    locale, pattern = _babel(resolve_language(lang))
    return str(pattern.apply(value, locale))

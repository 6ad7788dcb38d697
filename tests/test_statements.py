"""Statement data: aging, currencies, totals, file names; and the i18n formatting."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import PurePosixPath, PureWindowsPath

import pytest

from rotomail.company import CompanyProfile
from rotomail.errors import DataError
from rotomail.statement.labels import format_amount, format_date, labels, resolve_language
from rotomail.statement.model import (
    StatementCustomer,
    StatementItem,
    bucket_for,
    build_statement,
    statement_filename,
)

CUT = date(2024, 3, 31)
COMPANY = CompanyProfile("SM02", "Tinacos Ejemplo S.A. de C.V.", "TEJ010101AB1")
CUSTOMER = StatementCustomer("SM02", "0001006210", "Ferretería Ejemplo S.A. de C.V.")


def item(
    documento: str = "1800000001",
    days: int = 0,
    importe: str = "100.00",
    moneda: str = "MXN",
    tipo: str = "RV",
) -> StatementItem:
    """An item ``days`` overdue on CUT (negative: due in the future)."""
    due = CUT - timedelta(days=days)
    return StatementItem(
        documento, tipo, f"A-{documento[-4:]}", due - timedelta(30), due, Decimal(importe), moneda
    )


@pytest.mark.parametrize(
    ("days", "shown_days", "bucket"),
    [
        (-30, 0, 0),  # due in a month: por vencer
        (-1, 0, 0),
        (0, 0, 0),  # due today is not overdue yet
        (1, 1, 1),
        (30, 30, 1),
        (31, 31, 2),
        (60, 60, 2),
        (61, 61, 3),
        (90, 90, 3),
        (91, 91, 4),
        (120, 120, 4),
        (1000, 1000, 4),  # very old items are never lost
    ],
)
def test_aging_boundaries(days: int, shown_days: int, bucket: int) -> None:
    statement = build_statement(COMPANY, CUSTOMER, [item(days=days)], CUT)
    (line,) = statement.lines
    assert line.dias_vencidos == shown_days
    assert line.bucket == bucket == bucket_for(days)
    (summary,) = statement.summaries
    expected = [Decimal("0.00")] * 5
    expected[bucket] = Decimal("100.00")
    assert list(summary.buckets) == expected
    assert summary.balance == Decimal("100.00")
    assert summary.overdue == (Decimal("0.00") if bucket == 0 else Decimal("100.00"))


def test_currencies_are_never_mixed() -> None:
    items = [
        item("1", 5, "1000.00", "MXN"),
        item("2", 5, "50.00", "usd"),
        item("3", 45, "250.50", "MXN"),
        item("4", -3, "10.25", "USD"),
    ]
    statement = build_statement(COMPANY, CUSTOMER, items, CUT)
    assert [s.moneda for s in statement.summaries] == ["MXN", "USD"]
    mxn, usd = statement.summaries
    assert mxn.balance == Decimal("1250.50")
    assert mxn.buckets == (Decimal("0"), Decimal("1000.00"), Decimal("250.50"), 0, 0)
    assert mxn.item_count == 2
    assert usd.balance == Decimal("60.25")
    assert usd.not_due == Decimal("10.25")
    assert usd.overdue == Decimal("50.00")
    assert statement.summary_for("USD") is usd
    assert statement.summary_for("EUR") is None


def test_credit_notes_and_payments_are_negative() -> None:
    items = [
        item("1", 10, "1160.00", tipo="RV"),
        item("2", 10, "-160.00", tipo="DG"),  # credit note
        item("3", 0, "-500.00", tipo="DZ"),  # unapplied payment
    ]
    statement = build_statement(COMPANY, CUSTOMER, items, CUT)
    (summary,) = statement.summaries
    assert [line.importe for line in statement.lines if line.item.tipo != "RV"] == [
        Decimal("-160.00"),
        Decimal("-500.00"),
    ]
    assert summary.buckets[0] == Decimal("-500.00")
    assert summary.buckets[1] == Decimal("1000.00")
    assert summary.balance == Decimal("500.00")


def test_totals_match_the_details_to_the_cent() -> None:
    amounts = ["0.10", "0.20", "0.005", "1234.565", "-0.015", "99999999.99", "-0.01"]
    items = [item(str(n), n * 17, amount) for n, amount in enumerate(amounts)]
    statement = build_statement(COMPANY, CUSTOMER, items, CUT)
    (summary,) = statement.summaries
    printed = [line.importe for line in statement.lines]
    assert all(value == value.quantize(Decimal("0.01")) for value in printed)
    assert sum(printed) == summary.balance == sum(summary.buckets)
    # 0.005 -> 0.01, 1234.565 -> 1234.57, -0.015 -> -0.02 (half away from zero)
    assert summary.balance == Decimal("100001234.84")


def test_items_sorted_by_due_date_then_document() -> None:
    items = [item("30", 1), item("10", 50), item("20", 1), item("05", -10)]
    statement = build_statement(COMPANY, CUSTOMER, items, CUT)
    assert [line.item.documento for line in statement.lines] == ["10", "20", "30", "05"]


@pytest.mark.parametrize(
    ("amounts", "is_zero"),
    [
        ([], True),
        (["100.00", "-100.00"], True),
        (["0.00"], True),
        (["0.01"], False),
        (["-5.00"], False),  # a credit in the customer's favour is still worth sending
    ],
)
def test_is_zero(amounts: list[str], is_zero: bool) -> None:
    items = [item(str(n), 3, amount) for n, amount in enumerate(amounts)]
    assert build_statement(COMPANY, CUSTOMER, items, CUT).is_zero is is_zero


def test_zero_in_one_currency_is_not_zero_overall() -> None:
    items = [item("1", 3, "10.00", "MXN"), item("2", 3, "-10.00", "MXN"), item("3", 3, "1", "USD")]
    assert not build_statement(COMPANY, CUSTOMER, items, CUT).is_zero


def test_item_without_currency_is_rejected() -> None:
    with pytest.raises(DataError):
        build_statement(COMPANY, CUSTOMER, [item(moneda=" ")], CUT)


def test_customer_number_without_leading_zeros() -> None:
    statement = build_statement(COMPANY, CUSTOMER, [], CUT)
    assert statement.cliente == "1006210"
    assert statement.filename == "1006210_20240331.pdf"


@pytest.mark.parametrize(
    ("cliente", "expected"),
    [
        ("0001006210", "1006210_20240331.pdf"),
        ("1006210", "1006210_20240331.pdf"),
        (" 1006210.0 ", "1006210_20240331.pdf"),
        ("0000", "0_20240331.pdf"),
        ("c-01", "C-01_20240331.pdf"),
        ("../../x", "X_20240331.pdf"),
        ("..", "__20240331.pdf"),
        ("a/b\\c", "A_B_C_20240331.pdf"),
        ("/etc/passwd", "ETC_PASSWD_20240331.pdf"),
        ("C:\\temp\\x", "C__TEMP_X_20240331.pdf"),
        ("Ñandú 1", "AND__1_20240331.pdf"),  # non-ASCII letters are replaced, never kept
        ("", "__20240331.pdf"),
    ],
)
def test_statement_filename(cliente: str, expected: str) -> None:
    name = statement_filename(cliente, CUT)
    assert name == expected
    for path in (PurePosixPath(name), PureWindowsPath(name)):
        assert path.name == name  # no folder part on any system
    assert ".." not in name.removesuffix(".pdf")
    assert name.endswith("_20240331.pdf")
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in name)


# --- i18n -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        ("1234.56", "es", "1,234.56"),
        ("1234.56", "en", "1,234.56"),
        ("1234.56", "pt", "1.234,56"),
        ("-1234567.5", "es", "-1,234,567.50"),
        ("-1234567.5", "pt", "-1.234.567,50"),
        ("0", "es", "0.00"),
        ("0.5", "pt", "0,50"),
        ("999.999", "es", "1,000.00"),
        ("1234.56", "fr", "1,234.56"),  # unknown language: Spanish
        ("1234.56", None, "1,234.56"),
    ],
)
def test_format_amount(value: str, lang: str | None, expected: str) -> None:
    assert format_amount(Decimal(value), lang) == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("es", "05/03/2024"), ("pt", "05/03/2024"), ("en", "Mar 5, 2024"), ("xx", "05/03/2024")],
)
def test_format_date(lang: str, expected: str) -> None:
    assert format_date(date(2024, 3, 5), lang) == expected


def test_labels_per_language() -> None:
    assert labels("es").title == "Estado de cuenta"
    assert labels("pt").title == "Extrato de conta"
    assert labels("en").title == "Account statement"
    assert labels("es").buckets() == ("Por vencer", "1–30", "31–60", "61–90", "Más de 90 días")
    assert labels("es").page.format(page=1, pages=2) == "Página 1 de 2"
    assert labels("en").page.format(page=1, pages=2) == "Page 1 of 2"
    assert resolve_language("PT-br") == "pt"
    assert resolve_language("") == "es"


def test_contact_line() -> None:
    lb = labels("es")
    assert lb.contact_line("800 000 0000", "cobranza@example.mx") == (
        "Cuentas por Cobrar: tel. 800 000 0000 · cobranza@example.mx"
    )
    assert lb.contact_line("", "cobranza@example.mx") == "Cuentas por Cobrar: cobranza@example.mx"
    assert lb.contact_line("800 000 0000", "") == "Cuentas por Cobrar: tel. 800 000 0000"
    assert lb.contact_line("", "") == ""

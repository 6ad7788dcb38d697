"""The statement model's contract at its edges (rotomail.statement.model): refused items,
what a statement carries through to the PDF and the e-mail, and which cleared items are
printed as payments received — the cases a maintainer's small slip would change silently.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rotomail.company import Collector, CompanyProfile
from rotomail.errors import DataError
from rotomail.statement.model import (
    PAYMENT_WINDOW_DAYS,
    ClearedItem,
    StatementCustomer,
    StatementItem,
    build_statement,
    payments_received,
)

CUT = date(2026, 11, 30)
COMPANY = CompanyProfile("SM02", "Tinacos Ejemplo S.A. de C.V.", "TEJ010101AB1", language="pt")
CUSTOMER = StatementCustomer("SM02", "0001006210", "Ferretería Ejemplo S.A. de C.V.")


def item(importe: Any = Decimal("100.00"), moneda: str = "MXN") -> StatementItem:
    return StatementItem("1800000001", "RV", "A-0001", CUT, CUT, importe, moneda)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (item(moneda="  "), "El documento 1800000001 no tiene moneda."),
        (item(Decimal("NaN")), "El documento 1800000001 tiene un importe inválido."),
        (item(Decimal("Infinity")), "El documento 1800000001 tiene un importe inválido."),
        (item(100.5), "El documento 1800000001 tiene un importe inválido."),
    ],
)
def test_an_item_without_currency_or_with_an_amount_that_is_no_number_is_refused(
    bad: StatementItem, message: str
) -> None:
    with pytest.raises(DataError) as refused:
        build_statement(COMPANY, CUSTOMER, [bad], CUT)
    assert str(refused.value) == message


def test_a_statement_built_with_the_defaults() -> None:
    statement = build_statement(COMPANY, CUSTOMER, [item()], CUT)
    assert statement.language == ""
    assert statement.lang == "pt"  # the company's language when the customer has none
    assert statement.document_types == {}
    assert statement.due_date_source == "vencimiento"
    assert statement.payments is None
    assert statement.collector is None


def test_a_statement_carries_what_it_was_given() -> None:
    collector = Collector("A01", "Ana Ejemplo", "ana@example.mx", "55 1234 5678")
    types = {"ZR": {"es": "Factura de renta"}}
    cleared = [cleared_item("1400000001", "-50.00", CUT - timedelta(days=2))]
    payments = payments_received(cleared, CUT, None)
    statement = build_statement(
        COMPANY,
        CUSTOMER,
        [item()],
        CUT,
        language="en",
        document_types=types,
        due_date_source="fecha_base",
        payments=payments,
        collector=collector,
    )
    assert statement.lang == "en"
    assert statement.document_types == types
    assert statement.due_date_source == "fecha_base"
    assert statement.payments == payments
    assert statement.collector == collector


def test_payments_without_lines_are_no_payments_section() -> None:
    empty = payments_received([], CUT, None)
    assert build_statement(COMPANY, CUSTOMER, [item()], CUT, payments=empty).payments is None


def cleared_item(
    documento: str, importe: str, cleared_on: date, clearing: str = "1400000099", ref: str = ""
) -> ClearedItem:
    return ClearedItem(
        documento, "DZ", ref, cleared_on, Decimal(importe), "mxn", clearing, cleared_on
    )


def test_what_is_printed_as_received_and_what_it_settled() -> None:
    previous = date(2026, 11, 10)
    cleared = [
        # cleared before the payment: an invoice is no payment, and does not stop the list
        cleared_item("1800000001", "0.50", date(2026, 11, 11), ref="A-0001"),
        cleared_item("1800000002", "0.00", date(2026, 11, 11), ref="A-0002"),
        cleared_item("1800000003", "1200.00", date(2026, 11, 11), ref=""),
        cleared_item("1400000001", "-1200.505", date(2026, 11, 12)),
        # on the previous statement's day: already printed there
        cleared_item("1400000002", "-10.00", previous, clearing="1400000002"),
        # a payment without a clearing document settles nothing that can be named
        cleared_item("1400000003", "-7.00", date(2026, 11, 20), clearing=""),
        # after the statement date: next time
        cleared_item("1400000004", "-9.00", CUT + timedelta(days=1), clearing="1400000004"),
    ]
    payments = payments_received(cleared, CUT, previous)
    assert payments.since == previous
    assert [
        (line.item.documento, line.importe, line.moneda, line.settled) for line in payments.lines
    ] == [
        ("1400000001", Decimal("1200.51"), "MXN", ("A-0001", "1800000003")),
        ("1400000003", Decimal("7.00"), "MXN", ()),
    ]
    assert payments.totals() == {"MXN": Decimal("1207.51")}


@pytest.mark.parametrize(
    "previous",
    [None, CUT, CUT + timedelta(days=3)],
    ids=["no previous statement", "previous today", "previous after the date"],
)
def test_without_an_earlier_statement_the_window_is_the_last_30_days(
    previous: date | None,
) -> None:
    start = CUT - timedelta(days=PAYMENT_WINDOW_DAYS)
    cleared = [
        cleared_item("1400000001", "-1.00", start),
        cleared_item("1400000002", "-2.00", start + timedelta(days=1)),
        cleared_item("1400000003", "-3.00", CUT),
    ]
    payments = payments_received(cleared, CUT, previous)
    assert payments.since == start
    assert [line.importe for line in payments.lines] == [Decimal("2.00"), Decimal("3.00")]


def test_a_zero_cleared_item_is_no_payment() -> None:
    payments = payments_received([cleared_item("1400000001", "0.00", CUT)], CUT, None)
    assert payments.lines == ()


def disputed_item(documento: str, importe: str, moneda: str = "MXN") -> StatementItem:
    return StatementItem(
        documento,
        "RV",
        "",
        CUT,
        CUT - timedelta(days=45),
        Decimal(importe),
        moneda,
        aclaracion="precio en aclaración",
    )


def test_disputed_items_are_in_the_balance_and_in_no_bucket() -> None:
    items = [
        item(Decimal("100.00")),
        disputed_item("1800000002", "40.00"),
        disputed_item("1800000003", "2.50"),
        disputed_item("1800000004", "7.00", "USD"),
        item(Decimal("10.00"), "EUR"),
    ]
    statement = build_statement(COMPANY, CUSTOMER, items, CUT)
    assert [(line.item.documento, line.bucket, line.disputed) for line in statement.lines] == [
        ("1800000002", -1, True),  # no aging bucket, whatever its days overdue
        ("1800000003", -1, True),
        ("1800000004", -1, True),
        ("1800000001", 0, False),
        ("1800000001", 0, False),
    ]
    eur, mxn, usd = statement.summaries
    assert (mxn.balance, mxn.disputed, mxn.not_due, mxn.overdue) == (
        Decimal("142.50"),
        Decimal("42.50"),
        Decimal("100.00"),
        Decimal("0.00"),
    )
    assert (usd.balance, usd.disputed, sum(usd.buckets)) == (Decimal("7.00"), Decimal("7.00"), 0)
    assert (eur.balance, eur.disputed) == (Decimal("10.00"), Decimal("0.00"))
    assert statement.disputed() == {"MXN": Decimal("42.50"), "USD": Decimal("7.00")}


@pytest.mark.parametrize(
    ("language", "phone"),
    [
        ("en", "+52 55 0000 0001"),
        ("", "55 1111 1111"),
        ("es", "55 1111 1111"),
        ("pt", "55 0000 0000"),
    ],
)
def test_the_company_phone_in_the_statements_language(language: str, phone: str) -> None:
    company = dataclasses.replace(
        COMPANY,
        language="es",
        phone="55 0000 0000",
        localized=(("en", "phone", "+52 55 0000 0001"), ("es", "phone", "55 1111 1111")),
    )
    statement = build_statement(company, CUSTOMER, [item()], CUT, language=language)
    assert statement.company.phone == phone

"""The ledger reader's contract as tables (rotomail.inputs.parsers): amounts and their
notation, dates, the control totals per level, the rows refused and why, the key date and
the net due date — what decides the money a customer is told it owes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rotomail.errors import DataError, UsageError
from rotomail.inputs.parsers import (
    LedgerParse,
    TotalMismatch,
    detect_decimal_separator,
    format_amount,
    parse_amount,
    parse_date,
    parse_ledger,
)


@pytest.mark.parametrize(
    ("text", "decimal", "amount"),
    [
        ("1.234,56", ",", "1234.56"),
        ("1.234,56-", ",", "-1234.56"),
        ("1 234,56", ",", "1234.56"),
        ("1\u00a0234\u202f567,5", ",", "1234567.50"),
        ("1,234.56", ".", "1234.56"),
        ("-1,234.56", ".", "-1234.56"),
        ("\u22121,234.56", ".", "-1234.56"),
        ("(1,234.56)", ".", "-1234.56"),
        ("$1,234.56", ".", "1234.56"),
        ("-$5.00", ".", "-5.00"),
        ("+7.50", ".", "7.50"),
        ("  12  ", ".", "12.00"),
        ("0,005", ",", "0.01"),  # to the cent, half up
        ("2.675", ".", "2.68"),
        ("1234", None, "1234.00"),
        ("1.234,56", None, "1234.56"),  # proves its own notation
        ("1,234.56", None, "1234.56"),
        ("1.234.567", None, "1234567.00"),  # two dots: thousands
        ("12,5", None, "12.50"),
        ("1.234", None, None),  # thousands or decimals? refused
        ("1,234", None, None),
        ("1.234", ",", "1234.00"),
        ("1.234", ".", "1.23"),
        ("12.34.5", ".", None),
        ("1,23,456.00", ".", None),
        ("1.234,56", ".", None),
        ("", ".", None),
        ("-", ".", None),
        ("--5", ".", None),
        ("5-", ".", "-5.00"),
        ("5+", ".", None),
        ("abc", ".", None),
        ("1e5", ".", None),
    ],
)
def test_amounts(text: str, decimal: str | None, amount: str | None) -> None:
    assert parse_amount(text, decimal) == (Decimal(amount) if amount else None)


@pytest.mark.parametrize(
    ("amounts", "decimal"),
    [
        (["1.234,56", "7,00", "1.000"], ","),
        (["1,234.56", "7.00", "1,000"], "."),
        (["1.234.567", "5"], ","),
        (["1,234,567"], "."),
        (["1.000", "2,000", "5"], None),
        (["1,00", "2.00"], None),  # tied
        (["1,00", "2,00", "3.00"], ","),
        ([], None),
        (["abc", "-", ""], None),
    ],
)
def test_the_files_notation_is_the_majority(amounts: list[str], decimal: str | None) -> None:
    assert detect_decimal_separator(amounts) == decimal


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("30.11.2026", dt.date(2026, 11, 30)),
        ("1/2/2026", dt.date(2026, 2, 1)),
        ("01-02-2026", dt.date(2026, 2, 1)),
        (" 2026-11-30 ", dt.date(2026, 11, 30)),
        ("2026-11-30T10:20", dt.date(2026, 11, 30)),
        ("2026-11-30 10:20:30.5", dt.date(2026, 11, 30)),
        ("46356", dt.date(2026, 11, 30)),  # Excel's serial
        ("20000", dt.date(1954, 10, 3)),
        ("80000", dt.date(2119, 1, 11)),
        ("19999", None),
        ("80001", None),
        ("12/31/2026", None),  # day first, always
        ("30.11/2026", None),
        ("31.02.2026", None),
        ("2026-13-01", None),
        ("30.11.26", None),
        ("", None),
    ],
)
def test_dates(text: str, date: dt.date | None) -> None:
    assert parse_date(text) == date


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1234.5", "1,234.50"), ("-5", "-5.00"), ("0", "0.00"), ("1234567.891", "1,234,567.89")],
)
def test_amounts_in_messages(value: str, shown: str) -> None:
    assert format_amount(Decimal(value)) == shown


@pytest.mark.parametrize(
    ("level", "cliente", "what"),
    [(1, "1004273", "del cliente 1004273"), (1, "", "total"), (2, "1004273", "total")],
)
def test_a_mismatch_message(level: int, cliente: str, what: str) -> None:
    mismatch = TotalMismatch(12, level, cliente, "MXN", Decimal("-10"), Decimal("1234.5"))
    assert mismatch.message == (
        f"Línea 12: el subtotal {what} en MXN no cuadra: el archivo dice -10.00 y sus "
        "partidas suman 1,234.50."
    )


HEADER = "Sociedad\tCliente\tNº documento\tVencimiento neto\tImporte en MD\tMon.doc."


def ledger(*lines: str, header: str = HEADER, **kwargs: str) -> LedgerParse:
    return parse_ledger("\n".join([header, *lines, ""]).encode(), "fbl5n.txt", **kwargs)


def mismatches(*lines: str) -> list[tuple[int, int, str, str, str, str]]:
    result = ledger(*lines)
    return [
        (m.line, m.level, m.cliente, m.moneda, str(m.in_file), str(m.computed))
        for m in result.mismatches
    ]


def test_control_totals_that_add_up() -> None:
    assert (
        mismatches(
            "SM02\t0001001\t1\t30.11.2026\t1.000,00\tMXN",
            "SM02\t0001001\t2\t30.11.2026\t250,50-\tMXN",
            "SM02\t0001001\t3\t30.11.2026\t10,00\tUSD",
            "\t0001001\t\t\t* 749,50\tMXN",
            "\t0001001\t\t\t* 10,00\tUSD",
            "SM02\t1002\t4\t30.11.2026\t5,00\tMXN",
            "\t\t\t\t* 5,00\t",
            "\t\t\t\t** 754,50\tMXN",
            "\t\t\t\t** 10,00\tUSD",
            "\t\t\t\t*** 754,50\tMXN",
        )
        == []
    )


def test_control_totals_that_do_not() -> None:
    assert mismatches(
        "SM02\t0001001\t1\t30.11.2026\t1.000,00\tMXN",
        "SM02\t0001001\t2\t30.11.2026\t250,50-\tMXN",
        "\t\t\t\t* 749,50-\tMXN",  # the right figure with the wrong sign
        "SM02\t1002\t4\t30.11.2026\t5,00\tmxn",
        "SM02\t1002\t5\t30.11.2026\t1,00\tUSD",
        "\t\t\t\t* 6,00\t",  # two currencies: this total is not per currency
        "\t\t\t\t** 750,00\tMXN",
        "\t\t\t\t** 0,00\tEUR",
    ) == [
        (4, 1, "1001", "MXN", "-749.50", "749.50"),
        (7, 1, "1002", "?", "6.00", "0"),
        (8, 2, "1002", "MXN", "750.00", "754.50"),  # said "total" (level 2)
    ]


def test_a_subtotal_of_the_next_customer_counts_only_its_items() -> None:
    assert mismatches(
        "SM02\t1001\t1\t30.11.2026\t100,00\tMXN",
        "\t\t\t\t* 100,00\tMXN",
        "SM02\t1002\t2\t30.11.2026\t7,00\tMXN",
        "SM02\t1002\t3\t30.11.2026\t3,00\tMXN",
        "\t\t\t\t* 100,00\tMXN",
        "\t\t\t\t** 110,00\tMXN",
        "\t\t\t\t**** 110,00\tMXN",
    ) == [(6, 1, "1002", "MXN", "100.00", "10.00")]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("SM02\t1001\t1\t30.11.2026\t\tMXN", "Falta el importe"),
        ("SM02\t1001\t1\t30.11.2026\t5,00\t", "Falta la moneda"),
        (
            "SM02\t1001\t1\t30.11.2026\t5,00\tPESOS",
            "Moneda «PESOS» no es un código de 3 letras (MXN, USD)",
        ),
        ("SM02\t1001\t1\t\t5,00\tMXN", "Falta el vencimiento"),
        (
            "SM02\t1001\t1\t31.11.2026\t5,00\tMXN",
            "Vencimiento «31.11.2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        ),
        (
            "SM02\t1001\t1\t30.11.2026\t5,0x\tMXN",
            "Importe «5,0x» no es un importe válido (se espera p. ej. 1.234,56-)",
        ),
    ],
)
def test_a_refused_row_says_why(row: str, reason: str) -> None:
    result = ledger("SM02\t1001\t9\t30.11.2026\t1.000,00\tMXN", row)
    assert [(r.line, r.message) for r in result.rejects] == [(3, f"Línea 3: {reason}")]


def test_an_ambiguous_amount_in_a_file_that_proves_no_notation() -> None:
    result = ledger("SM02\t1001\t1\t30.11.2026\t1.234\tMXN")
    [reject] = result.rejects
    assert reject.message == (
        "Línea 2: Importe «1.234» es ambiguo (¿miles o decimales?); escriba los decimales, "
        "p. ej. 1.234,00 o 1,234.00"
    )


def test_an_item_as_read() -> None:
    result = ledger(
        "sm02\t0001001\tA-1\t01/12/2026\t(1,234.50)\tusd",
        header=HEADER + "\tClase de documento\tTexto",
    )
    [item] = result.rows
    assert (item.line, item.sociedad, item.cliente, item.documento) == (2, "SM02", "1001", "A-1")
    assert (item.vencimiento, item.importe, item.moneda) == (
        dt.date(2026, 12, 1),
        Decimal("-1234.50"),
        "USD",
    )


@pytest.mark.parametrize(
    ("title", "date"),
    [
        ("Fecha de clave: 30.11.2026", dt.date(2026, 11, 30)),
        ("Fecha clave 01.12.2026", dt.date(2026, 12, 1)),
        ("Key date: 30.11.2026", dt.date(2026, 11, 30)),
        ("Partidas abiertas de clientes", None),
    ],
)
def test_the_key_date_above_the_header(title: str, date: dt.date | None) -> None:
    result = parse_ledger(
        f"{title}\n\n{HEADER}\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n".encode(), "f.txt"
    )
    assert result.layout is not None and result.layout.key_date == date


def test_the_due_date_and_its_stand_ins() -> None:
    base = HEADER.replace("Vencimiento neto", "Base p.plazo pago")
    with pytest.raises(DataError, match=r"^fbl5n\.txt no trae el vencimiento neto \(sus columnas"):
        ledger("SM02\t1001\t1\t30.11.2026\t5,00\tMXN", header=base)
    result = ledger("SM02\t1001\t1\t15.11.2026\t5,00\tMXN", header=base, due_date_from="fecha_base")
    assert result.layout.due_field == "fecha_base"
    assert result.rows[0].vencimiento == dt.date(2026, 11, 15)
    with pytest.raises(
        DataError, match=r"no trae la columna de .* que --due-date-from fecha_documento nombra"
    ):
        ledger("SM02\t1001\t1\t15.11.2026\t5,00\tMXN", header=base, due_date_from="fecha_documento")
    with pytest.raises(UsageError, match=r"trae el vencimiento neto \(«Vencimiento neto»\); quite"):
        ledger("SM02\t1001\t1\t30.11.2026\t5,00\tMXN", due_date_from="fecha_base")

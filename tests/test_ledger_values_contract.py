"""The ledger's values as a user sees them: amounts, signs, decimal separators and dates.

The contract of ``rotomail/inputs/parsers.py``'s value readers (issue 23), as tables of
inputs and what the ledger import makes of them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Cli
from sqlalchemy import text

from rotomail.errors import DataError
from rotomail.inputs.parsers import (
    LedgerParse,
    detect_decimal_separator,
    parse_amount,
    parse_ledger,
)
from rotomail.store.db import open_engine

HEADER = "Sociedad\tCliente\tNº documento\tVencimiento neto\tImporte en MD\tMon.doc."


def ledger(*lines: str, header: str = HEADER) -> LedgerParse:
    return parse_ledger("\n".join([header, *lines, ""]).encode(), "fbl5n.txt")


# --- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal", "amount"),
    [
        # the currency sign before or after the minus, with or without a blank
        ("$-5.00", ".", "-5.00"),
        ("- $5.00", ".", "-5.00"),
        ("-$ 5.00", ".", "-5.00"),
        ("+ $5.00", ".", "5.00"),
        ("$(1,234.56)", ".", "-1234.56"),
        ("$ 1.234,56-", ",", "-1234.56"),
        # a parenthesis without its pair is not a negative amount
        ("(5.00", ".", None),
        ("5.00)", ".", None),
    ],
)
def test_signs_and_currency_symbols(text: str, decimal: str, amount: str | None) -> None:
    assert parse_amount(text, decimal) == (Decimal(amount) if amount else None)


@pytest.mark.parametrize(
    ("amounts", "decimal"),
    [
        # what is not an amount proves no notation, however it is written
        (["1,5", "--1,234.56"], ","),
        (["1,5", "1,234.56+"], ","),
        (["1,5", "+-2.50"], ","),
        # a thin space or NBSP groups thousands and proves nothing by itself
        (["1\u202f234", "7.5"], "."),
    ],
)
def test_only_amounts_vote_for_the_files_notation(amounts: list[str], decimal: str) -> None:
    assert detect_decimal_separator(amounts) == decimal


def test_an_amount_in_the_other_notation_is_refused_not_read() -> None:
    """A file in 1.234,56 notation with one item typed in the other notation: that item is
    refused with the file's notation as the example, not read by its own."""
    result = ledger(
        "SM02\t1001\t1\t30.11.2026\t1.000,00\tMXN",
        "SM02\t1001\t2\t30.11.2026\t7,50\tMXN",
        "SM02\t1001\t3\t30.11.2026\t1,234.56\tMXN",
    )
    assert [item.importe for item in result.rows] == [Decimal("1000.00"), Decimal("7.50")]
    assert [r.message for r in result.rejects] == [
        "Línea 4: Importe «1,234.56» no es un importe válido (se espera p. ej. 1.234,56-)"
    ]


@pytest.mark.parametrize(
    ("amounts", "refused"),
    [
        (
            ["1,000.00", "7.50", "5.0x"],
            "Importe «5.0x» no es un importe válido (se espera p. ej. 1,234.56-)",
        ),
        (  # known notation: a malformed amount is not called ambiguous
            ["1,000.00", "7.50", "(1,234"],
            "Importe «(1,234» no es un importe válido (se espera p. ej. 1,234.56-)",
        ),
        (
            ["1.000,00", "7,50", "5,0x"],
            "Importe «5,0x» no es un importe válido (se espera p. ej. 1.234,56-)",
        ),
        (  # nothing in the file proves a notation: both are shown
            ["5", "abc"],
            "Importe «abc» no es un importe válido (se espera p. ej. 1.234,56- o 1,234.56-)",
        ),
        (
            ["5", "1.234-"],
            "Importe «1.234-» es ambiguo (¿miles o decimales?); escriba los decimales, "
            "p. ej. 1.234,00 o 1,234.00",
        ),
        (
            ["5", "(1,234)"],
            "Importe «(1,234)» es ambiguo (¿miles o decimales?); escriba los decimales, "
            "p. ej. 1.234,00 o 1,234.00",
        ),
        (  # SAP's trailing minus after a no-break space
            ["5", "1.234\u00a0-"],
            "Importe «1.234\u00a0-» es ambiguo (¿miles o decimales?); escriba los decimales, "
            "p. ej. 1.234,00 o 1,234.00",
        ),
        (
            ["5", "$1,234"],
            "Importe «$1,234» es ambiguo (¿miles o decimales?); escriba los decimales, "
            "p. ej. 1.234,00 o 1,234.00",
        ),
    ],
)
def test_a_refused_amount_names_the_notation_expected(amounts: list[str], refused: str) -> None:
    result = ledger(
        *(f"SM02\t1001\t{n}\t30.11.2026\t{amount}\tMXN" for n, amount in enumerate(amounts))
    )
    assert [r.message for r in result.rejects] == [f"Línea {len(amounts) + 1}: {refused}"]
    assert len(result.rows) == len(amounts) - 1


# --- which amount column is imported -------------------------------------------------------

KEYS = "Sociedad\tCliente\tNº documento\tVencimiento neto"


@pytest.mark.parametrize(
    ("columns", "cells", "imported"),
    [
        # the document currency wins over the local one
        (
            "Importe en MD\tMon.doc.\tImporte en ML\tMoneda local",
            "10,00\tUSD\t180,00\tMXN",
            ("importe_md", "moneda_md", "10.00", "USD"),
        ),
        (
            "Importe en ML\tMoneda local",
            "180,00\tMXN",
            ("importe_ml", "moneda_ml", "180.00", "MXN"),
        ),
        # an amount without its currency is not a pair: the other pair is imported
        (
            "Importe en MD\tImporte en ML\tMoneda local",
            "10,00\t180,00\tMXN",
            ("importe_ml", "moneda_ml", "180.00", "MXN"),
        ),
        (
            "Mon.doc.\tImporte en ML\tMoneda local",
            "USD\t180,00\tMXN",
            ("importe_ml", "moneda_ml", "180.00", "MXN"),
        ),
    ],
)
def test_the_amount_and_currency_imported(
    columns: str, cells: str, imported: tuple[str, str, str, str]
) -> None:
    result = ledger(f"SM02\t1001\t1\t30.11.2026\t{cells}", header=f"{KEYS}\t{columns}")
    assert result.layout is not None
    [item] = result.rows
    assert (
        result.layout.amount_field,
        result.layout.currency_field,
        str(item.importe),
        item.moneda,
    ) == imported


@pytest.mark.parametrize(
    "columns",
    [
        "Texto",
        "Importe en MD\tImporte en ML",
        "Importe en ML\tMon.doc.",
        "Moneda local\tMon.doc.",
        "Importe en MD\tMoneda local",
    ],
)
def test_without_an_amount_and_its_currency_nothing_is_read(columns: str) -> None:
    with pytest.raises(DataError) as raised:
        ledger("SM02\t1001\t1\t30.11.2026\t5,00\tMXN", header=f"{KEYS}\t{columns}")
    assert raised.value.message == (
        "No se encontraron las columnas de importe y moneda: se espera «Importe en moneda doc.» "
        "con «Moneda del documento», o «Importe en moneda local» con «Moneda local». Si el "
        'archivo las titula de otro modo, indíquelo con --column importe_md="…" '
        '--column moneda_md="…".'
    )


# --- the key date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "date"),
    [
        ("Fecha de clave:\t30.11.2026", dt.date(2026, 11, 30)),  # label and date in two cells
        ("Key date\t\t2026-11-30", dt.date(2026, 11, 30)),
        ("Partidas abiertas al\t30/11/2026", dt.date(2026, 11, 30)),
        ("Impreso el 01.12.2026", None),  # a date, but not the key date
    ],
)
def test_the_key_date_printed_above_the_list(title: str, date: dt.date | None) -> None:
    result = ledger(header=f"{title}\n{HEADER}")
    assert result.layout is not None and result.layout.key_date == date


@pytest.mark.parametrize("printed", ["31.11.2026", "12/31/2026"])  # no such day; month first
def test_a_key_date_that_is_no_date_is_refused_and_nothing_is_imported(
    customers: Cli, db_url: str, tmp_path: Path, printed: str
) -> None:
    path = tmp_path / "fbl5n.txt"
    path.write_text(
        f"Partidas de deudor\nFecha de clave: {printed}\n{HEADER}\n"
        "SM02\t1004273\t1\t30.11.2026\t5,00\tMXN\n",
        encoding="utf-8",
    )
    result = customers("ledger", "import", str(path))
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: Línea 2: la fecha de clave «{printed}» no es una fecha válida "
        "(use DD.MM.AAAA o DD/MM/AAAA).\n"
    )
    engine = open_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM open_item")).scalar() == 0
    engine.dispose()


def two_files(tmp_path: Path, first: str, second: str) -> tuple[str, str]:
    paths = []
    for name, key_date, cliente in [("a.txt", first, "1004273"), ("b.txt", second, "1006210")]:
        path = tmp_path / name
        path.write_text(
            f"Fecha de clave: {key_date}\n{HEADER}\nSM02\t{cliente}\t1\t30.11.2026\t5,00\tMXN\n",
            encoding="utf-8",
        )
        paths.append(str(path))
    return paths[0], paths[1]


def test_files_of_different_key_dates_are_not_one_snapshot(
    customers: Cli, db_url: str, tmp_path: Path
) -> None:
    a, b = two_files(tmp_path, "30.11.2026", "01.12.2026")
    result = customers("ledger", "import", a, b)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: Los archivos son de fechas de clave distintas ({a}: 30.11.2026, "
        f"{b}: 01.12.2026).\n"
    )
    engine = open_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM open_item")).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize(
    ("date", "exit_code", "stderr"),
    [
        ("2026-11-30", 0, ""),
        (
            "2026-12-01",
            2,
            "Error: --date 2026-12-01 no coincide con la fecha de clave que imprime {a} "
            "(30.11.2026); quite --date o importe el archivo correcto.\n",
        ),
    ],
)
def test_date_given_for_files_of_one_key_date(
    customers: Cli, tmp_path: Path, date: str, exit_code: int, stderr: str
) -> None:
    a, b = two_files(tmp_path, "30.11.2026", "30.11.2026")
    result = customers("ledger", "import", a, b, "--date", date)
    assert result.exit_code == exit_code, result.output
    assert result.stderr == stderr.format(a=a)

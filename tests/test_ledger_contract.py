"""The ledger reader's contract as tables (rotomail.inputs.parsers): amounts and their
notation, dates, the control totals per level, the rows refused and why, the key date and
the net due date — what decides the money a customer is told it owes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Cli
from sqlalchemy import text

from rotomail.errors import DataError, UsageError
from rotomail.inputs.parsers import (
    LedgerParse,
    LedgerReader,
    TotalMismatch,
    detect_decimal_separator,
    format_amount,
    parse_amount,
    parse_date,
    parse_ledger,
)
from rotomail.inputs.tabular import read_rows
from rotomail.store.db import open_engine


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


# --- the reader: header, layout, control totals, refusals as the user sees them -----------

LAYOUT_LINES = [  # what «ledger import» prints under «Columnas de …», one line per field
    "sociedad ← «Sociedad»",
    "cliente ← «Cliente»",
    "documento ← «Nº documento»",
    "tipo ← (no está en el archivo)",
    "referencia ← (no está en el archivo)",
    "fecha_documento ← «Fecha doc.»",
    "fecha_base ← «Base p.plazo pago»",
    "vencimiento ← «Vencimiento neto»",
    "importe_md ← «Importe en MD»",
    "moneda_md ← «Mon.doc.»",
    "importe_ml ← (no está en el archivo)",
    "moneda_ml ← (no está en el archivo)",
    "texto ← (no está en el archivo)",
    "doc_compensacion ← (no está en el archivo)",
    "fecha_compensacion ← (no está en el archivo)",
    "asignacion ← (no está en el archivo)",
    "bloqueo ← (no está en el archivo)",
]
DATED = "Sociedad\tCliente\tNº documento\tFecha doc.\tBase p.plazo pago\tImporte en MD\tMon.doc."


@pytest.mark.parametrize(
    ("header", "stand_in", "due_line"),
    [
        (
            DATED.replace("Base p.plazo pago", "Base p.plazo pago\tVencimiento neto"),
            None,
            "vencimiento ← «Vencimiento neto»",
        ),
        (
            DATED,
            "fecha_base",
            "vencimiento ← «Base p.plazo pago» (fecha base, por --due-date-from: el archivo no "
            "trae el vencimiento neto)",
        ),
        (
            DATED,
            "fecha_documento",
            "vencimiento ← «Fecha doc.» (fecha de documento, por --due-date-from: el archivo no "
            "trae el vencimiento neto)",
        ),
    ],
    ids=["net-due-date", "baseline", "document-date"],
)
def test_the_layout_names_every_field_and_where_the_due_date_comes_from(
    header: str, stand_in: str | None, due_line: str
) -> None:
    row = "SM02\t1001\t1\t01.11.2026\t15.11.2026\t5,00\tMXN"
    if stand_in is None:
        row = row.replace("15.11.2026", "15.11.2026\t15.12.2026")
    result = ledger(row, header=header, **({"due_date_from": stand_in} if stand_in else {}))
    expected = [due_line if line.startswith("vencimiento ") else line for line in LAYOUT_LINES]
    assert result.layout is not None and result.layout.heading_lines() == expected
    assert result.rejects == [] and len(result.rows) == 1


def test_a_file_without_the_header_row_is_refused_naming_the_columns() -> None:
    with pytest.raises(DataError) as info:
        parse_ledger(b"Partidas individuales de deudores\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n")
    assert info.value.message == (
        "No se encontró la fila de encabezados de partidas abiertas: se esperan al menos las "
        "columnas Sociedad, Cliente (o Cuenta), Nº documento, Vencimiento neto, Importe y "
        'Moneda. Si el archivo las titula de otro modo, indíquelo con --column campo="Encabezado".'
    )


@pytest.mark.parametrize(
    ("titles", "found"),
    [(0, True), (29, True), (30, False)],
    ids=["first-line", "line-30", "line-31"],
)
def test_the_header_is_looked_for_in_the_first_30_lines(titles: int, found: bool) -> None:
    above = [f"Partidas individuales de deudores - hoja {n}" for n in range(titles)]
    data = "\n".join([*above, HEADER, "SM02\t1001\t1\t30.11.2026\t5,00\tMXN", ""]).encode()
    if found:
        assert [r.line for r in parse_ledger(data, "f.txt").rows] == [titles + 2]
    else:
        with pytest.raises(DataError, match=r"^No se encontró la fila de encabezados"):
            parse_ledger(data, "f.txt")


def test_the_key_date_is_read_only_above_the_header() -> None:
    """A «Fecha de clave» after the header is a text of the list, not the list's key date."""
    result = parse_ledger(
        f"{HEADER}\tTexto\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\tFecha de clave: 01.12.2026\n"
        "Fecha de clave: 01.12.2026\n".encode(),
        "f.txt",
    )
    assert result.layout is not None and result.layout.key_date is None
    assert [r.texto for r in result.rows] == ["Fecha de clave: 01.12.2026"]


@pytest.mark.parametrize(
    ("name", "subject"),
    [(["fbl5n.txt"], "fbl5n.txt"), ([], "La entrada"), (["-"], "La entrada estándar")],
    ids=["file", "in-memory", "stdin"],
)
def test_due_date_messages_name_the_input(name: list[str], subject: str) -> None:
    plain = f"{HEADER}\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n"
    base = plain.replace("Vencimiento neto", "Base p.plazo pago")
    with pytest.raises(DataError) as info:
        parse_ledger(base.encode(), *name)
    assert info.value.message == (
        f"{subject} no trae el vencimiento neto (sus columnas son: «Sociedad», «Cliente», "
        "«Nº documento», «Base p.plazo pago», «Importe en MD», «Mon.doc.»). Si una de ellas lo "
        'es, indíquelo con --column vencimiento="Encabezado"; si el archivo no lo trae, elija '
        "con qué fecha calcular la antigüedad: --due-date-from fecha_base o --due-date-from "
        "fecha_documento (el estado de cuenta lo dirá). No se importó nada."
    )
    with pytest.raises(DataError) as info:
        parse_ledger(base.encode(), *name, due_date_from="fecha_documento")
    assert info.value.message == (
        f"{subject} no trae la columna de fecha de documento que --due-date-from "
        "fecha_documento nombra."
    )
    with pytest.raises(UsageError) as usage:
        parse_ledger(plain.encode(), *name, due_date_from="fecha_base")
    assert usage.value.message == (
        f"{subject} trae el vencimiento neto («Vencimiento neto»); quite --due-date-from."
    )


def test_blank_headings_are_not_listed_among_the_columns() -> None:
    header = "\tSociedad\tCliente\t\tNº documento\tImporte en MD\tMon.doc.\t"
    with pytest.raises(DataError) as info:
        ledger("\tSM02\t1001\t\t1\t5,00\tMXN\t", header=header)
    assert "(sus columnas son: «Sociedad», «Cliente», «Nº documento», «Importe en MD», " in (
        info.value.message
    )


def test_a_text_export_saved_as_xlsx_is_refused_not_misread() -> None:
    with pytest.raises(DataError) as info:
        parse_ledger(f"{HEADER}\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n".encode(), "fbl5n.xlsx")
    assert info.value.message == "El archivo no es un Excel (.xlsx) válido o está dañado."


@pytest.mark.parametrize(
    ("column_map", "due"),
    [
        ({"vencimiento": "Venc. cliente"}, dt.date(2026, 12, 15)),
        ({}, dt.date(2026, 11, 30)),
    ],
    ids=["mapped-heading-wins", "table-heading"],
)
def test_a_mapped_heading_wins_over_the_alias_table(
    column_map: dict[str, str], due: dt.date
) -> None:
    result = ledger(
        "SM02\t1001\t1\t30.11.2026\t5,00\tMXN\t15.12.2026",
        header=HEADER + "\tVenc. cliente",
        column_map=column_map,
    )
    assert [r.vencimiento for r in result.rows] == [due]


def test_a_second_list_after_a_grand_total_is_checked_on_its_own() -> None:
    """Two FBL5N lists pasted one after the other: each ``***`` closes its list."""
    assert (
        mismatches(
            "SM02\t1001\t1\t30.11.2026\t100,00\tMXN",
            "\t1001\t\t\t* 100,00\tMXN",
            "\t\t\t\t** 100,00\tMXN",
            "\t\t\t\t*** 100,00\tMXN",
            "SM03\t1002\t2\t30.11.2026\t7,00\tMXN",
            "\t1002\t\t\t* 7,00\tMXN",
            "\t\t\t\t** 7,00\tMXN",
            "\t\t\t\t*** 7,00\tMXN",
        )
        == []
    )


def stored_items(db_url: str) -> list[tuple[str, str, str]]:
    engine = open_engine(db_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT sociedad, cliente, documento FROM open_item ORDER BY documento")
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def unbalanced(count: int) -> str:
    """A list whose first ``count`` customer subtotals are each a cent above their item."""
    lines = [HEADER]
    for n in range(1, count + 1):
        lines += [
            f"SM02\t0001004273\t{n:010}\t30.11.2026\t10,00\tMXN",
            "\t0001004273\t\t\t* 10,01\tMXN",
        ]
    return "\n".join(lines) + "\n"


def off_by_a_cent(line: int) -> str:
    return (
        f"  Línea {line}: el subtotal del cliente 1004273 en MXN no cuadra: el archivo dice "
        "10.01 y sus partidas suman 10.00.\n"
    )


@pytest.mark.parametrize(
    ("count", "more"), [(2, ""), (50, ""), (51, "  ... y 1 más\n"), (53, "  ... y 3 más\n")]
)
def test_unbalanced_totals_list_the_first_50_and_import_nothing(
    customers: Cli, db_url: str, count: int, more: str
) -> None:
    before = stored_items(db_url)
    result = customers("ledger", "import", "-", "--date", "2026-11-30", input=unbalanced(count))
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: Los totales de control de la entrada estándar no cuadran con sus partidas; no "
        "se importó nada (el archivo está incompleto o fue modificado):\n"
        + "".join(off_by_a_cent(2 * n + 1) for n in range(1, min(count, 50) + 1))
        + more
    )
    assert stored_items(db_url) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--column", "texto=Notas"],
            "La columna «Notas» (--column texto) no está en el encabezado de la entrada estándar.",
        ),
        (  # the table's heading feeds the field, not the one the user named
            ["--column", "vencimiento=Venc. cliente"],
            "La columna «Venc. cliente» (--column vencimiento) no está en el encabezado de la "
            "entrada estándar.",
        ),
        (  # the first mapped field in alphabetical order is named
            ["--column", "texto=Notas", "--column", "referencia=Folio"],
            "La columna «Folio» (--column referencia) no está en el encabezado de la entrada "
            "estándar.",
        ),
        (
            ["--date", "2026-11-29"],
            "--date 2026-11-29 no coincide con la fecha de clave que imprime la entrada estándar "
            "(30.11.2026); quite --date o importe el archivo correcto.",
        ),
    ],
    ids=["absent", "absent-but-aliased", "two-absent", "date"],
)
def test_a_column_named_on_the_command_line_must_be_in_the_header(
    customers: Cli, db_url: str, args: list[str], message: str
) -> None:
    data = f"Fecha de clave: 30.11.2026\n\n{HEADER}\nSM02\t1004273\t1\t30.11.2026\t5,00\tMXN\n"
    before = stored_items(db_url)
    result = customers("ledger", "import", "-", *args, input=data)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: {message}\n"
    assert stored_items(db_url) == before


def test_a_column_mapped_in_the_configuration_may_be_absent(
    customers: Cli, db_url: str, home: Path
) -> None:
    """config.toml serves every export: a heading it names that this file lacks is no error."""
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write('\n[import.ledger]\ntexto = "Notas"\nvencimiento = "Venc. cliente"\n')
    data = f"{HEADER}\nSM02\t1004273\t1\t30.11.2026\t5,00\tMXN\n"
    result = customers("ledger", "import", "-", "--date", "2026-11-30", input=data)
    assert result.exit_code == 0, result.output
    assert "  vencimiento ← «Vencimiento neto»\n  importe_md" in result.stdout
    assert stored_items(db_url) == [("SM02", "1004273", "1")]


ALL_ITEMS = (  # an FBL5N «todas las partidas» layout: open and cleared items, SAP's headings
    "Soc.\tCuenta\tNº doc.\tCl.doc.\tReferencia\tFecha doc.\tVenc.neto\tImporte en MD\tMon.doc."
    "\tTexto\tDoc.compensación\tFecha compensación\tAsignación\tBloq.recl."
)


@pytest.mark.parametrize(
    ("row", "item"),
    [
        (
            "SM02\t0001004273\t0990000001\trv\tA-1\t10.11.2026\t20.12.2026\t1.000,00\tMXN"
            "\tRemisión 17\t\t\t5F1C9A2E-1B3D-4C5E-8F70-0A1B2C3D4E5F\tR",
            (
                "SM02", "1004273", "0990000001", "RV", "A-1", dt.date(2026, 11, 10),
                dt.date(2026, 12, 20), "1000.00", "MXN", "Remisión 17", "", None,
                "5F1C9A2E-1B3D-4C5E-8F70-0A1B2C3D4E5F", "R",
            ),
        ),
        (  # cleared: the payment that cleared it and when
            "SM02\t1004273\t0990000002\tRV\tA-2\t01.10.2026\t31.10.2026\t250,50\tmxn"
            "\t\t1400000123\t05.11.2026\t\t",
            (
                "SM02", "1004273", "0990000002", "RV", "A-2", dt.date(2026, 10, 1),
                dt.date(2026, 10, 31), "250.50", "MXN", "", "1400000123",
                dt.date(2026, 11, 5), "", "",
            ),
        ),
        (  # a cleared payment has no net due date: it is not aged, its clearing date stands in
            "SM02\t1004273\t1400000123\tDZ\tPAGO\t05.11.2026\t\t250,50-\tMXN"
            "\tPago\t1400000123\t05.11.2026\t\t",
            (
                "SM02", "1004273", "1400000123", "DZ", "PAGO", dt.date(2026, 11, 5),
                dt.date(2026, 11, 5), "-250.50", "MXN", "Pago", "1400000123",
                dt.date(2026, 11, 5), "", "",
            ),
        ),
        (  # an item without a document date
            "SM02\t1004273\t0990000003\t\t\t\t01.12.2026\t7,00\tUSD\t\t\t\t\t",
            (
                "SM02", "1004273", "0990000003", "", "", None, dt.date(2026, 12, 1), "7.00",
                "USD", "", "", None, "", "",
            ),
        ),
    ],
    ids=["open-blocked", "cleared", "cleared-without-due-date", "bare"],
)  # fmt: skip
def test_every_field_of_an_item_as_read(row: str, item: tuple[object, ...]) -> None:
    result = ledger(row, header=ALL_ITEMS)
    assert result.rejects == []
    [read] = result.rows
    assert (
        read.sociedad, read.cliente, read.documento, read.tipo, read.referencia,
        read.fecha_documento, read.vencimiento, str(read.importe), read.moneda, read.texto,
        read.doc_compensacion, read.fecha_compensacion, read.asignacion, read.bloqueo,
    ) == item  # fmt: skip
    assert read.cleared == (item[11] is not None)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "SM02\t1004273\t0990000002\tRV\tA-2\t01.10.2026\t31.10.2026\t250,50\tMXN\t\t1400000123"
            "\t\t\t",
            "Doc. compensación «1400000123» sin fecha de compensación",
        ),
        (
            "SM02\t1004273\t0990000002\tRV\tA-2\t01.10.2026\t31.10.2026\t250,50\tMXN\t\t1400000123"
            "\t31.11.2026\t\t",
            "Fecha de compensación «31.11.2026» no es una fecha válida (use DD.MM.AAAA o "
            "DD/MM/AAAA)",
        ),
        (
            "SM02\t1004273\t0990000002\tRV\tA-2\t1 oct 2026\t31.10.2026\t250,50\tMXN\t\t\t\t\t",
            "Fecha de documento «1 oct 2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        ),
        (
            "SM02\t1004273\t0990000002\tRV\tA-2\t01.10.2026\t\t250,50\tMXN\t\t\t\t\t",
            "Falta el vencimiento",
        ),
        (
            "SM02\t\t0990000002\tRV\tA-2\t01.10.2026\t31.10.2026\t250,50\tMXN\t\t\t\t\t",
            "Falta el cliente",
        ),
        (
            "SM002X\t1004273\t0990000002\tRV\tA-2\t01.10.2026\t31.10.2026\t250,50\tMXN\t\t\t\t\t",
            "Sociedad «SM002X» no es válida (hasta 4 letras o dígitos, p. ej. SM02)",
        ),
    ],
    ids=["cleared-without-date", "bad-clearing-date", "bad-document-date", "open-no-due-date",
         "no-customer", "bad-company-code"],
)  # fmt: skip
def test_an_item_refused_in_an_all_items_export(row: str, reason: str) -> None:
    result = ledger(row, header=ALL_ITEMS)
    assert result.rows == []
    assert [r.message for r in result.rejects] == [f"Línea 2: {reason}"]


@pytest.mark.parametrize(
    ("stand_in", "fecha_documento", "fecha_base", "outcome"),
    [
        ("fecha_base", "01.11.2026", "15.11.2026", dt.date(2026, 11, 15)),
        ("fecha_base", "01.11.2026", "", "Falta la fecha base"),
        (
            "fecha_base",
            "01.11.2026",
            "15/11/26",
            "Fecha base «15/11/26» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        ),
        ("fecha_documento", "01.11.2026", "15.11.2026", dt.date(2026, 11, 1)),
        ("fecha_documento", "", "15.11.2026", "Falta la fecha de documento"),
    ],
    ids=["base", "base-missing", "base-bad", "document", "document-missing"],
)
def test_the_date_standing_in_for_the_due_date(
    stand_in: str, fecha_documento: str, fecha_base: str, outcome: dt.date | str
) -> None:
    row = f"SM02\t1004273\t1\t{fecha_documento}\t{fecha_base}\t5,00\tMXN"
    result = ledger(row, header=DATED, due_date_from=stand_in)
    if isinstance(outcome, dt.date):
        assert result.rejects == [] and [r.vencimiento for r in result.rows] == [outcome]
    else:
        assert result.rows == [] and [r.message for r in result.rejects] == [f"Línea 2: {outcome}"]


@pytest.mark.parametrize(
    ("proving_item", "refused"),
    [(1, 0), (2000, 0), (2001, 2000)],
    ids=["first", "2000th", "2001st"],
)
def test_the_notation_is_decided_on_the_first_2000_items(proving_item: int, refused: int) -> None:
    """Chilean pesos have no decimals: SAP prints ``150.000``, thousands or decimals alike. Only
    an item among the first 2000 proves the file's notation for all of them (memory stays flat
    on a big export); after that each ambiguous amount is refused on its own."""
    rows = [f"SM02\t1004273\t{n}\t30.11.2026\t150.000\tCLP" for n in range(1, 2002)]
    rows[proving_item - 1] = f"SM02\t1004273\t{proving_item}\t30.11.2026\t2.500,50\tUSD"
    result = ledger(*rows, "\t1004273\t\t\t* 2.500,50\tUSD")
    assert len(result.rejects) == refused and result.mismatches == []
    assert {r.message.split(": ", 1)[1] for r in result.rejects} <= {
        "Importe «150.000» es ambiguo (¿miles o decimales?); escriba los decimales, p. ej. "
        "1.234,00 o 1,234.00"
    }
    assert [r.line for r in result.rows][:2] == ([2, 3] if not refused else [2002])
    assert sum(r.importe for r in result.rows if r.moneda == "CLP") == 150_000 * (2000 - refused)


def test_a_subtotal_names_its_own_customer_not_the_last_items() -> None:
    """The items of 1002 were lost from the file; its subtotal line is still there."""
    result = ledger(
        "SM02\t0001001\t1\t30.11.2026\t100,00\tMXN",
        "*\t0001001\t\t\t100,00\tMXN",
        "*\t0001002\t\t\t250,00\tMXN",
        "**\t\t\t\t350,00\tMXN",
    )
    assert [m.message.split(": el archivo dice")[0] for m in result.mismatches] == [
        "Línea 4: el subtotal del cliente 1002 en MXN no cuadra",
        "Línea 5: el subtotal total en MXN no cuadra",
    ]


LOCAL = "Soc.\tCuenta\tNº doc.\tVenc.neto\tImporte en MD\tMon.doc.\tImporte en ML\tML"


@pytest.mark.parametrize(
    ("ml_total", "found"),
    [
        ("* 27.800,00", []),
        ("* 27.800,01", [(6, 1, "1004273", "MXN", "27800.01", "27800.00")]),
    ],
    ids=["adds-up", "tampered"],
)
def test_totals_printed_only_in_local_currency_are_checked(
    ml_total: str, found: list[tuple[int, int, str, str, str, str]]
) -> None:
    """Items in dollars and pesos, subtotalled by SAP in the company's currency (ML) only."""
    result = ledger(
        "SM02\t1004273\t1\t30.11.2026\t1.000,00\tUSD\t18.400,00\tMXN",
        "SM02\t1004273\t2\t30.11.2026\t500,00\tUSD\t9.200,00\tMXN",
        "SM02\t1004273\t3\t30.11.2026\t200,00\tMXN\t200,00\tMXN",
        "*\t1004273\t\t\t\t\t27.800,00\tMXN",
        f"*\t1004273\t\t\t\t\t{ml_total}\tMXN",
        header=LOCAL,
    )
    assert [(r.importe, r.moneda) for r in result.rows] == [
        (Decimal("1000.00"), "USD"),
        (Decimal("500.00"), "USD"),
        (Decimal("200.00"), "MXN"),
    ]
    assert [
        (m.line, m.level, m.cliente, m.moneda, str(m.in_file), str(m.computed))
        for m in result.mismatches
    ] == found


@pytest.mark.parametrize(
    ("subtotal", "found"),
    [("* 300.000", []), ("* 150.000", [(5, 1, "1004273", "CLP", "150000.00", "300000.00")])],
    ids=["adds-up", "tampered"],
)
def test_a_total_in_a_currency_without_decimals_is_read_in_the_files_notation(
    subtotal: str, found: list[tuple[int, int, str, str, str, str]]
) -> None:
    """Chilean pesos print without decimals: ``150.000`` is thousands in a 1.234,56 file."""
    assert (
        mismatches(
            "SM02\t1004273\t1\t30.11.2026\t150.000\tCLP",
            "SM02\t1004273\t2\t30.11.2026\t150.000\tCLP",
            "SM02\t1004273\t3\t30.11.2026\t2.500,50\tUSD",
            f"\t1004273\t\t\t{subtotal}\tCLP",
            "\t1004273\t\t\t* 2.500,50\tUSD",
        )
        == found
    )


def test_a_reader_given_only_rows_calls_them_la_entrada() -> None:
    rows = read_rows(f"{HEADER.replace('Vencimiento neto', 'Observación')}\n".encode())
    with pytest.raises(DataError, match=r"^La entrada no trae el vencimiento neto \(sus columnas"):
        LedgerReader(rows)
    reader = LedgerReader(read_rows(f"{HEADER}\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n".encode()))
    assert reader.layout.name == "" and [item.line for item in reader] == [2]


def test_a_subtotal_above_every_item_is_a_total_of_nothing() -> None:
    """The file lost its first items: the subtotal that closed them comes first."""
    result = ledger("\t\t\t\t* 5,00\tMXN", "SM02\t1001\t1\t30.11.2026\t5,00\tMXN")
    assert [m.message for m in result.mismatches] == [
        "Línea 2: el subtotal total en MXN no cuadra: el archivo dice 5.00 y sus partidas "
        "suman 0.00."
    ]


def test_a_mapped_column_missing_from_rows_read_in_memory() -> None:
    rows = read_rows(f"{HEADER}\nSM02\t1001\t1\t30.11.2026\t5,00\tMXN\n".encode())
    with pytest.raises(UsageError) as info:
        LedgerReader(rows, column_map={"texto": "Notas"}, strict_columns={"texto"})
    assert info.value.message == (
        "La columna «Notas» (--column texto) no está en el encabezado de la entrada."
    )

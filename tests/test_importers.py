"""rotomail.inputs.parsers: customer master, FBL5N open items and pasted catalogue rows."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from rotomail.errors import DataError
from rotomail.inputs.parsers import (
    CustomerRecord,
    OpenItemRecord,
    PasteRecord,
    Reject,
    detect_decimal_separator,
    language_code,
    parse_amount,
    parse_catalog_paste,
    parse_customers,
    parse_date,
    parse_ledger,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def totals(items: list[OpenItemRecord]) -> dict[str, Decimal]:
    result: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        result[item.moneda] += item.importe
    return dict(result)


# ================================================================================ customers

CUSTOMERS_ES = (
    "Maestro de deudores\r\n"
    "Sociedad SM02    Fecha 30.11.2026\r\n"
    "\r\n"
    "Sociedad;Cliente;Nombre 1;Nº ident. fis. 1;Correo electrónico;Clave de idioma\r\n"
    "SM02;0001006210;AGRO EQUIPOS DEL VALLE SA DE CV;aev150820hj3;compras@agro.example.mx;S\r\n"
    "sm02;0001004273;FERRETERÍA LÓPEZ SA DE CV;FLS980312AB1;"
    '"a@ferre.example.mx; b@ferre.example.mx";\r\n'
    "SB01;0002000101;MATERIAIS SÃO JORGE LTDA;12.345.678/0001-95;;P\r\n"
)

CUSTOMER_CASES = [
    pytest.param(
        CUSTOMERS_ES.encode("cp1252"),
        "clientes.csv",
        [
            CustomerRecord(
                5,
                "SM02",
                "1006210",
                "AGRO EQUIPOS DEL VALLE SA DE CV",
                "AEV150820HJ3",
                ["compras@agro.example.mx"],
                "es",
            ),
            CustomerRecord(
                6,
                "SM02",
                "1004273",
                "FERRETERÍA LÓPEZ SA DE CV",
                "FLS980312AB1",
                ["a@ferre.example.mx", "b@ferre.example.mx"],
                "",
            ),
            CustomerRecord(
                7, "SB01", "2000101", "MATERIAIS SÃO JORGE LTDA", "12.345.678/0001-95", [], "pt"
            ),
        ],
        id="spanish-cp1252-title-lines-quoted-list",
    ),
    pytest.param(
        b"\xef\xbb\xbfCompany Code,Customer,Name 1,Tax Number 1,E-Mail Address,Language\n"
        b"SM02,1008950,RIO BRAVO SUPPLY LLC,XEXX010101000,ap@riobravo.example.com,E\n",
        "",
        [
            CustomerRecord(
                2,
                "SM02",
                "1008950",
                "RIO BRAVO SUPPLY LLC",
                "XEXX010101000",
                ["ap@riobravo.example.com"],
                "en",
            )
        ],
        id="english-bom-comma",
    ),
    pytest.param(
        b"BUKRS\tKUNNR\tNAME1\tNAME2\tSTCD1\tSMTP_ADDR\tSPRAS\n"
        b"SM02\t0001007035\tCOMERCIALIZADORA DE MATERIALES\tLA PALMA SA DE CV\tCML120415QW9"
        b"\tmailto:Contacto@LaPalma.Example.mx\tS\n",
        "",
        [
            CustomerRecord(
                2,
                "SM02",
                "1007035",
                "COMERCIALIZADORA DE MATERIALES LA PALMA SA DE CV",
                "CML120415QW9",
                ["Contacto@lapalma.example.mx"],
                "es",
            )
        ],
        id="sap-field-names-tab-name2",
    ),
    pytest.param(
        b"Sociedad;Cliente;Nombre;Correo\n"
        b"SM02;1006210;AGRO;compras@agro.example.mx\n"
        b"SM02;0001006210;AGRO;pagos@agro.example.mx\n"
        b"SM02;1006210.0;AGRO;COMPRAS@agro.example.mx\n",
        "",
        [
            CustomerRecord(
                2,
                "SM02",
                "1006210",
                "AGRO",
                "",
                ["compras@agro.example.mx", "pagos@agro.example.mx"],
                "",
            )
        ],
        id="adr6-rows-merged",
    ),
    pytest.param(
        xlsx(
            [
                ["Clientes"],
                [],
                ["Sociedad", "Cuenta", "Nombre", "RFC", "Correo", "Idioma"],
                ["SM02", 1006210, "AGRO", None, "a@agro.example.mx, b@agro.example.mx", "ES"],
            ]
        ),
        "clientes.xlsx",
        [
            CustomerRecord(
                4, "SM02", "1006210", "AGRO", "", ["a@agro.example.mx", "b@agro.example.mx"], "es"
            )
        ],
        id="xlsx",
    ),
]


@pytest.mark.parametrize(("data", "name", "expected"), CUSTOMER_CASES)
def test_parse_customers(data: bytes, name: str, expected: list[CustomerRecord]) -> None:
    result = parse_customers(data, name)
    assert result.rejects == []
    assert result.rows == expected


CUSTOMER_REJECTS = [
    pytest.param(";1006210;AGRO;a@x.example.mx", "Falta la sociedad", id="no-sociedad"),
    pytest.param("SM02;;AGRO;a@x.example.mx", "Falta el cliente", id="no-cliente"),
    pytest.param("SM02;1006210;;a@x.example.mx", "Falta el nombre", id="no-nombre"),
    pytest.param(
        "SM02;1006210;AGRO;a@x.example.mx, sin-arroba",
        "Correo inválido: «sin-arroba»",
        id="bad-email",
    ),
    pytest.param(
        "Total de registros: 12",
        "Sociedad «Total de registros: 12» no es válida (hasta 4 letras o dígitos, p. ej. SM02)",
        id="footer",
    ),
    pytest.param(
        "SM02;1234567890123;AGRO",
        "Cliente «1234567890123» no es válido (hasta 10 letras o dígitos)",
        id="long-cliente",
    ),
]


@pytest.mark.parametrize(("line", "reason"), CUSTOMER_REJECTS)
def test_parse_customers_rejects(line: str, reason: str) -> None:
    data = f"Sociedad;Cliente;Nombre;Correo\nSM02;1;UNO;\n{line}\n".encode()
    result = parse_customers(data)
    assert [r.cliente for r in result.rows] == ["1"]
    assert result.rejects == [Reject(3, reason)]
    assert result.rejects[0].message == f"Línea 3: {reason}"


def test_parse_customers_without_header() -> None:
    with pytest.raises(DataError) as info:
        parse_customers(b"SM02;1006210;AGRO\n")
    assert "Sociedad, Cliente y Nombre" in info.value.message


LANGUAGES = [
    ("S", "es"),
    ("es", "es"),
    ("Español", "es"),
    ("ESPANOL", "es"),
    ("P", "pt"),
    ("PT", "pt"),
    ("Português", "pt"),
    ("E", "en"),
    ("EN", "en"),
    ("English", "en"),
    ("D", ""),
    ("", ""),
    ("Klingon", ""),
]


@pytest.mark.parametrize(("raw", "expected"), LANGUAGES)
def test_language_code(raw: str, expected: str) -> None:
    assert language_code(raw) == expected


def test_example_customers() -> None:
    result = parse_customers((EXAMPLES / "clientes_sap.csv").read_bytes(), "clientes_sap.csv")
    assert result.rejects == []
    by_society: dict[str, int] = defaultdict(int)
    for record in result.rows:
        by_society[record.sociedad] += 1
    assert by_society == {"SM02": 10, "SB01": 3}
    assert sum(not r.correos for r in result.rows) == 1
    assert max(len(r.correos) for r in result.rows) >= 2
    assert {r.idioma for r in result.rows if r.sociedad == "SB01"} == {"pt"}
    assert all(not r.cliente.startswith("0") for r in result.rows)


# =================================================================================== ledger

FBL5N_TXT = """\
30.11.2026        Partidas individuales de deudores        1

Sociedad            SM02
---------------------------------------------------------------------------------------------
|Soc.|Cuenta    |N° doc.   |Clase|Referencia|Fecha doc.|Vencimiento neto| Importe en MD|Mon.|
|-------------------------------------------------------------------------------------------|
|SM02|0001006210|0090012345|RV   |A-100     |01.09.2026|01.10.2026      | 1.234.567,89 |MXN |
|SM02|0001006210|1600000011|DG   |NC-7      |05.10.2026|05.10.2026      |     1.000,50-|MXN |
|SM02|0001006210|0090012399|RV   |E-5       |10.10.2026|09.11.2026      |     2.500,00 |USD |
|-------------------------------------------------------------------------------------------|
|*   |0001006210|          |     |          |          |                | 1.233.567,39 |MXN |
|*   |0001006210|          |     |          |          |                |     2.500,00 |USD |

|SM02|0001004273|1400000007|DZ   |PAGO      |20.11.2026|20.11.2026      |       999,99-|MXN |
|SM02|0001004273|0090012400|DR   |D-1       |15.11.2026|15.12.2026      |        10,01 |MXN |
|    |          |          |     |          |          |                |       989,98-|MXN |

|**  |          |          |     |          |          |                | 1.232.577,41 |MXN |
|**  |          |          |     |          |          |                |     2.500,00 |USD |
"""


def test_ledger_sap_list_skips_subtotals_and_totals_to_the_cent() -> None:
    result = parse_ledger(FBL5N_TXT.replace("\n", "\r\n").encode("cp1252"), "fbl5n.txt")
    assert result.rejects == []
    assert [r.documento for r in result.rows] == [
        "0090012345",
        "1600000011",
        "0090012399",
        "1400000007",
        "0090012400",
    ]
    assert totals(result.rows) == {"MXN": Decimal("1232577.41"), "USD": Decimal("2500.00")}
    first = result.rows[0]
    assert first == OpenItemRecord(
        line=7,
        sociedad="SM02",
        cliente="1006210",
        documento="0090012345",
        tipo="RV",
        referencia="A-100",
        fecha_documento=dt.date(2026, 9, 1),
        vencimiento=dt.date(2026, 10, 1),
        importe=Decimal("1234567.89"),
        moneda="MXN",
        texto="",
    )


LEDGER_XLSX_HEADER = (
    "Sociedad",
    "Cliente",
    "Nº documento",
    "Fecha doc.",
    "Vencimiento neto",
    "Importe en moneda doc.",
    "Moneda del documento",
)
XLSX_AMOUNT = (1234567.89, "MXN")

LEDGER_CASES = [
    pytest.param(
        b"Company Code,Account,Document Number,Type,Document Date,Net due date,"
        b"Amount in doc. curr.,Document currency,Text\n"
        b'SM02,1006210,90001,RV,01/09/2026,01/10/2026,"1,234,567.89",MXN,a\n'
        b'SM02,1006210,90002,DG,05/10/2026,05/10/2026,-1000.50,MXN,"b, c"\n'
        b'SM02,1006210,90003,RV,13/10/2026,12/11/2026,"2,500.00",usd,\n',
        "",
        {"MXN": Decimal("1233567.39"), "USD": Decimal("2500.00")},
        [dt.date(2026, 10, 1), dt.date(2026, 10, 5), dt.date(2026, 11, 12)],
        id="english-comma-us-notation-leading-minus",
    ),
    pytest.param(
        "Sociedad\tCliente\tNº documento\tFecha de documento\tImporte en moneda local\t"
        "Moneda local\n"
        "SM02\t1006210\t1\t01.09.2026\t1 234 567,89\tMXN\n"
        "SM02\t1006210\t2\t02.09.2026\t1\u00a0000,50-\tMXN\n"
        "SM02\t1006210\t3\t03.09.2026\t0,01\tMXN\n".encode(),
        "sin-vencimiento.tsv",
        {"MXN": Decimal("1233567.40")},
        [dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3)],
        id="space-grouping-local-pair-docdate-named-stand-in",
    ),
    pytest.param(
        b"Sociedad;Cuenta;N\xba documento;Base p.plazo pago;Vencimiento neto;Importe en ML;ML;"
        b"Importe en MD;Mon.\n"
        b"SM02;1;A1;01.09.2026;01.10.2026;18.400,00;MXN;1.000,00;USD\n"
        b"SM02;1;A2;01.09.2026;15.10.2026;1.840,00-;MXN;100,00-;USD\n",
        "",
        {"USD": Decimal("900.00")},
        [dt.date(2026, 10, 1), dt.date(2026, 10, 15)],
        id="document-pair-wins-net-due-date-not-baseline",
    ),
    pytest.param(
        xlsx(
            [
                ["Partidas abiertas SM02"],
                [*LEDGER_XLSX_HEADER],
                [
                    "SM02",
                    1006210,
                    90001,
                    dt.datetime(2026, 9, 1),
                    dt.datetime(2026, 10, 1),
                    *XLSX_AMOUNT,
                ],
                ["SM02", "0001006210", 90002, 46300, 46330, -1000.5, "MXN"],
                ["SM02", 1006210.0, 90003, "01.10.2026", "31.10.2026", 0.1 + 0.2, "MXN"],
                [None, None, None, None, None, 1233567.69, "MXN"],
            ]
        ),
        "partidas.xlsx",
        {"MXN": Decimal("1233567.69")},
        [dt.date(2026, 10, 1), dt.date(2026, 11, 4), dt.date(2026, 10, 31)],
        id="xlsx-dates-serials-floats-subtotal",
    ),
]


@pytest.mark.parametrize(("data", "name", "expected_totals", "due_dates"), LEDGER_CASES)
def test_parse_ledger(
    data: bytes, name: str, expected_totals: dict[str, Decimal], due_dates: list[dt.date]
) -> None:
    stand_in = "fecha_documento" if name == "sin-vencimiento.tsv" else None
    result = parse_ledger(data, name, due_date_from=stand_in)
    assert result.rejects == []
    assert totals(result.rows) == expected_totals
    assert [r.vencimiento for r in result.rows] == due_dates


LEDGER_HEADER = "Sociedad;Cliente;Nº documento;Fecha doc.;Vencimiento neto;Importe en MD;Mon.\n"
LEDGER_GOOD = "SM02;1006210;1;01.09.2026;01.10.2026;1.234,56;MXN\n"
LEDGER_GOOD_2 = "SM02;1006210;3;01.09.2026;01.10.2026;7,00;MXN\n"

LEDGER_REJECTS = [
    pytest.param(
        "SM02;1006210;2;01.09.2026;31/02/2026;10,00;MXN",
        "Vencimiento «31/02/2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        id="impossible-date",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;12/31/2026;10,00;MXN",
        "Vencimiento «12/31/2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        id="never-month-first",
    ),
    pytest.param(
        "SM02;1006210;2;1 sep 2026;01.10.2026;10,00;MXN",
        "Fecha de documento «1 sep 2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)",
        id="bad-document-date",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;diez;MXN",
        "Importe «diez» no es un importe válido (se espera p. ej. 1.234,56-)",
        id="bad-amount",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;1234.56;MXN",
        "Importe «1234.56» no es un importe válido (se espera p. ej. 1.234,56-)",
        id="other-notation-than-file",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;-10,00-;MXN",
        "Importe «-10,00-» no es un importe válido (se espera p. ej. 1.234,56-)",
        id="two-minus-signs",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;;MXN",
        "Falta el importe",
        id="no-amount",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;10,00;",
        "Falta la moneda",
        id="no-currency",
    ),
    pytest.param(
        "SM02;1006210;2;01.09.2026;01.10.2026;10,00;PESOS",
        "Moneda «PESOS» no es un código de 3 letras (MXN, USD)",
        id="bad-currency",
    ),
    pytest.param(
        "SM02;;2;01.09.2026;01.10.2026;10,00;MXN",
        "Falta el cliente",
        id="no-cliente",
    ),
    pytest.param(
        ";1006210;2;01.09.2026;01.10.2026;10,00;MXN",
        "Falta la sociedad",
        id="no-sociedad",
    ),
    pytest.param(
        "SM02;1006210;2;;;10,00;MXN",
        "Falta el vencimiento",
        id="no-dates",
    ),
]


@pytest.mark.parametrize(("line", "reason"), LEDGER_REJECTS)
def test_parse_ledger_rejects(line: str, reason: str) -> None:
    data = (LEDGER_HEADER + LEDGER_GOOD + line + "\n" + LEDGER_GOOD_2).encode()
    result = parse_ledger(data)
    assert [r.documento for r in result.rows] == ["1", "3"]
    assert totals(result.rows) == {"MXN": Decimal("1241.56")}
    assert result.rejects == [Reject(3, reason)]


LEDGER_SKIPPED = [
    pytest.param(";;;;;1.234,56;MXN", id="blank-keys-with-amount"),
    pytest.param("SM02;1006210;;;;1.234,56;MXN", id="customer-subtotal-without-document"),
    pytest.param("*;1006210;9;;;1.234,56;MXN", id="star"),
    pytest.param("SM02;1006210;9;;;** 1.234,56;MXN", id="double-star-in-amount"),
    pytest.param("SM02;1006210;9;;;1.234,56;*", id="star-in-currency"),
    pytest.param(";;;;;;", id="only-separators"),
    pytest.param(LEDGER_HEADER.strip(), id="repeated-page-header"),
    pytest.param("Página 2 de 3", id="page-title"),
]


@pytest.mark.parametrize("line", LEDGER_SKIPPED)
def test_parse_ledger_skips(line: str) -> None:
    data = (LEDGER_HEADER + LEDGER_GOOD + line + "\n\n" + LEDGER_GOOD).encode()
    result = parse_ledger(data)
    assert result.rejects == []
    assert totals(result.rows) == {"MXN": Decimal("2469.12")}


def test_star_inside_a_text_is_not_a_subtotal() -> None:
    header = LEDGER_HEADER.strip() + ";Texto\n"
    data = (header + "SM02;1006210;1;01.09.2026;01.10.2026;5,00;MXN;* urgente\n").encode()
    assert [r.texto for r in parse_ledger(data).rows] == ["* urgente"]


def test_ambiguous_amount_is_refused() -> None:
    data = (LEDGER_HEADER + "SM02;1;2;01.09.2026;01.10.2026;1.234;MXN\n").encode()
    result = parse_ledger(data)
    assert result.rows == []
    assert result.rejects[0].reason.startswith("Importe «1.234» es ambiguo")


LEDGER_MISSING = [
    pytest.param(b"SM02;1;2;01.09.2026\n", "Nº documento", id="no-header"),
    pytest.param(
        b"Sociedad;Cliente;N\xc2\xba documento;Vencimiento neto;Importe\n",
        "moneda",
        id="amount-without-currency",
    ),
    pytest.param(
        b"Sociedad;Cliente;N\xc2\xba documento;Importe;Moneda\n",
        "no trae el vencimiento neto",
        id="no-date-column",
    ),
]


@pytest.mark.parametrize(("data", "mentions"), LEDGER_MISSING)
def test_parse_ledger_missing_columns(data: bytes, mentions: str) -> None:
    with pytest.raises(DataError) as info:
        parse_ledger(data)
    assert mentions in info.value.message


AMOUNTS = [
    ("1.234,56", ",", Decimal("1234.56")),
    ("1.234,56-", ",", Decimal("-1234.56")),
    ("-1.234,56", ",", Decimal("-1234.56")),
    ("1 234 567,89", ",", Decimal("1234567.89")),
    ("1.234", ",", Decimal("1234.00")),
    ("0,005", ",", Decimal("0.01")),
    ("1,234,567.89", ".", Decimal("1234567.89")),
    ("1,234.56-", ".", Decimal("-1234.56")),
    ("(1,234.56)", ".", Decimal("-1234.56")),
    ("$1,234.56", ".", Decimal("1234.56")),
    ("1234.5", ".", Decimal("1234.50")),
    ("1234", None, Decimal("1234.00")),
    ("12,5", None, Decimal("12.50")),
    ("1.234", None, None),
    ("1,234.56", ",", None),
    ("1.23.4", ",", None),
    ("12,34,56", ",", None),
    ("--5", ".", None),
    ("", ".", None),
    ("1e5", ".", None),
    ("9" * 40, ".", None),
]


@pytest.mark.parametrize(("text", "decimal", "expected"), AMOUNTS)
def test_parse_amount(text: str, decimal: str | None, expected: Decimal | None) -> None:
    assert parse_amount(text, decimal) == expected


NOTATIONS = [
    (["1.234,56", "7,00", "1.000"], ","),
    (["1,234.56", "7.00", "1,000"], "."),
    (["1 234,56-", "5"], ","),
    (["1.000", "2.000"], None),
    (["1.234.567", "3"], ","),
    (["1,234,567", "3"], "."),
    (["1234.56", "1.234,56", "7,50"], ","),
    ([], None),
]


@pytest.mark.parametrize(("texts", "expected"), NOTATIONS)
def test_detect_decimal_separator(texts: list[str], expected: str | None) -> None:
    assert detect_decimal_separator(texts) == expected


DATES = [
    ("30.11.2026", dt.date(2026, 11, 30)),
    ("1.2.2026", dt.date(2026, 2, 1)),
    ("30/11/2026", dt.date(2026, 11, 30)),
    ("30-11-2026", dt.date(2026, 11, 30)),
    ("2026-11-30", dt.date(2026, 11, 30)),
    ("2026-11-30T00:00:00", dt.date(2026, 11, 30)),
    ("46356", dt.date(2026, 11, 30)),
    ("20000", dt.date(1954, 10, 3)),
    ("19999", None),
    ("80001", None),
    ("31/02/2026", None),
    ("12/31/2026", None),
    ("30.11.26", None),
    ("30.11/2026", None),
    ("2026/11/30", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_parse_date(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


def test_example_ledger_totals_to_the_cent() -> None:
    result = parse_ledger((EXAMPLES / "partidas_abiertas.txt").read_bytes(), "partidas.txt")
    assert result.rejects == []
    assert len(result.rows) == 58
    assert totals(result.rows) == {
        "MXN": Decimal("1625966.66"),
        "USD": Decimal("16400.00"),
        "BRL": Decimal("80059.75"),
    }
    assert {r.tipo for r in result.rows} == {"RV", "DR", "DG", "DZ"}
    assert all(r.importe < 0 for r in result.rows if r.tipo in ("DG", "DZ"))
    customers = parse_customers((EXAMPLES / "clientes_sap.csv").read_bytes()).rows
    keys = {(c.sociedad, c.cliente) for c in customers}
    with_items = {(r.sociedad, r.cliente) for r in result.rows}
    assert with_items < keys and len(keys - with_items) == 1
    cutoff = dt.date(2026, 11, 30)
    buckets = set()
    for item in result.rows:
        days = (cutoff - item.vencimiento).days
        buckets.add(
            "por vencer"
            if days <= 0
            else "1-30"
            if days <= 30
            else "31-60"
            if days <= 60
            else "61-90"
            if days <= 90
            else "90+"
        )
    assert buckets == {"por vencer", "1-30", "31-60", "61-90", "90+"}


# ==================================================================================== paste

PASTES = [
    pytest.param(
        b"\tSM02\t1004273\tcontacto1@example.mx;contacto2@example.mx\t\t\t\t\r\n"
        b"\tSM02\t0001006210\tmailto:a@example.mx\t\t\t\t\r\n"
        b"\r\n",
        [
            PasteRecord(1, "SM02", "1004273", "contacto1@example.mx;contacto2@example.mx", None),
            PasteRecord(2, "SM02", "1006210", "mailto:a@example.mx", None),
        ],
        id="manual-column-b-crlf-trailing",
    ),
    pytest.param(
        "\ufeffSociedad\tCliente\tCorreo\nsm02\t1006210.0\ta@example.mx\n".encode(),
        [PasteRecord(2, "SM02", "1006210", "a@example.mx", None)],
        id="bom-spanish-header-excel-float",
    ),
    pytest.param(
        b"\tCompany Code\tCustomer\tE-mail\r\n\tSM02\t1004273\tx@example.mx\r\n",
        [PasteRecord(2, "SM02", "1004273", "x@example.mx", None)],
        id="english-header-leading-column",
    ),
    pytest.param(
        b"Correos\tCliente\tSociedad\nb@example.mx\t7\tSB01\n",
        [PasteRecord(2, "SB01", "7", "b@example.mx", None)],
        id="header-any-order",
    ),
    pytest.param(
        "SM02\t1004273\tJosé.Pérez@example.mx\r\n".encode("cp1252"),
        [PasteRecord(1, "SM02", "1004273", "José.Pérez@example.mx", None)],
        id="cp1252",
    ),
    pytest.param(
        b'SM02\t1004273\t"a@example.mx;\nb@example.mx"\nSM02\t1001400\n',
        [
            PasteRecord(1, "SM02", "1004273", "a@example.mx;\nb@example.mx", None),
            PasteRecord(3, "SM02", "1001400", "", None),
        ],
        id="quoted-multiline-cell",
    ),
    pytest.param(
        b"\tSM02\t1004273\r\n\t\t1001400\r\n\tSM02\r\n\tSM02\t1004273\ta@example.mx\r\n",
        [
            PasteRecord(1, "SM02", "1004273", "", None),
            PasteRecord(2, "", "1001400", "", "Falta la sociedad"),
            PasteRecord(3, "SM02", "", "", "Falta el cliente"),
            PasteRecord(4, "SM02", "1004273", "a@example.mx", None),
        ],
        id="errors-and-no-dedup",
    ),
    pytest.param(
        b"SM02\t1004273\ta@example.mx\tb@example.mx\n",
        [PasteRecord(1, "SM02", "1004273", "a@example.mx;b@example.mx", None)],
        id="emails-spread-over-cells",
    ),
    pytest.param(
        b'Sociedad,Cliente,Correo\r\nSM02,1004273,"a@example.mx, b@example.mx"\r\n',
        [PasteRecord(2, "SM02", "1004273", "a@example.mx, b@example.mx", None)],
        id="csv-quoted",
    ),
    pytest.param(
        b"SM02 1004273 a@example.mx\n",
        [PasteRecord(1, "SM02", "1004273", "a@example.mx", None)],
        id="typed-with-spaces",
    ),
    pytest.param(
        xlsx([[None, "Sociedad", "Cliente", "Correo"], [None, "SM02", 1006210.0, "a@example.mx"]]),
        [PasteRecord(2, "SM02", "1006210", "a@example.mx", None)],
        id="xlsx",
    ),
    pytest.param(b"", [], id="empty"),
    pytest.param(b"\r\n \r\n", [], id="blank"),
]


@pytest.mark.parametrize(("data", "expected"), PASTES)
def test_parse_catalog_paste(data: bytes, expected: list[PasteRecord]) -> None:
    assert parse_catalog_paste(data) == expected


def test_example_paste() -> None:
    records = parse_catalog_paste((EXAMPLES / "catalogo_pegado.tsv").read_bytes())
    assert all(r.error is None for r in records)
    assert [r.cliente for r in records][:3] == ["1004273", "1006210", "1007420"]
    assert sum(not r.correo_text for r in records) == 1
    assert any(r.correo_text.startswith("mailto:") for r in records)


# ===================================================================================== fuzz

FUZZ_TOKENS = st.sampled_from([*"SM02 1;|\t\r\n*-.,/\"'Ñé@x", "Sociedad", "Cliente", "31.12.2026"])
FUZZ_LINE = st.lists(FUZZ_TOKENS, max_size=25).map("".join)
FUZZ_HEADERS = [
    "Sociedad;Cliente;Nombre;RFC;Correo;Idioma\n",
    "Sociedad;Cliente;Nº documento;Fecha doc.;Vencimiento neto;Importe en MD;Mon.\n",
    "Sociedad\tCliente\tCorreo\n",
]


def _only_data_errors(parser: object, data: bytes) -> None:
    with contextlib.suppress(DataError):
        parser(data)  # type: ignore[operator]


PARSERS = [parse_customers, parse_ledger, parse_catalog_paste]


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=1500))
def test_fuzz_arbitrary_bytes(parser: object, data: bytes) -> None:
    _only_data_errors(parser, data)


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=200, deadline=None)
@given(
    header=st.sampled_from(FUZZ_HEADERS),
    body=st.lists(FUZZ_LINE, max_size=15),
)
def test_fuzz_rows_under_a_header(parser: object, header: str, body: list[str]) -> None:
    _only_data_errors(parser, (header + "\n".join(body)).encode())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,- ()$+\u00a0")), max_size=20))
def test_fuzz_amounts(text: str) -> None:
    for decimal in (",", ".", None):
        value = parse_amount(text, decimal)
        assert value is None or value == value.quantize(Decimal("0.01"))

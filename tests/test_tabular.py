"""rotomail.inputs.tabular: bytes in, rows of text cells out, whatever the file looked like."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from rotomail.errors import DataError
from rotomail.inputs import tabular
from rotomail.inputs.tabular import (
    Row,
    cell_text,
    detect_delimiter,
    find_header,
    normalize_header,
    read_bytes,
    read_rows,
)


def xlsx(rows: dict[str, object], second_sheet: bool = False) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for ref, value in rows.items():
        sheet[ref] = value
    if second_sheet:
        workbook.create_sheet("Otra")["A1"] = "no se lee"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- read_bytes ----------------------------------------------------------------------------


def test_read_bytes_from_path_str_and_stream(tmp_path: Path) -> None:
    target = tmp_path / "datos.csv"
    target.write_bytes(b"a;b\n")
    assert read_bytes(target) == b"a;b\n"
    assert read_bytes(str(target)) == b"a;b\n"
    assert read_bytes(io.BytesIO(b"xyz")) == b"xyz"


def test_read_bytes_dash_is_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO(b"SM02\t1006210\n")

    monkeypatch.setattr(tabular.sys, "stdin", FakeStdin())
    assert read_bytes("-") == b"SM02\t1006210\n"


def test_read_bytes_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-existe.csv"
    with pytest.raises(DataError) as info:
        read_bytes(missing)
    assert info.value.message == f"No se encontró el archivo: {missing}"


def test_read_bytes_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_bytes(tmp_path)
    assert "carpeta" in info.value.message or "No se" in info.value.message


def test_read_bytes_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "MAX_INPUT_BYTES", 10)
    assert read_bytes(io.BytesIO(b"x" * 10)) == b"x" * 10

    class Counting(io.BytesIO):
        requested = 0

        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size >= 0, "must never read without a limit"
            Counting.requested += size
            return super().read(size)

    stream = Counting(b"x" * 1000)
    with pytest.raises(DataError) as info:
        read_bytes(stream)
    assert info.value.message == "La entrada supera el límite de 64 MB para esta orden."
    assert stream.tell() == 11  # limit + 1, never more


def test_limit_is_64_mb() -> None:
    assert tabular.MAX_INPUT_BYTES == 64 * 1024 * 1024


# --- decoding ------------------------------------------------------------------------------

DECODE = [
    pytest.param("Compañía\r\nSeñor\r\n".encode(), [["Compañía"], ["Señor"]], id="utf8-crlf"),
    pytest.param(b"\xef\xbb\xbfNi\xc3\xb1o\rB", [["Niño"], ["B"]], id="utf8-bom-cr"),
    pytest.param("\ufeffAçúcar\r\n".encode("utf-16-le"), [["Açúcar"]], id="utf16le-bom"),
    pytest.param("\ufeffAçúcar\n".encode("utf-16-be"), [["Açúcar"]], id="utf16be-bom"),
    pytest.param(
        "Sociedad\tCliente\r\n".encode("utf-16-le"), [["Sociedad", "Cliente"]], id="utf16le"
    ),
    pytest.param("Peña;Nº;€\n".encode("cp1252"), [["Peña", "Nº", "€"]], id="cp1252"),
    pytest.param(b"caf\xe9 \x81", [["café \x81"]], id="latin1-last-resort"),
    pytest.param(b"", [], id="empty"),
]


@pytest.mark.parametrize(("data", "expected"), DECODE)
def test_decoding(data: bytes, expected: list[list[str]]) -> None:
    assert [row.cells for row in read_rows(data)] == expected


def test_decode_broken_utf16_is_data_error() -> None:
    with pytest.raises(DataError) as info:
        read_rows(b"\xff\xfe\x00\xd8")  # lone surrogate
    assert info.value.message == (
        "El archivo no es texto UTF-16 válido; guárdelo de nuevo como CSV UTF-8."
    )


# --- delimiter -----------------------------------------------------------------------------

DELIMITERS = [
    pytest.param("a\tb\tc\n1\t2\t3\n", "\t", id="tab"),
    pytest.param("Sociedad;Importe\nSM02;1.234,56\nSM02;7,00\n", ";", id="semicolon-decimal-comma"),
    pytest.param(
        "Sociedad,Cliente,Correo\nSM02,1,a@example.mx;b@example.mx;c@example.mx\nSM02,2,d@x.mx\n",
        ",",
        id="comma-with-semicolon-lists",
    ),
    pytest.param("Reporte\n|a|b|c|\n|1|2,5|3|\n|4|5,5|6|\n", "|", id="sap-list"),
    pytest.param("\tSM02\t1\ta@x.mx;b@x.mx;c@x.mx;d@x.mx\n", "\t", id="tab-beats-many-semicolons"),
    pytest.param("solo una columna\notra\n", None, id="single-column"),
    pytest.param('a,b\n"x;y;z;w",1\n', ",", id="quoted-delimiters-ignored"),
]


@pytest.mark.parametrize(("text", "expected"), DELIMITERS)
def test_detect_delimiter(text: str, expected: str | None) -> None:
    assert detect_delimiter(text) == expected


# --- read_rows (text) ----------------------------------------------------------------------

ROWS = [
    pytest.param(
        b"Sociedad;Cliente\r\nSM02;0001006210\r\n",
        [Row(1, ["Sociedad", "Cliente"]), Row(2, ["SM02", "0001006210"])],
        id="semicolon-crlf",
    ),
    pytest.param(
        b"\tSM02\t1006210\ta@example.mx\t\t\r\n\r\n\tSM02\t1001400\r\n",
        [Row(1, ["", "SM02", "1006210", "a@example.mx"]), Row(3, ["", "SM02", "1001400"])],
        id="excel-paste-leading-empty-trailing-empty-blank",
    ),
    pytest.param(
        b'SM02\t"l\xc3\xadnea 1\r\nl\xc3\xadnea 2"\tx\r\nSM02\t"a\tb"\ty\r\n',
        [Row(1, ["SM02", "línea 1\nlínea 2", "x"]), Row(3, ["SM02", "a\tb", "y"])],
        id="quoted-newline-and-tab-keep-physical-line",
    ),
    pytest.param(
        b"Partidas individuales\n\n-----------\n|Soc.|Cuenta |\n|----|-------|\n|SM02|0001 |\n",
        [
            Row(1, ["Partidas individuales"]),
            Row(4, ["Soc.", "Cuenta"]),
            Row(6, ["SM02", "0001"]),
        ],
        id="sap-unconverted-pipes-rules",
    ),
    pytest.param(
        b'|SM02|Texto "con comillas|1,00 |\n|SM02|otro|2,00 |\n',
        [Row(1, ["SM02", 'Texto "con comillas', "1,00"]), Row(2, ["SM02", "otro", "2,00"])],
        id="sap-list-lone-quote-does-not-swallow",
    ),
    pytest.param(
        b"  a ,  b  ,\n\n   \n c,d\n",
        [Row(1, ["a", "b"]), Row(4, ["c", "d"])],
        id="strip-and-blank-rows",
    ),
    pytest.param(
        "Peña;Nº\r\n".encode("cp1252"),
        [Row(1, ["Peña", "Nº"])],
        id="cp1252",
    ),
    pytest.param(b"", [], id="empty"),
    pytest.param(b"\r\n\r\n", [], id="only-blank-lines"),
]


@pytest.mark.parametrize(("data", "expected"), ROWS)
def test_read_rows_text(data: bytes, expected: list[Row]) -> None:
    assert read_rows(data) == expected


def test_unclosed_quote_is_data_error() -> None:
    data = b'a,"b\n' + b"x" * 200_000 + b"\n"
    with pytest.raises(DataError) as info:
        read_rows(data)
    assert info.value.message.startswith("Línea 1:")


def test_html_xls() -> None:
    html = (
        b"<html><body><table><tr><th>Sociedad</th><th>Cliente</th></tr>"
        b"<tr><td> SM02 </td><td>0001006210</td></tr><tr></tr>"
        b"<tr><td>SB01</td><td>2000&amp;1</td></tr></table>"
        b"<table><tr><td>otra tabla</td></tr></table></body></html>"
    )
    assert read_rows(html, "export.xls") == [
        Row(1, ["Sociedad", "Cliente"]),
        Row(2, ["SM02", "0001006210"]),
        Row(4, ["SB01", "2000&1"]),
    ]


def test_old_binary_xls_is_data_error() -> None:
    with pytest.raises(DataError) as info:
        read_rows(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "viejo.xls")
    assert ".xlsx" in info.value.message


# --- read_rows (xlsx) ----------------------------------------------------------------------


def test_read_rows_xlsx() -> None:
    data = xlsx(
        {
            "A1": "Partidas abiertas",
            "B3": "Sociedad",
            "C3": "Cliente",
            "D3": "Fecha",
            "E3": "Importe",
            "F3": None,
            "B5": "SM02",
            "C5": 1006210.0,
            "D5": dt.datetime(2026, 11, 30, 0, 0),
            "E5": 1234.56,
            "B6": "SM02",
            "C6": 1001400,
            "D6": dt.date(2026, 1, 2),
            "E6": -0.1,
            "F6": "  ",
        },
        second_sheet=True,
    )
    assert read_rows(data, "partidas.xlsx") == [
        Row(1, ["Partidas abiertas"]),
        Row(3, ["", "Sociedad", "Cliente", "Fecha", "Importe"]),
        Row(5, ["", "SM02", "1006210", "2026-11-30", "1234.56"]),
        Row(6, ["", "SM02", "1001400", "2026-01-02", "-0.1"]),
    ]


def test_broken_xlsx_is_data_error() -> None:
    with pytest.raises(DataError):
        read_rows(b"PK\x03\x04 esto no es un zip", "x.xlsx")
    with pytest.raises(DataError):
        read_rows(b"Sociedad;Cliente\n", "renombrado.xlsx")


CELLS = [
    (None, ""),
    ("texto", "texto"),
    (1006210, "1006210"),
    (1006210.0, "1006210"),
    (1234.56, "1234.56"),
    (0.1 + 0.2, "0.30000000000000004"),
    (-5.5, "-5.5"),
    (dt.datetime(2026, 2, 28, 13, 5), "2026-02-28"),
    (dt.date(2026, 2, 28), "2026-02-28"),
    (True, "VERDADERO"),
]


@pytest.mark.parametrize(("value", "expected"), CELLS)
def test_cell_text(value: object, expected: str) -> None:
    assert cell_text(value) == expected


# --- headers -------------------------------------------------------------------------------

HEADERS = [
    ("Nº documento", "no documento"),
    ("N° documento", "no documento"),
    ("No. documento", "no documento"),
    ("Nro. documento", "no documento"),
    ("Nº doc.", "no doc"),
    ("Fe.contabilización", "fe contabilizacion"),
    ("Fe. contabilización ", "fe contabilizacion"),
    ("Asignacion", "asignacion"),
    ("Asignación", "asignacion"),
    ("  Importe   en\u00a0ML  ", "importe en ml"),
    ("SMTP_ADDR", "smtp addr"),
    ("Nº ident. fis. 1", "no ident fis 1"),
    ("CLAVE DE IDIOMA", "clave de idioma"),
    ("Nombre", "nombre"),
]


@pytest.mark.parametrize(("text", "expected"), HEADERS)
def test_normalize_header(text: str, expected: str) -> None:
    assert normalize_header(text) == expected


ALIASES = {
    "sociedad": ("Sociedad", "Company Code"),
    "cliente": ("Cliente", "Cuenta", "Customer"),
    "documento": ("Nº documento",),
}


def test_find_header_skips_title_lines() -> None:
    rows = [
        Row(1, ["Partidas individuales de deudores"]),
        Row(2, ["Sociedad SM02"]),
        Row(4, ["", "Soc.", "CUENTA ", "N° Documento", "Cliente"]),
        Row(5, ["", "Sociedad", "Cuenta", "No. documento"]),
    ]
    assert find_header(rows, ALIASES, {"sociedad", "cliente"}) == (
        3,
        {"sociedad": 1, "cliente": 2, "documento": 3},
    )


def test_find_header_none_and_limit() -> None:
    header = Row(40, ["Sociedad", "Cliente"])
    rows = [Row(n, [f"título {n}"]) for n in range(1, 31)] + [header]
    assert find_header(rows, ALIASES, {"sociedad", "cliente"}) is None
    assert find_header(rows[-5:], ALIASES, {"sociedad", "cliente"}) == (
        4,
        {"sociedad": 0, "cliente": 1},
    )


# --- fuzz ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_read_rows_bytes(data: bytes) -> None:
    try:
        rows = read_rows(data)
    except DataError:
        return
    for row in rows:
        assert row.line >= 1
        assert row.cells and row.cells[-1] != ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab1 \t;,|"\r\n*-.ñ<>'), max_size=400))
def test_fuzz_read_rows_text(text: str) -> None:
    try:
        rows = read_rows(text.encode())
    except DataError:
        return
    lines = [row.line for row in rows]
    assert lines == sorted(set(lines))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_zip_magic(data: bytes) -> None:
    with contextlib.suppress(DataError):
        read_rows(b"PK\x03\x04" + data)


def test_nul_characters_are_dropped() -> None:
    # PostgreSQL refuses NUL in text; a paste never means one (found by Hypothesis on PG).
    assert [row.cells for row in read_rows(b"SM02\x00\t1006210\n")] == [["SM02", "1006210"]]

"""Finding the header (rotomail.inputs.tabular, rotomail.inputs.sap_labels): how a heading
is reduced before it is looked up, which row is the header and which column feeds a field,
how the delimiter is chosen and which lines are SAP's rules — as tables."""

from __future__ import annotations

import pytest

from rotomail.inputs.sap_labels import aliases, fields
from rotomail.inputs.tabular import (
    HEADER_SEARCH_ROWS,
    Row,
    cell_at,
    detect_delimiter,
    find_header,
    normalize_header,
    read_rows,
)


@pytest.mark.parametrize(
    ("heading", "reduced"),
    [
        (" Nº  doc. ", "no doc"),
        ("N° documento", "no documento"),
        ("Nro. Documento", "no documento"),
        ("NRO documento", "no documento"),
        ("Nrodoc", "nrodoc"),
        ("Vencimiento_neto", "vencimiento neto"),
        ("Fecha:doc.", "fecha doc"),
        ("CLASE DE DOCUMENTO", "clase de documento"),
        ("Razón social", "razon social"),
        ("Straße", "strasse"),
        ("Mont.em MI", "mont em mi"),
        ("", ""),
    ],
)
def test_a_heading_is_reduced_before_it_is_looked_up(heading: str, reduced: str) -> None:
    assert normalize_header(heading) == reduced


ALIASES = {"documento": ("Nº documento", "Doc."), "importe": ("Importe",), "texto": ("Texto",)}


def rows(*lines: list[str]) -> list[Row]:
    return [Row(number, cells) for number, cells in enumerate(lines, start=1)]


def test_title_lines_above_the_header_are_skipped() -> None:
    found = find_header(
        rows(["Partidas abiertas"], ["Nº documento"], ["Texto", "Nro. documento", "IMPORTE"]),
        ALIASES,
        {"documento", "importe"},
    )
    assert found == (2, {"texto": 0, "documento": 1, "importe": 2})


def test_a_heading_that_appears_twice_feeds_the_first_column() -> None:
    found = find_header(
        rows(["Doc.", "Importe", "Nº documento", "Importe", "Otro"]), ALIASES, {"documento"}
    )
    assert found == (0, {"documento": 0, "importe": 1})


def test_the_header_is_looked_for_in_the_first_rows_only() -> None:
    titles = [[f"Título {n}"] for n in range(HEADER_SEARCH_ROWS - 1)]
    header = ["Doc.", "Importe"]
    assert find_header(rows(*titles, header), ALIASES, {"documento"}) == (
        HEADER_SEARCH_ROWS - 1,
        {"documento": 0, "importe": 1},
    )
    assert find_header(rows(*titles, ["Más"], header), ALIASES, {"documento"}) is None


def test_no_row_naming_every_required_field_is_no_header() -> None:
    assert find_header(rows(["Doc."], ["Importe"]), ALIASES, {"documento", "importe"}) is None
    assert find_header([], ALIASES, {"documento"}) is None


@pytest.mark.parametrize(("column", "cell"), [(None, ""), (0, "a"), (2, "c"), (3, ""), (9, "")])
def test_cell_at(column: int | None, cell: str) -> None:
    assert cell_at(Row(1, ["a", "b", "c"]), column) == cell


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("", None),
        ("\n \n", None),
        ("una columna\notra\n", None),
        ("a\tb\nc\td\n", "\t"),
        ("a\tb\nc;d;e\n", "\t"),  # half the lines hold a tab
        ("a;b;c\nc;d;e\nf\tg\n", ";"),
        ("| a | b |\n| c | d |\n", "|"),
        ("| a | b |\nresumen\n", "|"),
        ("| a | b |\nresumen\notra\n", "|"),  # not framed: the most pipes in a line
        # framed SAP lines win over a delimiter as frequent inside the cells ...
        ("| a;b;c;d | e |\n| f;g;h;i | j |\n", "|"),
        ("| a;b;c;d | e |\nx;y;z;w\n", "|"),  # ... when half the lines are framed
        ("| a;b;c;d | e |\nx;y;z;w\nq;r;s;t\n", ";"),  # ... not when fewer
        ("| a;b;c;d | e\n| f;g;h;i | j\n", ";"),  # a leading pipe alone is no frame
        ("a;1.234,56;b\nc;7,00;d\n", ";"),
        ("a,x;y;z,b\nc,w,d\n", ","),
        ('"a;b;c",d\n"e;f",g\n', ","),  # a quoted cell's delimiters do not count
        ('"a"\n"b"\n"c"\nx\ty\nz;w;v;u\n', "\t"),  # nor lines of quoted cells only
        ("a,b\nc,d,e\nf,g,h\n", ","),
        ("a;b\nc;d\ne;f\ng,h\n", ";"),  # the count most lines share
    ],
)
def test_the_delimiter(text: str, delimiter: str | None) -> None:
    assert detect_delimiter(text) == delimiter


def test_rules_and_trailing_blanks_are_not_rows() -> None:
    data = (
        b"|----------|-------|\n"
        b"| Doc.     | Texto |\n"
        b"|==========|=======|\n"
        b"| 1        | --    |\n"
        b"| - +      |       |\n"
        b"| 2        |  a  b |  |  |\n"
    )
    assert read_rows(data) == [
        Row(2, ["Doc.", "Texto"]),
        Row(4, ["1", "--"]),
        Row(5, ["- +"]),
        Row(6, ["2", "a  b"]),
    ]


def test_a_single_column_list_keeps_its_lines_but_not_its_rules() -> None:
    assert read_rows(b"uno\n-----\n\n  dos  \n==\n-=-\n___\n__\n+ + +\n") == [
        Row(1, ["uno"]),
        Row(4, ["dos"]),
        Row(5, ["=="]),  # two strokes are no rule; three are
        Row(8, ["__"]),
        Row(9, ["+ + +"]),  # crosses and blanks alone draw no rule
    ]


def test_an_underscored_rule_between_blocks_is_no_row() -> None:
    data = b"|Doc.|Texto|\n|____|_____|\n|1   |a    |\n"
    assert read_rows(data) == [Row(1, ["Doc.", "Texto"]), Row(3, ["1", "a"])]


def test_the_label_table_in_order() -> None:
    ledger = aliases("ledger")
    assert {"Venc.neto", "Vencimiento neto", "Net Due Dt"} <= set(ledger["vencimiento"])
    assert "Importe en MD" in ledger["importe_md"]
    assert "BUSAB" in aliases("customers")["ejecutivo"]
    assert aliases("nada") == {}
    assert fields("ledger")[:2] == ("sociedad", "cliente")
    assert "vencimiento" in fields("ledger")

"""Plain-text output: stable, no colour, the same layout tabulate gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tabulate import tabulate

from rotomail.cli.output import Format, _cell, plain_table, render

TABLES = [
    (["Sociedad", "Cliente"], [["SM02", "1006210"]]),
    (
        ["Línea", "Nombre", "Correo", "Mensaje"],
        [["1", "Ñandú  S.A.", "a@b.example.mx", ""], ["22", "X", "", ""]],
    ),
    (["A", "B"], [["una celda muy larga de verdad", "x"], ["", ""]]),
    (["Clave", "Valor", "Origen"], [["smtp.port", "587", "predeterminado"]]),
]


@pytest.mark.parametrize(("headers", "body"), TABLES)
def test_plain_table_matches_tabulate_simple(headers: list[str], body: list[list[str]]) -> None:
    expected = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True) + "\n"
    assert plain_table(headers, body) == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (Format.tsv, "Sociedad\tCorreo\nSM02\ta@x.example.mx;b@x.example.mx\n"),
        (Format.csv, "Sociedad,Correo\nSM02,a@x.example.mx;b@x.example.mx\n"),
        (
            Format.table,
            "Sociedad    Correo\n----------  -----------------------------\nSM02        a@x.example.mx;b@x.example.mx\n",
        ),
    ],
)
def test_render_formats(fmt: Format, expected: str) -> None:
    assert (
        render(["Sociedad", "Correo"], [["SM02", ["a@x.example.mx", "b@x.example.mx"]]], fmt)
        == expected
    )


def test_render_json_keeps_lists() -> None:
    out = render(
        ["Sociedad", "Correos"],
        [["SM02", ["a@x.example.mx"]]],
        Format.json,
        ["sociedad", "correos"],
    )
    assert json.loads(out) == [{"sociedad": "SM02", "correos": ["a@x.example.mx"]}]


_CELLS = st.one_of(
    st.text(alphabet=st.sampled_from("ab \t\nñ;,\"'")),
    st.none(),
    st.integers(),
    st.lists(st.text(alphabet="ab\t;"), max_size=3),
)


def _tsv_cell_by_cell(headers: list[str], rows: list[list[object]]) -> str:
    """The plain definition of the TSV output: each cell as text, a tab inside it a space."""
    return "".join(
        "\t".join([_cell(v).replace("\t", " ") for v in row]) + "\n" for row in [headers, *rows]
    )


@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.tuples(
            st.lists(st.text(alphabet="ab\t"), min_size=width, max_size=width),
            st.lists(st.lists(_CELLS, min_size=width, max_size=width), max_size=6),
        )
    )
)
def test_tsv_is_each_cell_as_text_with_tabs_as_spaces(table: tuple) -> None:
    headers, rows = table
    assert render(headers, rows, Format.tsv) == _tsv_cell_by_cell(headers, rows)

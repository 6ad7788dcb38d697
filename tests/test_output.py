"""Plain-text output: stable, no colour, the same layout tabulate gives."""

from __future__ import annotations

import json

import pytest
from tabulate import tabulate

from rotomail.cli.output import Format, plain_table, render

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

"""Search ignores accents and case (hidraulica finds Hidráulica, PENA finds Peña), on SQLite
and PostgreSQL, for data written by the commands and for data older than the search columns."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import text

from rotomail.store.db import create_db_engine, upgrade
from tests.conftest import Cli

PEÑA = "SM02\t0001009001\tAceros Peña Hermanos\tAPH010101AB1\tventas@acerospena.example.mx\tS\n"


@pytest.fixture
def searchable(customers: Cli) -> Cli:
    result = customers(
        "customers",
        "import",
        "-",
        input=("Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n" + PEÑA).encode(),
    )
    assert result.exit_code == 0, result.output
    for sociedad, cliente, correo in [
        ("SB01", "2000001", "financeiro@paulista.example.com"),
        ("SM02", "1004273", "pagos@ferrelopez.example.mx"),
        ("SM02", "1009001", "ventas@acerospena.example.mx"),
        ("SM02", "1006210", "compras@agro.example.mx"),
    ]:
        assert customers("catalog", "add", sociedad, cliente, correo).exit_code == 0
    return customers


def found(cli: Cli, *args: str) -> list[str]:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return [row["nombre"] for row in json.loads(result.stdout)]


@pytest.mark.parametrize(
    ("option", "typed", "expected"),
    [
        ("--correo", "hidráulica", ["Hidráulica Paulista Ltda."]),
        ("--correo", "HIDRÁULICA", ["Hidráulica Paulista Ltda."]),
        ("--correo", "hidraulica", ["Hidráulica Paulista Ltda."]),
        ("--nombre", "Hidraulica", ["Hidráulica Paulista Ltda."]),
        ("--nombre", "peña", ["Aceros Peña Hermanos"]),
        ("--nombre", "PENA", ["Aceros Peña Hermanos"]),
        ("--nombre", "ferreteria lopez", ["Ferretería López"]),
        ("--nombre", "paulista.example", []),  # --nombre looks at the name only
        ("--correo", "PAULISTA.EXAMPLE", ["Hidráulica Paulista Ltda."]),
    ],
)
def test_catalog_search_ignores_accents_and_case(
    searchable: Cli, option: str, typed: str, expected: list[str]
) -> None:
    assert found(searchable, "catalog", "search", option, typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("lópez", ["Ferretería López"]),
        ("LOPEZ", ["Ferretería López"]),
        ("peña", ["Aceros Peña Hermanos"]),
        ("PENA", ["Aceros Peña Hermanos"]),
        ("plomeria", ["Plomería Central S.A. de C.V."]),
        ("lofe800101", ["Ferretería López"]),  # the RFC, too
    ],
)
def test_customers_search_ignores_accents_and_case(
    searchable: Cli, typed: str, expected: list[str]
) -> None:
    assert found(searchable, "customers", "search", "--nombre", typed) == expected


def test_rows_written_before_the_search_columns_are_found(db_url: str, cli: Cli) -> None:
    old = create_db_engine(db_url)
    upgrade(old, "0004")
    with old.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO customer (sociedad, cliente, nombre, rfc, correo, idioma, updated_at) "
                "VALUES ('SM02', '1009001', 'Aceros Peña Hermanos', '', '', 'es', :now)"
            ),
            {"now": datetime(2026, 1, 1)},
        )
        connection.execute(
            text(
                "INSERT INTO catalog_entry (sociedad, cliente, correos, updated_at) "
                "VALUES ('SM02', '1009001', 'Ventas@AcerosPena.example.mx', :now)"
            ),
            {"now": datetime(2026, 1, 1)},
        )
    old.dispose()
    # SQLite upgrades in place; a shared PostgreSQL schema only with «db upgrade».
    assert cli("db", "upgrade").exit_code == 0
    assert found(cli, "customers", "search", "--nombre", "PENA") == ["Aceros Peña Hermanos"]
    assert found(cli, "catalog", "search", "--nombre", "peña") == ["Aceros Peña Hermanos"]
    assert found(cli, "catalog", "search", "--correo", "ventas@acerospeña") == [
        "Aceros Peña Hermanos"
    ]

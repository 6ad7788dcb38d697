"""The recipient catalog as the AR clerk uses it: add, search, delete, bulk paste, export."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli


def catalog_json(cli: Cli, *args: str) -> list[dict]:
    result = cli("catalog", "search", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- Alta individual ---------------------------------------------------------------------


def test_add_saves_and_prints_the_portal_message(customers: Cli) -> None:
    result = customers("catalog", "add", "SM02", "1006210", "a@agro.example.mx;b@agro.example.mx")
    assert result.exit_code == 0, result.output
    assert result.stdout == "La información se actualizó exitosamente.\n"
    assert catalog_json(customers) == [
        {
            "sociedad": "SM02",
            "cliente": "1006210",
            "nombre": "Agroequipos del Bajío S.A. de C.V.",
            "correos": ["a@agro.example.mx", "b@agro.example.mx"],
            "idioma": "es",  # the master's
            "retenido": "",
        }
    ]


@pytest.mark.parametrize(
    ("sociedad", "cliente", "message"),
    [
        ("SM02", "9999999", "Cliente 9999999 no encontrado en el maestro de clientes de la sociedad SM02"),
        ("SB01", "1006210", "Cliente 1006210 no encontrado en el maestro de clientes de la sociedad SB01"),
        ("XX99", "1006210", "Sociedad XX99 no encontrada en el maestro de clientes"),
    ],
)  # fmt: skip
def test_add_unknown_customer_in_sociedad_is_rejected(
    customers: Cli, sociedad: str, cliente: str, message: str
) -> None:
    """An unknown customer number and an unknown sociedad say which one is unknown."""
    result = customers("catalog", "add", sociedad, cliente, "a@agro.example.mx")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"
    assert catalog_json(customers) == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("a@agro.example.mx;b@agro.example.mx", ["a@agro.example.mx", "b@agro.example.mx"]),
        (" a@agro.example.mx , b@agro.example.mx ", ["a@agro.example.mx", "b@agro.example.mx"]),
        (
            "mailto:a@agro.example.mx; MAILTO:b@agro.example.mx",
            ["a@agro.example.mx", "b@agro.example.mx"],
        ),
        ("b@agro.example.mx a@agro.example.mx", ["b@agro.example.mx", "a@agro.example.mx"]),
        (
            "a@agro.example.mx;a@agro.example.mx;b@agro.example.mx",
            ["a@agro.example.mx", "b@agro.example.mx"],
        ),
    ],
)
def test_add_accepts_separators_and_keeps_order(
    customers: Cli, typed: str, stored: list[str]
) -> None:
    result = customers("catalog", "add", "SM02", "1006210", typed)
    assert result.exit_code == 0, result.output
    assert catalog_json(customers)[0]["correos"] == stored


def test_add_with_sap_leading_zeros_and_lower_case_sociedad(customers: Cli) -> None:
    result = customers("catalog", "add", "sm02", "0001006210", "a@agro.example.mx")
    assert result.exit_code == 0, result.output
    assert catalog_json(customers, "--cliente", "1006210")[0]["cliente"] == "1006210"


def test_add_invalid_address_names_it_and_writes_nothing(customers: Cli) -> None:
    assert customers("catalog", "add", "SM02", "1006210", "ok@agro.example.mx").exit_code == 0
    result = customers("catalog", "add", "SM02", "1006210", "nuevo@agro.example.mx;malo@@x")
    assert result.exit_code == 1
    assert result.stderr == "Error: Correo inválido: «malo@@x»\n"
    assert catalog_json(customers)[0]["correos"] == ["ok@agro.example.mx"]


def test_add_existing_pair_replaces_addresses(customers: Cli) -> None:
    customers("catalog", "add", "SM02", "1006210", "viejo@agro.example.mx")
    customers("catalog", "add", "SM02", "1006210", "nuevo@agro.example.mx")
    assert catalog_json(customers)[0]["correos"] == ["nuevo@agro.example.mx"]


# --- Búsqueda ----------------------------------------------------------------------------


@pytest.fixture
def filled(customers: Cli) -> Cli:
    for cliente, correos in [
        ("1006210", "a@agro.example.mx;b@agro.example.mx"),
        ("1004273", "pagos@ferrelopez.example.mx"),
    ]:
        assert customers("catalog", "add", "SM02", cliente, correos).exit_code == 0
    assert customers("catalog", "add", "SB01", "2000001", "fin@paulista.example.com").exit_code == 0
    return customers


def test_search_tsv_is_stable(filled: Cli) -> None:
    result = filled("catalog", "search", "--sociedad", "SM02", "--format", "tsv")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Sociedad\tCliente\tNombre\tCorreo\tIdioma\tRetenido\n"
        "SM02\t1004273\tFerretería López\tpagos@ferrelopez.example.mx\tes\t\n"
        "SM02\t1006210\tAgroequipos del Bajío S.A. de C.V.\ta@agro.example.mx;b@agro.example.mx"
        "\tes\t\n"
    )


def test_search_csv(filled: Cli) -> None:
    result = filled("catalog", "search", "--cliente", "0001006210", "--format", "csv")
    assert result.stdout == (
        "Sociedad,Cliente,Nombre,Correo,Idioma,Retenido\n"
        "SM02,1006210,Agroequipos del Bajío S.A. de C.V.,a@agro.example.mx;b@agro.example.mx,es,\n"
    )


@pytest.mark.parametrize(
    ("args", "clientes"),
    [
        (["--sociedad", "SB01"], ["2000001"]),
        (["--correo", "FERRELOPEZ"], ["1004273"]),
        (["--correo", "bajío"], ["1006210"]),
        (["--sociedad", "SM02", "--correo", "paulista"], []),
        ([], ["2000001", "1004273", "1006210"]),
    ],
)
def test_search_filters(filled: Cli, args: list[str], clientes: list[str]) -> None:
    assert [row["cliente"] for row in catalog_json(filled, *args)] == clientes


def test_search_table_when_piped_is_plain_text(filled: Cli) -> None:
    result = filled("catalog", "search", "--sociedad", "SB01")
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    assert "Hidráulica Paulista Ltda." in result.stdout
    assert result.stdout.splitlines()[0].split() == [
        "Sociedad",
        "Cliente",
        "Nombre",
        "Correo",
        "Idioma",
        "Retenido",
    ]


def test_search_without_results_says_so(customers: Cli) -> None:
    result = customers("catalog", "search", "--sociedad", "SM02")
    assert result.exit_code == 0
    assert result.stderr == "No se encontraron registros.\n"


# --- Borrado -----------------------------------------------------------------------------


def test_delete_with_yes(filled: Cli) -> None:
    result = filled("catalog", "delete", "SM02", "1006210", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Registro borrado.\n"
    assert [row["cliente"] for row in catalog_json(filled)] == ["2000001", "1004273"]


def test_delete_missing_pair_is_an_error(filled: Cli) -> None:
    result = filled("catalog", "delete", "SM02", "1001400", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No existe en el catálogo el cliente 1001400 de la sociedad SM02.\n"
    )


def test_delete_without_terminal_needs_yes(filled: Cli) -> None:
    result = filled("catalog", "delete", "SM02", "1006210")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert len(catalog_json(filled)) == 3

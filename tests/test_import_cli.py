"""customers import and ledger import from the command line: summaries, rejects, atomicity."""

from __future__ import annotations

import json

import pytest
from sample_data import CUSTOMERS_TSV

from tests.conftest import Cli

LEDGER_HEADER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
)
GOOD_ROW = "SM02\t0001004273\t1800000004\tRV\tA-1002\t01.09.2026\t01.10.2026\t2.500,50\tMXN\n"
BAD_ROWS = (
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.02.2026\t1.160,00\tMXN\n"
    "SM02\t0001006210\t1800000002\tRV\tA-1002\t01.10.2026\t31.10.2026\tabc\tMXN\n"
)
REJECTS = (
    "  Línea 2: Vencimiento «31.02.2026» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)\n"
    "  Línea 3: Importe «abc» no es un importe válido (se espera p. ej. 1.234,56-)\n"
)


def customers_json(cli: Cli) -> list[dict]:
    result = cli("customers", "search", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_customers_import_inserts_then_updates(cli: Cli) -> None:
    first = cli("customers", "import", "-", input=CUSTOMERS_TSV.encode())
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "Columnas de la entrada estándar:\n"
        "  sociedad ← «Sociedad»\n"
        "  cliente ← «Cliente»\n"
        "  nombre ← «Nombre»\n"
        "  rfc ← «RFC»\n"
        "  correo ← «Correo»\n"
        "  idioma ← «Idioma»\n"
        "  ejecutivo ← (no está en el archivo)\n"
        "Clientes: 4 nuevos, 0 actualizados, 0 rechazados.\n"
    )
    changed = CUSTOMERS_TSV.replace("Ferretería López", "Ferretería López e Hijos")
    second = cli("customers", "import", "-", input=changed.encode("cp1252"))
    assert second.stdout.endswith("\nClientes: 0 nuevos, 4 actualizados, 0 rechazados.\n")
    rows = {r["cliente"]: r for r in customers_json(cli)}
    assert rows["1004273"]["nombre"] == "Ferretería López e Hijos"
    assert rows["1006210"]["sociedad"] == "SM02"
    assert rows["2000001"]["idioma"] == "pt"


def test_customers_import_lists_rejected_rows_and_exits_1(cli: Cli) -> None:
    paste = (
        "Sociedad\tCliente\tNombre\tCorreo\n"
        "SM02\t1\tUno\tmalo@@\n"
        "SM02\t\tDos\t\n"
        "SM02\t3\tTres\tt@x.example.mx\n"
    )
    result = cli("customers", "import", "-", input=paste.encode())
    assert result.exit_code == 1
    assert "  rfc ← (no está en el archivo)\n" in result.stdout
    assert result.stdout.split("  ejecutivo ← (no está en el archivo)\n")[1] == (
        "Clientes: 1 nuevos, 0 actualizados, 2 rechazados.\n"
        "  Línea 2: Correo inválido: «malo@@»\n"
        "  Línea 3: Falta el cliente\n"
    )
    assert [r["cliente"] for r in customers_json(cli)] == ["3"]


def test_customers_import_without_header(cli: Cli) -> None:
    result = cli("customers", "import", "-", input=b"SM02\t1\tUno\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No se encontró la fila de encabezados")
    assert customers_json(cli) == []


def test_customers_search_by_name(customers: Cli) -> None:
    result = customers("customers", "search", "--nombre", "ferre", "--format", "tsv")
    assert result.stdout == (
        "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
        "SM02\t1004273\tFerretería López\tLOFE800101XY3\tpagos@ferrelopez.example.mx\tes\n"
    )


def test_ledger_with_rejected_rows_imports_nothing(customers: Cli) -> None:
    assert (
        customers("ledger", "import", "-", input=(LEDGER_HEADER + GOOD_ROW).encode()).exit_code == 0
    )
    result = customers(
        "ledger", "import", "-", input=(LEDGER_HEADER + BAD_ROWS + GOOD_ROW).encode()
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 2 filas rechazadas; no se importó nada (use --skip-bad para importar las demás):\n"
        + REJECTS
    )
    statement = customers("statement", "SM02", "1004273", "--date", "2026-11-30", "-o", "/dev/null")
    assert statement.exit_code == 0


def test_ledger_skip_bad_imports_the_rest(customers: Cli) -> None:
    data = (LEDGER_HEADER + BAD_ROWS + GOOD_ROW).encode()
    result = customers("ledger", "import", "-", "--skip-bad", "--date", "2026-11-30", input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "  texto ← (no está en el archivo)\n"
        "  doc_compensacion ← (no está en el archivo)\n"
        "  fecha_compensacion ← (no está en el archivo)\n"
        "  asignacion ← (no está en el archivo)\n"
        "  bloqueo ← (no está en el archivo)\n"
        "Partidas abiertas al 30/11/2026 importadas (SM02: 1).\n"
        "SM02: 0 clientes tenían partidas abiertas; 0 quedan sin ninguna.\n"
    )
    assert result.stderr == "2 filas omitidas:\n" + REJECTS


def test_ledger_import_replaces_the_sociedad_snapshot(customers: Cli, tmp_path) -> None:
    from pypdf import PdfReader

    customers("ledger", "import", "-", input=(LEDGER_HEADER + GOOD_ROW).encode())
    newer = GOOD_ROW.replace("2.500,50", "100,00").replace("1800000004", "1800000009")
    customers("ledger", "import", "-", input=(LEDGER_HEADER + newer).encode())
    out = tmp_path / "e.pdf"
    result = customers("statement", "SM02", "0001004273", "--date", "2026-11-30", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "1800000009" in text and "100.00" in text
    assert "1800000004" not in text and "2,500.50" not in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["statement", "SM02", "7777777"],
            1,
            "Error: Cliente 7777777 no encontrado en el maestro de clientes de la sociedad SM02\n",
        ),
        (
            ["statement", "XX99", "7777777"],
            1,
            "Error: Sociedad XX99 no encontrada en el maestro de clientes\n",
        ),
        (
            ["ledger", "import", "no-existe.txt"],
            1,
            "Error: No se encontró el archivo: no-existe.txt\n",
        ),
        (
            ["ledger", "import", "-", "--date", "2026-13-01"],
            2,
            "Error: Fecha inválida «2026-13-01»: use AAAA-MM-DD, por ejemplo 2026-11-30.\n",
        ),
    ],
)
def test_errors(customers: Cli, args: list[str], code: int, message: str) -> None:
    result = customers(*args, input=b"")
    assert result.exit_code == code, result.output
    assert result.stderr == message

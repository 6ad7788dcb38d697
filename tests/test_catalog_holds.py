"""Nobody left out silently: customers with open items and no catalog entry, holds, the
catalog's change trail, and --require-complete."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from conftest import Cli

DATE = "2026-11-30"
MORE_CUSTOMERS = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
    "SM02\t0001008950\tRio Bravo Building Supply LLC\t\tap@riobravo.example.com\tE\n"
    "SM02\t0001009000\tSin Correo S.A.\t\t\tS\n"
)
LEDGER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.10.2026\t1.160,00\tMXN\n"
    "SM02\t0001004273\t1800000004\tRV\tA-1002\t01.09.2026\t01.10.2026\t2.500,50\tMXN\n"
    "SM02\t0001008950\t1800000010\tRV\tUS-1\t01.09.2026\t01.10.2026\t2.500,00\tUSD\n"
    "SM02\t0001009000\t1800000011\tRV\tX-1\t01.09.2026\t01.10.2026\t99,90\tMXN\n"
)
MISSING_PASTE = (
    "Sociedad\tCliente\tNombre\tCorreo\n"
    "SM02\t1008950\tRio Bravo Building Supply LLC\tap@riobravo.example.com\n"
    "SM02\t1009000\tSin Correo S.A.\t\n"
)


@pytest.fixture
def gaps(loaded: Cli) -> Cli:
    """The loaded catalog (1006210, 1004273, 1001400) and two customers with open items
    but no catalog entry: 1008950 (the master has an address) and 1009000 (none)."""
    assert loaded("customers", "import", "-", input=MORE_CUSTOMERS.encode()).exit_code == 0
    result = loaded("ledger", "import", "-", "--date", DATE, input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    return loaded


def history(cli: Cli, run: int | None = None) -> list[dict]:
    result = cli("history", "--format", "json", *([str(run)] if run else []))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_catalog_missing_prints_a_paste_that_imports_back(gaps: Cli) -> None:
    result = gaps("catalog", "missing", "--sociedad", "SM02")
    assert result.exit_code == 0, result.output
    assert result.stdout == MISSING_PASTE
    assert result.stderr == "2 clientes con partidas abiertas sin correo en el catálogo.\n"
    # the clerk fills in the blank address in Excel and pastes the rows back
    filled = result.stdout.replace(
        "Sin Correo S.A.\t\n", "Sin Correo S.A.\tcxc@sincorreo.example.mx\n"
    )
    imported = gaps("catalog", "import", "-", "--yes", input=filled.encode())
    assert imported.exit_code == 0, imported.output
    again = gaps("catalog", "missing", "--sociedad", "SM02")
    assert again.stdout == "Sociedad\tCliente\tNombre\tCorreo\n"


def test_require_complete_refuses_while_anyone_is_missing(gaps: Cli) -> None:
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE, "--require-complete")
    assert result.exit_code == 1
    assert result.stderr == (
        "Con partidas abiertas y sin correo en el catálogo (no se les envía): 2\n"
        "  1008950 Rio Bravo Building Supply LLC: USD 2,500.00\n"
        "  1009000 Sin Correo S.A.: MXN 99.90\n"
        "Error: 2 clientes de SM02 tienen partidas abiertas y no están en el catálogo "
        "(--require-complete): agréguelos («rotomail catalog missing --sociedad SM02») o "
        "retenga los que no deben recibirlo; no se envió nada.\n"
    )
    assert history(gaps) == []
    for cliente in ("1008950", "1009000"):
        assert gaps("catalog", "hold", "SM02", cliente, "--reason", "alta pendiente").exit_code == 0
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE, "--require-complete")
    assert result.exit_code == 0, result.output


def test_send_all_counts_and_the_log_lists_the_missing(gaps: Cli, home: Path) -> None:
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "Envío a 3 clientes de SM02; 2 con partidas abiertas sin correo en el catálogo "
        "(no se envían); 0 retenidos."
    )
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Sin correo en el catálogo (no se les envió): 2" in log
    assert any("1008950" in line and "USD 2,500.00" in line for line in log.splitlines())


def test_dry_run_lists_the_missing_with_their_balance(gaps: Cli) -> None:
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  1008950 Rio Bravo Building Supply LLC: USD 2,500.00" in result.stderr.splitlines()
    assert "  1009000 Sin Correo S.A.: MXN 99.90" in result.stderr.splitlines()


def test_a_held_customer_is_never_sent_nor_missing(gaps: Cli) -> None:
    assert gaps("catalog", "hold", "SM02", "1006210", "--reason", "disputa").exit_code == 0
    assert gaps("catalog", "hold", "SM02", "1008950", "--reason", "cobranza legal").exit_code == 0
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert {row["cliente"] for row in history(gaps, 1)} == {"1004273", "1001400"}
    assert result.stderr.splitlines()[0] == (
        "Envío a 2 clientes de SM02; 1 con partidas abiertas sin correo en el catálogo "
        "(no se envían); 2 retenidos."
    )
    assert "Retenidos (no se les envía): 2" in result.stderr.splitlines()
    assert "  1006210: disputa" in result.stderr.splitlines()
    missing = gaps("catalog", "missing", "--sociedad", "SM02").stdout
    assert "1008950" not in missing
    named = gaps("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert named.exit_code == 1
    assert named.stderr == (
        "Error: Retenido (no se envía): 1006210 (disputa); libérelo con "
        "«rotomail catalog release SM02 1006210».\n"
    )
    assert gaps("catalog", "release", "SM02", "1006210").exit_code == 0
    result = gaps("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert "1006210" in {row["cliente"] for row in history(gaps, 2)}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["catalog", "release", "SM02", "1006210"],
            1,
            "Error: El cliente 1006210 de la sociedad SM02 no está retenido.\n",
        ),
        (
            ["catalog", "hold", "SM02", "42", "--reason", "x"],
            1,
            "Error: Cliente 42 no encontrado en el maestro de clientes de la sociedad SM02\n",
        ),
        (
            ["catalog", "hold", "SM02", "1006210", "--reason", "  "],
            2,
            "Error: Indique el motivo de la retención con --reason.\n",
        ),
    ],
)
def test_hold_and_release_errors(loaded: Cli, args: list[str], code: int, message: str) -> None:
    result = loaded(*args)
    assert result.exit_code == code
    assert result.stderr == message


def test_catalog_changes_keep_who_when_before_and_after(loaded: Cli) -> None:
    # loaded added 1006210 with two addresses
    steps = [
        ("catalog", "add", "SM02", "1006210", "c@agro.example.mx", "--idioma", "E"),
        ("catalog", "hold", "SM02", "1006210", "--reason", "disputa"),
        ("catalog", "release", "SM02", "1006210"),
        ("catalog", "delete", "SM02", "1006210", "--yes"),
    ]
    for step in steps:
        assert loaded(*step).exit_code == 0
    paste = "Sociedad\tCliente\tCorreo\nSM02\t1006210\td@agro.example.mx\n"
    assert loaded("catalog", "import", "-", "--yes", input=paste.encode()).exit_code == 0
    result = loaded("catalog", "changes", "SM02", "0001006210", "--format", "json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)
    assert [(c["cambio"], c["antes"], c["despues"]) for c in changes] == [
        ("alta", "", "a@agro.example.mx;b@agro.example.mx"),
        ("reemplazo", "a@agro.example.mx;b@agro.example.mx", "c@agro.example.mx (en)"),
        ("retención", "", "retenido: disputa"),
        ("liberación", "retenido: disputa", ""),
        ("borrado", "c@agro.example.mx (en)", ""),
        ("alta masiva", "", "d@agro.example.mx"),
    ]
    assert {c["usuario"] for c in changes} == {getpass.getuser()}
    table = loaded("catalog", "changes", "SM02", "1006210")
    assert "reemplazo" in table.stdout


def test_a_refused_change_leaves_no_trail(loaded: Cli) -> None:
    result = loaded("catalog", "add", "SM02", "1006210", "no es correo")
    assert result.exit_code == 1
    changes = json.loads(loaded("catalog", "changes", "SM02", "1006210", "--format", "json").stdout)
    assert len(changes) == 1  # only loaded's own add

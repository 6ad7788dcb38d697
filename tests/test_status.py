"""``rotomail status``: for one statement date, every customer of the sociedad once, with
what became of its statement; ``catalog holds``; what ``catalog search`` shows of a hold and
the language; the From header's default display name."""

from __future__ import annotations

import getpass
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rotomail.delivery.status import STATES, decide
from rotomail.store.status import Record
from tests.conftest import Cli
from tests.smtp_server import SmtpServer

DATE = "2026-11-30"
MORE_CUSTOMERS = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
    "SM02\t0001008950\tRio Bravo Building Supply LLC\t\tap@riobravo.example.com\tE\n"
    "SM02\t0001009000\tSin Correo S.A.\t\t\tS\n"
    "SM02\t0001007000\tMateriales Tardíos S.A.\t\tcxp@tardios.example.mx\t\n"
)
LEDGER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.10.2026\t1.160,00\tMXN\n"
    "SM02\t0001006210\t1800000003\tRV\tB-77\t10.11.2026\t10.12.2026\t500,00\tUSD\n"
    "SM02\t0001004273\t1800000004\tRV\tA-1002\t01.09.2026\t01.10.2026\t2.500,50\tMXN\n"
    "SM02\t0001008950\t1800000010\tRV\tUS-1\t01.09.2026\t01.10.2026\t2.500,00\tUSD\n"
    "SM02\t0001009000\t1800000011\tRV\tX-1\t01.09.2026\t01.10.2026\t99,90\tMXN\n"
    "SM02\t0001007000\t1800000012\tRV\tT-1\t01.09.2026\t01.10.2026\t10,00\tMXN\n"
)


@pytest.fixture
def month(loaded: Cli, smtp: SmtpServer) -> Cli:
    """A month-end run of SM02 against the test server where Ferretería López's server
    refused (fallido), Rio Bravo is held (retenido), Sin Correo has no catalog entry (sin
    correo) and Materiales Tardíos got its entry after the run (pendiente)."""
    assert loaded("customers", "import", "-", input=MORE_CUSTOMERS.encode()).exit_code == 0
    result = loaded("ledger", "import", "-", "--date", DATE, input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    assert loaded("catalog", "add", "SM02", "1008950", "ap@riobravo.example.com").exit_code == 0
    held = loaded("catalog", "hold", "SM02", "1008950", "--reason", "disputa")
    assert held.exit_code == 0, held.output
    smtp.reply_at_rcpt("pagos@ferrelopez.example.mx", "550 5.1.1 User unknown", times=None)
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1, result.output
    added = loaded("catalog", "add", "SM02", "1007000", "cxp@tardios.example.mx")
    assert added.exit_code == 0, added.output
    return loaded


def status_json(cli: Cli, *args: str) -> list[dict]:
    result = cli("status", "--sociedad", "SM02", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


FECHA = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def test_status_after_a_run_gives_every_customer_once_with_its_state(
    month: Cli, smtp: SmtpServer
) -> None:
    """Done when: the refused customer is fallido, the held one retenido, the one without
    an entry sin correo, the one that got its entry after the run pendiente, and the rest
    enviado; each customer once."""
    received = sorted(m.rcpt_tos for m in smtp.messages if m.rcpt_tos != ["operador@example.mx"])
    assert received == [["a@agro.example.mx", "b@agro.example.mx"], ["cxp@plomeria.example.mx"]]
    rows = status_json(month)
    fechas = {row["cliente"]: row.pop("fecha") for row in rows}
    # when the run recorded the outcome, or when the customer was held
    assert all(FECHA.fullmatch(fechas[c]) for c in ("1001400", "1004273", "1006210", "1008950"))
    assert fechas["1007000"] is None and fechas["1009000"] is None
    assert rows == [
        {
            "sociedad": "SM02",
            "cliente": "1001400",
            "nombre": "Plomería Central S.A. de C.V.",
            "estado": "enviado",
            "saldo": {},
            "corrida": 1,
            "ejecutivo": "",
        },
        {
            "sociedad": "SM02",
            "cliente": "1004273",
            "nombre": "Ferretería López",
            "estado": "fallido",
            "saldo": {"MXN": "2500.50"},
            "corrida": 1,
            "ejecutivo": "",
        },
        {
            "sociedad": "SM02",
            "cliente": "1006210",
            "nombre": "Agroequipos del Bajío S.A. de C.V.",
            "estado": "enviado",
            "saldo": {"MXN": "1160.00", "USD": "500.00"},
            "corrida": 1,
            "ejecutivo": "",
        },
        {
            "sociedad": "SM02",
            "cliente": "1007000",
            "nombre": "Materiales Tardíos S.A.",
            "estado": "pendiente",
            "saldo": {"MXN": "10.00"},
            "corrida": None,
            "ejecutivo": "",
        },
        {
            "sociedad": "SM02",
            "cliente": "1008950",
            "nombre": "Rio Bravo Building Supply LLC",
            "estado": "retenido",
            "saldo": {"USD": "2500.00"},
            "corrida": None,
            "ejecutivo": "",
        },
        {
            "sociedad": "SM02",
            "cliente": "1009000",
            "nombre": "Sin Correo S.A.",
            "estado": "sin correo",
            "saldo": {"MXN": "99.90"},
            "corrida": None,
            "ejecutivo": "",
        },
    ]


def test_status_table_ends_with_the_counts_and_filters_by_state(month: Cli) -> None:
    result = month("status", "--sociedad", "SM02")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "Sociedad", "Cliente", "Nombre", "Estado", "Saldo", "Corrida", "Fecha", "Ejecutivo"
    ]  # fmt: skip
    assert re.fullmatch(
        r"SM02 +1004273 +Ferretería López +fallido +MXN 2,500\.50 +1 +\d{4}-\d\d-\d\d \d\d:\d\d",
        lines[3],
    )
    assert re.fullmatch(r"SM02 +1009000 +Sin Correo S\.A\. +sin correo +MXN 99\.90", lines[7])
    assert lines[-1] == (
        "enviado: 2 · fallido: 1 · retenido: 1 · sin correo: 1 · pendiente: 1 (6 clientes)"
    )
    assert result.stderr == ""

    result = month("status", "--sociedad", "sm02", "--estado", "FALLIDO", "--estado", "sin-correo")
    assert result.exit_code == 0, result.output
    assert [line.split()[1] for line in result.stdout.splitlines()[2:-1]] == ["1004273", "1009000"]
    assert result.stdout.splitlines()[-1] == "fallido: 1 · sin correo: 1 (2 clientes)"

    tsv = month("status", "--sociedad", "SM02", "--format", "tsv", "--estado", "retenido")
    assert tsv.exit_code == 0, tsv.output
    heading, row = tsv.stdout.splitlines()
    assert heading == "Sociedad\tCliente\tNombre\tEstado\tSaldo\tCorrida\tFecha\tEjecutivo"
    assert re.fullmatch(
        r"SM02\t1008950\tRio Bravo Building Supply LLC\tretenido\tUSD 2,500.00\t\t"
        r"\d{4}-\d\d-\d\d \d\d:\d\d\t",
        row,
    )
    assert tsv.stderr == "retenido: 1 (1 clientes)\n"  # the counts apart from the data


def test_status_refuses_an_unknown_state(month: Cli) -> None:
    result = month("status", "--sociedad", "SM02", "--estado", "entregado")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Estado «entregado» no válido: use «enviado», «parcial», «incierto», "
        "«rebotado», «fallido», «guardado», «omitido», «retenido», «sin correo», "
        "«pendiente».\n"
    )


def test_status_as_a_spreadsheet(month: Cli, tmp_path: Path) -> None:
    path = tmp_path / "estado.xlsx"
    result = month("status", "--sociedad", "SM02", "--format", "xlsx", "-o", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "enviado: 2 · fallido: 1 · retenido: 1 · sin correo: 1 · pendiente: 1 (6 clientes)\n"
    )
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == [
        "Sociedad", "Cliente", "Nombre", "Estado", "Saldo", "Corrida", "Fecha", "Ejecutivo"
    ]  # fmt: skip
    assert rows[2][:6] == ["SM02", "1004273", "Ferretería López", "fallido", "MXN 2,500.50", 1]
    assert len(rows) == 7

    result = month("status", "--sociedad", "SM02", "--format", "xlsx")
    assert result.exit_code == 2
    assert result.stderr == "Error: Para xlsx indique el archivo con --output.\n"


def test_status_of_another_date_comes_from_the_run_records_only(month: Cli) -> None:
    december = LEDGER.replace("10.12.2026\t500,00", "10.12.2026\t400,00")
    result = month("ledger", "import", "-", "--date", "2026-12-31", input=december.encode())
    assert result.exit_code == 0, result.output
    assert {r["estado"] for r in status_json(month)} == {"pendiente", "retenido", "sin correo"}

    result = month("status", "--sociedad", "SM02", "--date", DATE, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Aviso: las partidas abiertas de SM02 son al 31/12/2026; el estado al 30/11/2026 se "
        "arma solo con los registros de envío (sin saldos, y solo con los clientes de alguna "
        "corrida).\n"
        "enviado: 2 · fallido: 1 (3 clientes)\n"
    )
    rows = json.loads(result.stdout)
    assert [(r["cliente"], r["estado"], r["saldo"], r["corrida"]) for r in rows] == [
        ("1001400", "enviado", None, 1),
        ("1004273", "fallido", None, 1),
        ("1006210", "enviado", None, 1),
    ]


def test_status_without_open_items_needs_a_date(customers: Cli) -> None:
    result = customers("status", "--sociedad", "SM02")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No hay partidas abiertas importadas para la sociedad SM02; indique la fecha "
        "con --date (el estado se arma entonces con los registros de envío).\n"
    )
    result = customers("status", "--sociedad", "SM02", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Aviso: no hay partidas abiertas importadas de SM02; ")
    assert result.stdout == "Ningún cliente.\n"


def test_uncertain_skipped_and_a_later_run_that_sent(
    loaded: Cli, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection dropped after DATA (incierto), a customer left out by --skip-zero
    (omitido); a later --force run that sent it makes the uncertain one enviado."""
    monkeypatch.setenv("ROTOMAIL_SMTP_SESSIONS", "1")  # which statement is first is the point
    smtp.drop_at_data(times=1)  # the first statement: Ferretería López (1001400 is skipped)
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--skip-zero")
    assert result.exit_code == 1, result.output
    states = {r["cliente"]: (r["estado"], r["corrida"]) for r in status_json(loaded)}
    assert states == {
        "1001400": ("omitido", 1),
        "1004273": ("incierto", 1),
        "1006210": ("enviado", 1),
    }
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE, "--force")
    assert result.exit_code == 0, result.output
    assert {r["cliente"]: r["estado"] for r in status_json(loaded)}["1004273"] == "enviado"
    assert {r["cliente"]: r["corrida"] for r in status_json(loaded)}["1004273"] == 2


def test_outbox_is_saved_and_a_rehearsal_counts_for_nothing(loaded: Cli) -> None:
    """No SMTP host: the statements are saved in the outbox (guardado); a rehearsal
    (--test) sent the customers nothing, so they stay pendiente."""
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--test")
    assert result.exit_code == 0, result.output
    assert {r["estado"] for r in status_json(loaded)} == {"pendiente"}
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert {r["estado"] for r in status_json(loaded)} == {"guardado"}


# --- the precedence -------------------------------------------------------------------

WHEN = datetime(2026, 12, 1, 7, 0)


def records(*statuses: str) -> list[Record]:
    return [Record("1006210", "Agro", status, run, WHEN) for run, status in enumerate(statuses, 1)]


@pytest.mark.parametrize(
    ("statuses", "held", "in_catalog", "expected", "run"),
    [
        (("failed", "sent"), False, True, "enviado", 2),
        (("sent", "failed"), False, True, "enviado", 1),  # a --force run failed later
        (("partial", "skipped"), False, True, "parcial", 1),
        (("uncertain", "partial"), False, True, "parcial", 2),
        (("bounced", "uncertain"), False, True, "incierto", 2),
        (("in_flight",), False, True, "incierto", 1),
        (("failed", "bounced"), False, True, "rebotado", 2),
        (("saved", "failed"), False, True, "fallido", 2),
        (("skipped", "saved"), False, True, "guardado", 2),
        (("pending", "skipped"), True, True, "omitido", 2),
        (("skipped", "skipped"), False, True, "omitido", 2),  # the latest decides
        (("pending",), True, False, "retenido", None),
        ((), True, True, "retenido", None),
        ((), False, False, "sin correo", None),
        (("pending",), False, True, "pendiente", 1),  # never tried: an interrupted run
        ((), False, True, "pendiente", None),
    ],
)
def test_the_first_state_that_applies_wins(
    statuses: tuple[str, ...], held: bool, in_catalog: bool, expected: str, run: int | None
) -> None:
    state, record = decide(
        records(*statuses), held_at=WHEN if held else None, in_catalog=in_catalog
    )
    assert state == expected
    assert (record.run_id if record else None) == run


def test_states_in_the_order_of_precedence() -> None:
    assert STATES == (
        "enviado",
        "parcial",
        "incierto",
        "rebotado",
        "fallido",
        "guardado",
        "omitido",
        "retenido",
        "sin correo",
        "pendiente",
    )


# --- holds in sight -------------------------------------------------------------------


def test_catalog_holds_lists_reason_user_and_date(month: Cli) -> None:
    assert (
        month("catalog", "hold", "SM02", "1009000", "--reason", "en cobranza judicial").exit_code
        == 0
    )
    result = month("catalog", "holds", "--sociedad", "SM02", "--format", "json")
    assert result.exit_code == 0, result.output
    holds = json.loads(result.stdout)
    fechas = [hold.pop("fecha") for hold in holds]
    assert all(FECHA.fullmatch(f) for f in fechas)
    user = getpass.getuser()
    assert holds == [
        {
            "sociedad": "SM02",
            "cliente": "1008950",
            "nombre": "Rio Bravo Building Supply LLC",
            "motivo": "disputa",
            "usuario": user,
        },
        {
            "sociedad": "SM02",
            "cliente": "1009000",
            "nombre": "Sin Correo S.A.",
            "motivo": "en cobranza judicial",
            "usuario": user,
        },
    ]
    table = month("catalog", "holds", "--sociedad", "SM02")
    assert table.stdout.splitlines()[0].split() == [
        "Sociedad", "Cliente", "Nombre", "Motivo", "Usuario", "Fecha"
    ]  # fmt: skip
    assert table.stderr == "2 clientes retenidos.\n"
    assert month("catalog", "release", "SM02", "1008950").exit_code == 0
    assert month("catalog", "release", "SM02", "1009000").exit_code == 0
    empty = month("catalog", "holds", "--sociedad", "SM02")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "No hay clientes retenidos.\n")


def test_catalog_search_shows_the_hold_and_the_language(month: Cli, home: Path) -> None:
    month("catalog", "add", "SM02", "1001400", "cxp@plomeria.example.mx", "--idioma", "pt")
    (home / "config.toml").write_text(
        (home / "config.toml").read_text(encoding="utf-8") + 'language = "en"\n', encoding="utf-8"
    )
    result = month("catalog", "search", "--sociedad", "SM02", "--format", "tsv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Sociedad\tCliente\tNombre\tCorreo\tIdioma\tRetenido",
        "SM02\t1001400\tPlomería Central S.A. de C.V.\tcxp@plomeria.example.mx\tpt\t",  # entry's
        "SM02\t1004273\tFerretería López\tpagos@ferrelopez.example.mx\tes\t",  # the master's
        "SM02\t1006210\tAgroequipos del Bajío S.A. de C.V.\ta@agro.example.mx;b@agro.example.mx"
        "\tes\t",
        "SM02\t1007000\tMateriales Tardíos S.A.\tcxp@tardios.example.mx\ten\t",  # company's
        "SM02\t1008950\tRio Bravo Building Supply LLC\tap@riobravo.example.com\ten\tdisputa",
    ]


# --- From's default display name ------------------------------------------------------


def from_header(data: bytes) -> bytes:
    """The From header as it crossed the wire, unfolded."""
    head = data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    [line] = [line for line in head.split(b"\r\n") if line.startswith(b"From: ")]
    return line


def test_from_shows_the_company_and_accounts_receivable_in_the_customers_language(
    loaded: Cli, smtp: SmtpServer
) -> None:
    assert (
        loaded(
            "catalog", "add", "SM02", "1001400", "cxp@plomeria.example.mx", "--idioma", "pt"
        ).exit_code
        == 0
    )
    assert (
        loaded(
            "catalog", "add", "SM02", "1004273", "pagos@ferrelopez.example.mx", "--idioma", "en"
        ).exit_code
        == 0
    )
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert from_header(by_rcpt["a@agro.example.mx"].data) == (
        b'From: "Tinacos Ejemplo S.A. de C.V. - Cuentas por Cobrar" <portal@example.mx>'
    )
    assert from_header(by_rcpt["cxp@plomeria.example.mx"].data) == (
        b'From: "Tinacos Ejemplo S.A. de C.V. - Contas a Receber" <portal@example.mx>'
    )
    assert from_header(by_rcpt["pagos@ferrelopez.example.mx"].data) == (
        b'From: "Tinacos Ejemplo S.A. de C.V. - Accounts Receivable" <portal@example.mx>'
    )
    # the run log to the operator is not a statement: From stays as configured
    assert from_header(by_rcpt["operador@example.mx"].data) == b"From: portal@example.mx"


def test_from_with_accents_is_encoded_and_a_configured_name_is_kept(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    config = home / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("Tinacos Ejemplo", "Tinacos Peñón"), encoding="utf-8")
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
    assert result.exit_code == 0, result.output
    statement = next(m for m in smtp.messages if m.rcpt_tos == ["pagos@ferrelopez.example.mx"])
    raw = from_header(statement.data)
    assert raw.isascii() and b"=?utf-8?" in raw and raw.endswith(b" <portal@example.mx>")
    sender = statement.message["From"].addresses[0]
    assert sender.display_name == "Tinacos Peñón S.A. de C.V. - Cuentas por Cobrar"
    assert sender.addr_spec == "portal@example.mx"

    config.write_text(
        text.replace(
            'sender = "portal@example.mx"', 'sender = "Cobranza Tinacos <portal@example.mx>"'
        ),
        encoding="utf-8",
    )
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert result.exit_code == 0, result.output
    statement = next(m for m in smtp.messages if m.rcpt_tos[0] == "a@agro.example.mx")
    assert from_header(statement.data) == b"From: Cobranza Tinacos <portal@example.mx>"

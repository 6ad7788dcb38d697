"""Balance thresholds of a run (issue 21, item 6): ``send --min-balance`` / ``--skip-credit``
and the company settings ``min_balance`` / ``skip_credit``: the customers left out are
recorded "omitido" with the reason, counted and listed, never skipped without a word; and
what the checklist shows a clerk (the disputed amount, a balance under the minimum)."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sample_data import COMPANY_CONFIG, LEDGER_TSV
from smtp_server import SmtpServer

from rotomail.cli.checklist import ChecklistItem, ChecklistState, Columns
from tests.conftest import Cli

# 1001400 in credit (a credit note of 300), 1006210 MXN 1,000.00 · USD 500.00 and
# 1004273 MXN 2,500.50 (sample_data.LEDGER_TSV).
CREDIT_ROW = "SM02\t0001001400\t1800000009\tDG\tNC-9\t05.11.2026\t05.11.2026\t300,00-\tMXN\n"
LEDGER = LEDGER_TSV.replace("\t\t\t\t\t\t*\t3.500,50\tMXN\n", "") + CREDIT_ROW
CREDIT = (
    "– 1001400 Plomería Central S.A. de C.V.: omitido - saldo a favor del cliente: "
    "MXN -300.00 ({source})"
)
BELOW_CREDIT = (
    "– 1001400 Plomería Central S.A. de C.V.: omitido - saldo menor que el mínimo de "
    "{minimum}: MXN -300.00 ({source})"
)
BELOW_AGRO = (
    "– 1006210 Agroequipos del Bajío S.A. de C.V.: omitido - saldo menor que el mínimo de "
    "{minimum}: MXN 1,000.00 · USD 500.00 ({source})"
)


@pytest.fixture
def ledger(loaded: Cli) -> Cli:
    result = loaded("ledger", "import", "-", "--yes", "--date", "2026-11-30", input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    return loaded


def omitted_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if ": omitido - " in line]


def log_text(home: Path, run: int) -> str:
    [log] = list((home / "logs").glob(f"*_corrida{run}_SM02.txt"))
    return log.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "settings", "lines", "rules", "built"),
    [
        (
            ["--min-balance", "1500"],
            "",
            [
                BELOW_CREDIT.format(minimum="1,500.00", source="--min-balance"),
                BELOW_AGRO.format(minimum="1,500.00", source="--min-balance"),
            ],
            "saldo mínimo 1,500.00 (--min-balance)",
            1,
        ),
        # compared in each currency: MXN 1,000.00 is not under 800, so 1006210 goes
        (
            ["--min-balance", "800.00"],
            "",
            [BELOW_CREDIT.format(minimum="800.00", source="--min-balance")],
            "saldo mínimo 800.00 (--min-balance)",
            2,
        ),
        (
            ["--skip-credit"],
            "",
            [CREDIT.format(source="--skip-credit")],
            "sin saldo a cargo (--skip-credit)",
            2,
        ),
        (
            [],
            "min_balance = 1500\n",
            [
                BELOW_CREDIT.format(minimum="1,500.00", source="min_balance"),
                BELOW_AGRO.format(minimum="1,500.00", source="min_balance"),
            ],
            "saldo mínimo 1,500.00 (min_balance)",
            1,
        ),
        # the command line wins over the company's setting
        (
            ["--min-balance", "800"],
            "min_balance = 1500\n",
            [BELOW_CREDIT.format(minimum="800.00", source="--min-balance")],
            "saldo mínimo 800.00 (--min-balance)",
            2,
        ),
        (
            ["--min-balance", "1500"],
            "skip_credit = true\n",
            [
                CREDIT.format(source="skip_credit"),
                BELOW_AGRO.format(minimum="1,500.00", source="--min-balance"),
            ],
            "saldo mínimo 1,500.00 (--min-balance); sin saldo a cargo (skip_credit)",
            1,
        ),
    ],
)
def test_customers_under_the_thresholds_are_omitted_and_counted(
    ledger: Cli,
    home: Path,
    args: list[str],
    settings: str,
    lines: list[str],
    rules: str,
    built: int,
) -> None:
    (home / "config.toml").write_text(COMPANY_CONFIG + settings, encoding="utf-8")
    result = ledger("send", "--sociedad", "SM02", "--all", "--dry-run", *args)
    assert result.exit_code == 0, result.output
    assert omitted_lines(result.stdout) == lines
    assert re.search(rf"^Omitidos\s+{len(lines)}\s*$", result.stdout, re.MULTILINE)
    assert re.search(rf"^Generados \(simulación\)\s+{built}\s*$", result.stdout, re.MULTILINE)
    log = log_text(home, 1)
    assert f"\nOmitidos por saldo: {len(lines)} — {rules}\n" in log
    expected = {line.split()[1]: line.split(": omitido - ")[1] for line in lines}
    rows = json.loads(ledger("history", "1", "--format", "json").stdout)
    assert {r["cliente"]: r["detalle"] for r in rows if r["estado"] == "omitido"} == expected
    for cliente, detalle in expected.items():
        [row] = [line for line in log.splitlines() if line.startswith(f"SM02        {cliente}")]
        assert " omitido " in row and row.endswith(detalle)


def test_omitted_customers_get_no_mail(smtp: SmtpServer, ledger: Cli) -> None:
    result = ledger("send", "--sociedad", "SM02", "--all", "--min-balance", "1500")
    assert result.exit_code == 0, result.output
    recipients = sorted(r for m in smtp.messages for r in m.rcpt_tos if "example.mx" in r)
    assert "pagos@ferrelopez.example.mx" in recipients
    assert not any("agro" in r or "plomeria" in r for r in recipients)
    assert len(omitted_lines(result.stdout)) == 2


def test_without_thresholds_nobody_is_omitted(ledger: Cli, home: Path) -> None:
    result = ledger("send", "--sociedad", "SM02", "--all", "--dry-run")
    assert result.exit_code == 0, result.output
    assert omitted_lines(result.stdout) == []
    assert "Omitidos por saldo" not in log_text(home, 1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "indique un importe, p. ej. 500 o 1500.50"),
        ("-5", "el importe debe ser 0 o mayor, p. ej. 500 o 1500.50"),
    ],
)
def test_a_bad_min_balance_is_one_line(ledger: Cli, value: str, message: str) -> None:
    result = ledger("send", "--sociedad", "SM02", "--all", "--dry-run", "--min-balance", value)
    assert result.exit_code == 2
    assert result.stderr == f"Error: --min-balance «{value}»: {message}.\n"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'min_balance = "mucho"',
            "«mucho» ({path}); debe ser un importe de 0 o mayor, p. ej. 500.",
        ),
        ("min_balance = -1", "«-1» ({path}); debe ser un importe de 0 o mayor, p. ej. 500."),
        ('skip_credit = "sí"', "«sí» ({path}); debe ser true o false."),
    ],
)
def test_bad_threshold_settings_name_the_key(
    ledger: Cli, home: Path, setting: str, expected: str
) -> None:
    (home / "config.toml").write_text(COMPANY_CONFIG + setting + "\n", encoding="utf-8")
    result = ledger("send", "--sociedad", "SM02", "--all", "--dry-run")
    assert result.exit_code == 2
    key = setting.split(" = ")[0]
    path = home / "config.toml"
    assert result.stderr == (
        f"Error: Configuración inválida: companies.SM02.{key} = "
        + expected.format(path=path)
        + "\n"
    )


def test_config_show_lists_the_company_settings(ledger: Cli, home: Path) -> None:
    (home / "config.toml").write_text(
        COMPANY_CONFIG
        + 'min_balance = 250.5\nskip_credit = true\ninvoice_copies = "cfdi/{referencia}"\n'
        "invoice_copies_max_mb = 5\n",
        encoding="utf-8",
    )
    result = ledger("config", "show")
    assert result.exit_code == 0, result.output
    shown = [line.split() for line in result.stdout.splitlines()]
    assert [row[:2] for row in shown if row[0].startswith("companies.SM02.")] == [
        ["companies.SM02.invoice_copies", "cfdi/{referencia}"],
        ["companies.SM02.invoice_copies_max_mb", "5"],
        ["companies.SM02.min_balance", "250.50"],
        ["companies.SM02.skip_credit", "true"],
    ]


# --- the checklist ------------------------------------------------------------------------


def _item(cliente: str, balance: str, disputed: str = "") -> ChecklistItem:
    return ChecklistItem(
        cliente,
        cliente,
        f"CLIENTE {cliente}",
        f"c{cliente}@example.mx",
        balance,
        {},
        "",
        "",
        disputed,
    )


def test_the_checklist_shows_the_disputed_amount_and_the_omitted() -> None:
    items = [_item("1006210", "MXN 3,500.00", "MXN 1,000.00"), _item("1004273", "MXN 2,500.50")]
    state = ChecklistState(
        items,
        below_minimum=[_item("1001401", "MXN 120.00")],
        in_credit=[_item("1001400", "MXN -300.00")],
    )
    columns = Columns.fit(state, 200)
    assert columns.line("   ", None, "Estado").split()[-3:] == ["Saldo", "En", "aclaración"]
    assert columns.line("[x]", items[0], "").rstrip().endswith("MXN 3,500.00   MXN 1,000.00")
    rows = [columns.line("", state.rows[i], "x") for i in range(len(state.rows))]
    assert [state.kinds[i] for i in range(4)] == ["ok", "ok", "below", "credit"]
    assert "bajo el mínimo" in Columns.fit(state, 200).line(" - ", state.rows[2], "bajo el mínimo")
    assert len(rows) == 4
    assert state.notes_text() == (
        "omitidos bajo el saldo mínimo: 1 · omitidos sin saldo a cargo: 1"
    )
    assert state.selected_keys() == ["1006210", "1004273"]
    state.select_shown(True)
    assert state.selected_keys() == ["1006210", "1004273"]  # never the omitted
    # without disputes, no column
    plain = [dataclasses.replace(item, disputed_text="") for item in items]
    assert Columns.fit(ChecklistState(plain), 200).aclaracion == 0


def test_minimum_amount_accepts_what_a_clerk_types() -> None:
    from rotomail.company import minimum_amount

    assert minimum_amount("1,500.5") == Decimal("1500.50")
    assert minimum_amount(500) == Decimal("500.00")
    with pytest.raises(ValueError, match="indique un importe"):
        minimum_amount(True)

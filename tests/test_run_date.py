"""A statement is as of its open items' date: without --date, ``send`` and ``statement`` use
the date of the sociedad's ledger snapshot, and a --date other than it is named in a warning
wherever the date shows (header, log, ``statement``; the checklist in test_terminal_signals)."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

from pypdf import PdfReader
from sample_data import COMPANY_CONFIG, CUSTOMERS_TSV

from rotomail.config import load_settings
from rotomail.delivery.plan import RunRequest, plan_run
from rotomail.store.db import open_engine
from tests.conftest import Cli

# As of 31/10/2026 (any later day runs the test): A-1 is 16 days overdue, A-2 due tomorrow.
LEDGER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1\t01.10.2026\t15.10.2026\t1.000,00\tMXN\n"
    "SM02\t0001006210\t1800000002\tRV\tA-2\t01.10.2026\t01.11.2026\t200,00\tMXN\n"
    "SM02\t0001004273\t1800000003\tRV\tB-1\t01.10.2026\t15.10.2026\t300,00\tMXN\n"
)
SNAPSHOT = date(2026, 10, 31)
WARNING = "Aviso: las partidas abiertas de SM02 son al 31/10/2026 y la fecha de corte es {}."


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def load(cli: Cli, home: Path) -> None:
    (home / "config.toml").write_text(COMPANY_CONFIG, encoding="utf-8")
    assert cli("customers", "import", "-", input=CUSTOMERS_TSV.encode()).exit_code == 0
    result = cli("ledger", "import", "-", "--date", "2026-10-31", input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    assert "Partidas abiertas al 31/10/2026 importadas" in result.stdout
    for cliente, correo in [("1006210", "a@agro.example.mx"), ("1004273", "p@ferre.example.mx")]:
        assert cli("catalog", "add", "SM02", cliente, correo).exit_code == 0


def item_line(text: str, referencia: str) -> str:
    """The item table's line of ``referencia`` (Documento Referencia Tipo Fecha Vencimiento
    Días-vencidos Importe Moneda)."""
    return next(line for line in text.splitlines() if f" {referencia} " in line)


def test_send_without_date_dates_and_ages_every_statement_as_of_the_snapshot(
    cli: Cli, home: Path
) -> None:
    load(cli, home)
    assert date.today() > SNAPSHOT  # a later day
    result = cli("send", "--sociedad", "SM02", "--all")
    assert result.exit_code == 0, result.output
    assert "fecha de corte 31/10/2026" in result.stdout.splitlines()[0]
    assert "Aviso" not in result.output
    folder = home / "outbox" / "corrida-1"
    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    assert pdfs == ["1004273_20261031.pdf", "1006210_20261031.pdf"]
    for name in pdfs:
        text = pdf_text(folder / name)
        assert "Fecha de corte: 31/10/2026" in text, text
        assert date.today().strftime("%d/%m/%Y") not in text
    agro = pdf_text(folder / "1006210_20261031.pdf")
    assert re.search(r" 15/10/2026 16 1,000\.00 MXN$", item_line(agro, "A-1")), agro
    assert re.search(r" 01/11/2026 200\.00 MXN$", item_line(agro, "A-2")), agro  # not yet due
    eml = (folder / "1006210_20261031.eml").read_text(encoding="utf-8")
    assert "31/10/2026" in eml
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Fecha de corte: 31/10/2026" in log
    assert "Aviso" not in log


def test_another_date_is_allowed_and_warned_in_the_header_the_log_and_statement(
    cli: Cli, home: Path
) -> None:
    load(cli, home)
    result = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "fecha de corte 10/11/2026" in lines[0]
    assert result.stderr.splitlines()[0] == WARNING.format("10/11/2026")
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    header = log.split("\n\n", 1)[0].splitlines()
    assert header[6:8] == ["Fecha de corte: 10/11/2026", WARNING.format("10/11/2026")]
    agro = pdf_text(home / "outbox" / "corrida-1" / "1006210_20261110.pdf")
    assert "Fecha de corte: 10/11/2026" in agro
    assert re.search(r" 01/11/2026 9 200\.00 MXN$", item_line(agro, "A-2")), agro  # as asked

    same = cli("statement", "SM02", "1006210", "-o", str(home / "same.pdf"))
    assert same.exit_code == 0, same.output
    assert same.stderr == ""
    assert "Fecha de corte: 31/10/2026" in pdf_text(home / "same.pdf")
    other = cli("statement", "SM02", "1006210", "--date", "2026-11-10", "-o", str(home / "o.pdf"))
    assert other.exit_code == 0, other.output
    assert other.stderr == WARNING.format("10/11/2026") + "\n"
    assert "Fecha de corte: 10/11/2026" in pdf_text(home / "o.pdf")


def test_plan_run_takes_the_date_of_the_open_items(cli: Cli, home: Path, db_url: str) -> None:
    load(cli, home)
    engine = open_engine(db_url)
    try:
        plan = plan_run(engine, load_settings(), RunRequest("SM02", None))
        assert (plan.statement_date, plan.ledger_date, plan.date_warning) == (
            SNAPSHOT,
            SNAPSHOT,
            "",
        )
        later = plan_run(engine, load_settings(), RunRequest("SM02", date(2026, 11, 10)))
        assert later.statement_date == date(2026, 11, 10)
        assert later.date_warning == WARNING.format("10/11/2026")
    finally:
        engine.dispose()

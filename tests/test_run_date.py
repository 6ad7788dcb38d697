"""A statement is as of its open items' date: without --date, ``send`` and ``statement`` use
the date of the sociedad's ledger snapshot, and a --date other than it is named in a warning
wherever the date shows (header, log, ``statement``; the checklist in test_terminal_signals)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sample_data import COMPANY_CONFIG, CUSTOMERS_TSV
from sink_server import Sink, rotomail_env, seed, send_args, start, statements_by_cliente

from rotomail.config import load_settings
from rotomail.delivery.mailer import Transport
from rotomail.delivery.plan import RunRequest, plan_run
from rotomail.delivery.report import SendOptions
from rotomail.delivery.runs import SendRunner
from rotomail.errors import DataError
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


# --- one snapshot per run -------------------------------------------------------------------


def wait_for(sink: Sink, kind: str, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not sink.wait_for(kind, count, 0.05):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {kind} #{count}"


def new_ledger(ids: list[str]) -> bytes:
    """The nightly export a day later: every customer owes 999,99 as of 01/12/2026."""
    return (
        "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
        "Importe en ML\tML\n"
        + "".join(
            f"SM02\t{c}\t19{c}\tRV\tN-{c}\t01.11.2026\t30.11.2026\t999,99\tMXN\n" for c in ids
        )
    ).encode()


@pytest.mark.slow
def test_an_import_during_a_send_waits_every_statement_from_one_snapshot(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = seed(cli, home, 1100)  # open items as of 30/11/2026: 100,10 + 100,20 for the first
    (tmp_path / "nueva.txt").write_bytes(new_ledger(ids))
    kept = tmp_path / "adjuntos"
    with Sink(tmp_path / "sink.jsonl", delay=0.02, attachments=kept) as sink:
        env = rotomail_env(sink.port)
        send = start(send_args(), env, tmp_path)
        wait_for(sink, "accepted", 100, send)
        ledger = start(
            [
                sys.executable,
                "-m",
                "rotomail",
                "ledger",
                "import",
                "nueva.txt",
                "--date",
                "2026-12-01",
                "--yes",
            ],
            env,
            tmp_path,
        )
        wait_for(sink, "accepted", 400, send)
        assert ledger.poll() is None, ledger.communicate()  # still waiting for the run
        out, err = send.communicate(timeout=300)
        assert send.returncode == 0, out.decode()[-2000:] + err.decode()
        imported = ledger.communicate(timeout=60)
        records = sink.records()
    assert ledger.returncode == 0, imported
    assert "Esperando a que termine corrida 1 de SM02, iniciada " in imported[1].decode(), imported
    assert "Partidas abiertas al 01/12/2026 importadas (SM02: 1100)" in imported[0].decode()
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)
    pdfs = sorted(kept.glob("*.pdf"))
    assert len(pdfs) == 1100
    for pdf in pdfs:
        text = pdf_text(pdf)
        assert "Fecha de corte: 30/11/2026" in text, pdf.name
        assert "999.99" not in text and "N-" not in text, pdf.name
        cliente = pdf.name.split("_")[1]
        assert f"F-{cliente}-1" in text and f"F-{cliente}-2" in text, pdf.name
    after = cli("statement", "SM02", ids[0], "-o", str(tmp_path / "despues.pdf"))
    assert after.exit_code == 0, after.output
    text = pdf_text(tmp_path / "despues.pdf")
    assert "Fecha de corte: 01/12/2026" in text and "999.99" in text


def no_transport(run_id: int) -> Transport:
    raise AssertionError("nothing may be sent")


def test_a_send_planned_before_an_import_sends_nothing(cli: Cli, home: Path, db_url: str) -> None:
    """The checklist was open while the nightly import ran: the run refuses, nothing mixed."""
    load(cli, home)
    engine = open_engine(db_url)
    try:
        plan = plan_run(engine, load_settings(), RunRequest("SM02", None))
        result = cli("ledger", "import", "-", "--date", "2026-11-30", input=LEDGER.encode())
        assert result.exit_code == 0, result.output
        options = SendOptions(
            "SM02", plan.statement_date, ledger_date=plan.ledger_date, snapshot_at=plan.snapshot_at
        )
        runner = SendRunner(engine, plan.company, options, no_transport)
        with pytest.raises(DataError) as refused:
            runner.run(plan.candidates, "memoria")
    finally:
        engine.dispose()
    assert refused.value.message.startswith(
        "Las partidas abiertas de SM02 se importaron de nuevo el "
    )
    assert refused.value.message.endswith(
        ", después de preparar el envío; no se envió nada. Vuelva a ejecutar «rotomail send» "
        "para enviar las nuevas."
    )
    assert cli("history", "--format", "json").stdout.strip() == "[]"

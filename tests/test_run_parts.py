"""The parts of a send run, each alone: stop signals, the run's records, closing dead runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import Engine, select, text

from rotomail.delivery.candidates import Candidate
from rotomail.delivery.liveness import HOST, close_dead_runs
from rotomail.delivery.records import RunRecords
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.delivery.stopping import RunStopped, StopSignals
from rotomail.store.db import open_engine
from rotomail.store.history import list_runs
from rotomail.store.models import Delivery, SendRun

OPTIONS = SendOptions(sociedad="SM02", statement_date=date(2026, 11, 30), operator="prueba")
CANDIDATES = [
    Candidate("SM02", c, f"Cliente {c}", "", (f"cxc{c}@cliente.example.mx",))
    for c in ("1001", "1002", "1003")
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def statuses(engine: Engine, run_id: int) -> dict[str, tuple[str, str]]:
    table = Delivery.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.cliente, table.c.status, table.c.detail).where(table.c.run_id == run_id)
        )
        return {r.cliente: (r.status, r.detail) for r in rows}


def test_sigterm_is_raised_where_the_run_waits_and_deferred_in_a_transaction() -> None:
    with StopSignals(), pytest.raises(RunStopped) as stopped:
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(1000))  # the handler runs between bytecodes, here
    assert (stopped.value.exit_code, stopped.value.reason) == (143, "la corrida recibió SIGTERM")
    with StopSignals() as stop:
        with stop.critical():
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # the handler runs here, and only notes the request
        assert stop.requested == signal.SIGINT
        with pytest.raises(RunStopped) as stopped:
            stop.check()
        assert stopped.value.exit_code == 130
        stop.settle()
        os.kill(os.getpid(), signal.SIGTERM)  # closing: noted, never raised
        stop.check()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_run_records_start_record_finish(engine: Engine) -> None:
    records = RunRecords(engine, OPTIONS)
    run_id = records.start(CANDIDATES, "smtp prueba")
    assert set(statuses(engine, run_id).values()) == {("pending", "")}
    with records.sending():
        records.record(Outcome("1001", "Cliente 1001", ("a@cliente.example.mx",), "sent", "250"))
    report = RunReport(run_id, OPTIONS, "smtp prueba", datetime.now())
    report.outcomes.append(Outcome("1001", "", (), "sent"))
    report.interrupt_code = 143
    records.finish(report)
    assert statuses(engine, run_id)["1001"] == ("sent", "250")
    [run] = [r for r in list_runs(engine) if r.id == run_id]
    assert (run.status, run.sent, run.pending) == ("interrupted", 1, 2)


def test_a_run_whose_process_is_gone_is_closed_as_interrupted(engine: Engine) -> None:
    records = RunRecords(engine, OPTIONS)
    run_id = records.start(CANDIDATES, "smtp prueba")
    records.record(Outcome("1001", "", (), "sent"))
    records.record(Outcome("1002", "", (), "in_flight"))
    assert close_dead_runs(engine) == []  # this process is alive
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    table = SendRun.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.id == run_id).values(host=HOST, pid=child.pid)
        )
    assert close_dead_runs(engine) == [run_id]
    assert statuses(engine, run_id) == {
        "1001": ("sent", ""),
        "1002": ("uncertain", "incierto: la corrida se interrumpió tras DATA"),
        "1003": ("pending", "no se intentó: la corrida se interrumpió"),
    }
    with engine.connect() as connection:
        status = connection.execute(text(f"SELECT status FROM send_run WHERE id = {run_id}"))
        assert status.scalar() == "interrupted"

"""Signals at a terminal: an interactive ``rotomail send`` in a real pseudo-terminal under an
interactive bash (job control), the checklist confirmed, then Ctrl-Z and ``fg`` during the
run; the screen read back with pyte. Real processes, an aiosmtpd sink."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from sink_server import Sink, seed, statements_by_cliente
from test_terminal_checklist import CTRL_C, ENTER, ROTOMAIL, Terminal

from tests.conftest import Cli

pytestmark = pytest.mark.slow

CTRL_Z = "\x1a"
PROMPT = "listo> "


def smtp_env(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    for name, value in {
        "ROTOMAIL_SMTP_HOST": "127.0.0.1",
        "ROTOMAIL_SMTP_PORT": str(port),
        "ROTOMAIL_SMTP_SECURITY": "none",
        "ROTOMAIL_SMTP_RATE_PER_MINUTE": "0",
        "ROTOMAIL_SMTP_RETRY_WAIT": "0.05",
        "ROTOMAIL_OPERATOR_EMAIL": "operador@example.mx",
    }.items():
        monkeypatch.setenv(name, value)


def shell() -> Terminal:
    """An interactive bash at 80x24 with a prompt of its own."""
    term = Terminal("bash", ["--norc", "--noprofile", "-i"])
    term.send(f"PS1='{PROMPT}'{ENTER}")
    term.wait_for(PROMPT)
    return term


def test_ctrl_z_and_fg_during_an_interactive_send_runs_to_the_end(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 200)
    with Sink(tmp_path / "sink.jsonl", delay=0.04) as sink:
        smtp_env(monkeypatch, sink.port)
        term = shell()
        term.send(f"{ROTOMAIL} send --sociedad SM02{ENTER}")
        screen = term.wait_for(lambda text: "200 de 200 seleccionados" in text)
        assert "fecha de corte 30/11/2026" in screen  # the snapshot's date, no --date given
        term.send(ENTER)
        screen = term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e" in text)
        assert "Fecha de corte: 30/11/2026" in screen
        time.sleep(0.4)
        term.send("e")
        assert sink.wait_for("accepted", 20, 60), term.text()
        term.send(CTRL_Z)
        term.wait_for(lambda text: "Stopped" in text or "Detenido" in text)
        stopped_at = sink.events["accepted"]
        time.sleep(1.0)
        assert sink.events["accepted"] <= stopped_at + 1  # really stopped (one may be landing)
        term.send(f"fg{ENTER}")
        term.wait_for(lambda text: "Registro enviado a operador@example.mx." in text, timeout=120)
        term.send(f"echo SALIDA=$?{ENTER}")
        term.wait_for("SALIDA=")
        records = sink.records()
        term.send(f"exit{ENTER}")
        _status, output = term.finish()
    assert "SALIDA=0" in output, output[-3000:]
    assert "Traceback" not in output and "RuntimeError" not in output, output[-3000:]
    assert stopped_at < 200
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)
    history = cli("history", "--format", "json")
    assert '"estado": "terminada"' in history.stdout, history.stdout


def test_a_closed_terminal_during_the_run_lets_it_finish(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 60)
    with Sink(tmp_path / "sink.jsonl", delay=0.04) as sink:
        smtp_env(monkeypatch, sink.port)
        term = Terminal(ROTOMAIL, ["send", "--sociedad", "SM02"])
        term.wait_for(lambda text: "60 de 60 seleccionados" in text)
        term.send(ENTER)
        term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e" in text)
        time.sleep(0.4)
        term.send("e")
        assert sink.wait_for("accepted", 5, 60), term.text()
        os.close(term.child.child_fd)  # the terminal window closed: SIGHUP, then EIO on writes
        status = term.child.wait()
        records = sink.records()
    assert status == 0
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)
    assert any(r["subject"].startswith("Log ") for r in records)  # the operator's log, too
    history = cli("history", "--format", "json")
    assert '"estado": "terminada"' in history.stdout, history.stdout


def test_ctrl_c_during_an_interactive_send_stops_within_a_second_and_only_counts(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(cli, home, 400)
    with Sink(tmp_path / "sink.jsonl", delay=0.04) as sink:
        smtp_env(monkeypatch, sink.port)
        term = Terminal(ROTOMAIL, ["send", "--sociedad", "SM02"], cols=120, rows=40)
        term.wait_for(lambda text: "400 de 400 seleccionados" in text)
        term.send(ENTER)
        term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e" in text)
        time.sleep(0.4)
        term.send("e")
        assert sink.wait_for("accepted", 10, 60), term.text()
        began = time.monotonic()
        term.send(CTRL_C, pause=0)
        term.wait_for("Error: corrida 1 interrumpida: la corrida se canceló con Ctrl-C")
        took = time.monotonic() - began
        status, output = term.finish()
    assert status == 130, output[-3000:]
    assert took < 3, f"{took:.1f} s from Ctrl-C to the last line"  # ~0.5 s on an idle machine
    assert "Traceback" not in output
    assert ": pendiente - " not in output  # counted, not listed
    assert re.search(r"\d+ pendientes \(el registro los lista todos\)", output), output[-6000:]
    assert re.search(r"Pendientes\s*│\s*\d{3}", term.text()), term.text()

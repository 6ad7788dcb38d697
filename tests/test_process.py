"""The run as a process among others: PID reuse, orphaned workers, signals, closed output.

Real ``rotomail send`` processes against an aiosmtpd sink (tests/sink_server.py), on SQLite
and on PostgreSQL when ROTOMAIL_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sink_server import (
    LOG_SUBJECT_PREFIX,
    OPERATOR_EMAIL,
    Sink,
    group_members,
    kill_group,
    outcome_lines,
    rotomail_env,
    run,
    run_id_of,
    seed,
    send_args,
    start,
    statements_by_cliente,
)

from rotomail.delivery.liveness import process_alive, process_start, this_process
from rotomail.delivery.rendering import init_worker
from tests.conftest import Cli

pytestmark = pytest.mark.slow


def history(cli: Cli, *args: str) -> list[dict[str, Any]]:
    result = cli("history", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def runs(cli: Cli) -> dict[int, dict[str, Any]]:
    return {row["corrida"]: row for row in history(cli)}


def by_cliente(cli: Cli, run_id: int) -> dict[str, dict[str, Any]]:
    return {row["cliente"]: row for row in history(cli, str(run_id))}


def wait_group_gone(pgid: int, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def wait_for(sink: Sink, kind: str, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not sink.wait_for(kind, count, 0.05):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {kind} #{count}"


# --- liveness ----------------------------------------------------------------------------


def test_liveness_rule_same_pid_other_start_time_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = process_start(child.pid)
        assert started
        assert process_alive(child.pid, started)
        assert process_alive(child.pid, "")  # a run recorded before start times: PID only
        boot, _, ticks = started.partition(":")
        assert not process_alive(child.pid, f"{boot}:{int(ticks) + 1}")  # PID reused
        assert not process_alive(child.pid, f"other-boot:{ticks}")  # after a reboot
    finally:
        child.kill()
        child.wait()
    assert process_start(child.pid) is None
    assert not process_alive(child.pid, started)
    pid, mine = this_process()
    assert process_alive(pid, mine)


def _unshare_works() -> str:
    if not shutil.which("unshare"):
        return "unshare(1) is not installed"
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"new PID namespaces not permitted here: {probe.stderr.decode().strip()}"
    return ""


NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc"]


@pytest.mark.skipif(bool(_unshare_works()), reason=_unshare_works() or "ok")
def test_pid_reuse_in_a_container_does_not_block_the_customer(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    """In a PID namespace the sending process has the same PID every time (1)."""
    ids = seed(cli, home, 3)
    with Sink(tmp_path / "sink.jsonl", delay=2.0) as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_SESSIONS="1")  # the first one in flight
        process = start([*NAMESPACE, *send_args()], env, tmp_path)
        wait_for(sink, "data", 1, process)  # the first customer's content is arriving
        kill_group(process)
        process.communicate()
        sink.delay = 0
        code, out, err = run([*NAMESPACE, *send_args()], env, tmp_path)
        lines = outcome_lines(out)
        assert "en proceso" not in out, out
        assert ": incierto - incierto: la corrida 1 pudo haberlo enviado" in lines[ids[0]], out
        assert runs(cli)[1]["estado"] in ("interrupted", "interrumpida")
        code, out, err = run([*NAMESPACE, *send_args("--retry-failed", "1")], env, tmp_path)
        records = sink.records()
    assert code == 0, out + err
    assert outcome_lines(out)[ids[0]].startswith("✓"), out
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)


# --- render workers ------------------------------------------------------------------------


def test_workers_exit_when_the_sending_process_is_killed(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    seed(cli, home, 40)  # enough customers for the pool of render workers
    with Sink(tmp_path / "sink.jsonl", delay=1.0) as sink:
        process = start(send_args(), rotomail_env(sink.port), tmp_path)
        wait_for(sink, "data", 2, process)
        assert len(group_members(process.pid)) > 1  # the workers are running
        os.kill(process.pid, signal.SIGKILL)  # the sending process only, as the OOM killer does
        process.wait()
        left = wait_group_gone(process.pid)
        kill_group(process)  # orphans would hold the output pipes open
        process.communicate()
    assert left == [], f"{len(left)} render workers outlived the sending process"


def test_worker_priority_follows_render_nice() -> None:
    parent = os.nice(0)
    for nice in (0, 5):
        with ProcessPoolExecutor(
            1, initializer=init_worker, initargs=(nice, *this_process())
        ) as pool:
            assert pool.submit(os.nice, 0).result() == min(19, parent + nice)


def test_ctrl_c_to_the_process_group_stops_quietly(cli: Cli, home: Path, tmp_path: Path) -> None:
    ids = seed(cli, home, 40)
    with Sink(tmp_path / "sink.jsonl", delay=1.0) as sink:
        # One session: the first customer sent, the last never tried, is the point.
        process = start(send_args(), rotomail_env(sink.port, ROTOMAIL_SMTP_SESSIONS="1"), tmp_path)
        wait_for(sink, "accepted", 2, process)
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        sink.delay = 0
        out, err = process.communicate(timeout=10)
        assert wait_group_gone(process.pid) == []
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "la corrida se canceló con Ctrl-C" in stderr
    lines = outcome_lines(stdout)
    assert lines[ids[0]].startswith("✓")
    assert lines[ids[-1]].endswith("pendiente - no se intentó: la corrida se canceló con Ctrl-C")
    assert runs(cli)[1]["estado"] in ("interrupted", "interrumpida")
    assert list((home / "logs").glob("*_corrida1_SM02.txt"))


# --- SIGTERM -----------------------------------------------------------------------------


def test_sigterm_stops_within_seconds_like_a_kill_but_clean(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = seed(cli, home, 6)
    with Sink(tmp_path / "sink.jsonl", delay=20.0) as sink:
        # One session: which customer is sent, in flight or never tried is the point
        # (test_sessions.py stops a run of several sessions).
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_TIMEOUT="60", ROTOMAIL_SMTP_SESSIONS="1")
        process = start(send_args(), env, tmp_path)
        sink.delay = 0
        wait_for(sink, "accepted", 1, process)
        sink.delay = 20.0  # the second customer's DATA hangs on the server's answer
        wait_for(sink, "data", 2, process)
        time.sleep(0.3)
        sink.delay = 0  # the operator's copy of the log goes through at once
        began = time.monotonic()
        process.terminate()
        out, err = process.communicate(timeout=15)
        took = time.monotonic() - began
        records = sink.records()
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 143, stdout + stderr
    assert took < 5, f"took {took:.1f}s to stop"
    assert "Traceback" not in stderr, stderr
    lines = outcome_lines(stdout)
    assert lines[ids[0]].startswith("✓")
    assert "incierto - incierto: la corrida recibió SIGTERM durante DATA" in lines[ids[1]]
    for cliente in ids[2:]:
        assert lines[cliente].endswith("pendiente - no se intentó: la corrida recibió SIGTERM")
    run_row = runs(cli)[1]
    assert run_row["estado"] in ("interrupted", "interrumpida")
    assert (run_row["enviados"], run_row["inciertos"]) == (1, 1)
    recorded = by_cliente(cli, 1)
    assert [recorded[c]["estado"] for c in ids] == ["enviado", "incierto"] + ["pendiente"] * 4
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Corrida detenida: la corrida recibió SIGTERM" in log
    assert any(
        r["subject"].startswith(LOG_SUBJECT_PREFIX) and r["rcpt_tos"] == [OPERATOR_EMAIL]
        for r in records
    )


# --- closed output -------------------------------------------------------------------------


def test_closed_stdout_never_stops_the_run(cli: Cli, home: Path, tmp_path: Path) -> None:
    ids = seed(cli, home, 30)
    command = " ".join(f"'{a}'" for a in send_args())
    with Sink(tmp_path / "sink.jsonl") as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_RATE_PER_MINUTE="0")
        shell = subprocess.run(
            ["bash", "-c", f"{command} 2>err.txt | head -3; echo ${{PIPESTATUS[0]}} > rc.txt"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
            check=False,
        )
        records = sink.records()
    assert len(shell.stdout.decode().splitlines()) == 3
    assert (tmp_path / "rc.txt").read_text().strip() == "0"
    assert "Traceback" not in (tmp_path / "err.txt").read_text()
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)
    assert any(r["subject"].startswith(LOG_SUBJECT_PREFIX) for r in records)
    assert runs(cli)[1]["estado"] in ("finished", "terminada")
    assert list((home / "logs").glob("*_corrida1_SM02.txt"))


# --- history ---------------------------------------------------------------------------------


def test_history_tells_what_a_killed_run_did_and_who_sent_the_rest(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = seed(cli, home, 5)
    with Sink(tmp_path / "sink.jsonl") as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_SESSIONS="1")  # counts per customer in order
        process = start(send_args(), env, tmp_path)
        wait_for(sink, "accepted", 2, process)
        sink.delay = 30.0
        wait_for(sink, "data", 3, process)
        kill_group(process)
        process.communicate()
        sink.delay = 0
        # While nothing else has looked: the killed run already shows what it did.
        first = runs(cli)[1]
        assert first["estado"] in ("interrupted", "interrumpida")
        assert (first["enviados"], first["inciertos"]) == (2, 1)
        _, out, _ = run(send_args(), env, tmp_path)
        second = run_id_of(out)
        records = sink.records()
    assert second == 2
    killed = by_cliente(cli, 1)
    for cliente in ids[3:]:
        assert killed[cliente]["estado"] == "pendiente"
        assert killed[cliente]["detalle"] == (
            "no se intentó: la corrida se interrumpió; enviado después en la corrida 2"
        )
    statements = history(cli, "--sociedad", "SM02", "--cliente", ids[4])
    received = [r for r in records if r["attachment"].startswith(ids[4])]
    assert [(s["corrida"], s["estado"], s["message_id"]) for s in statements] == [
        (2, "enviado", received[0]["message_id"])
    ]
    assert statements[0]["correos"] == ";".join(received[0]["rcpt_tos"])
    assert statements[0]["respuesta"].startswith("250")


# --- channels ----------------------------------------------------------------------------


def test_the_outbox_never_blocks_the_real_send(cli: Cli, home: Path, tmp_path: Path) -> None:
    ids = seed(cli, home, 2)
    saved = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")  # no SMTP host
    assert saved.exit_code == 0, saved.output
    assert list((home / "outbox" / "corrida-1").glob("*.eml"))
    with Sink(tmp_path / "sink.jsonl") as sink:
        code, out, err = run(send_args(), rotomail_env(sink.port), tmp_path)
        assert code == 0, out + err
        assert all(outcome_lines(out)[c].startswith("✓") for c in ids), out
        code, out, err = run(send_args(), rotomail_env(sink.port), tmp_path)
        records = sink.records()
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)
    assert "ya enviado para esta fecha (corrida 2)" in outcome_lines(out)[ids[0]]
    again = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")
    assert "ya enviado para esta fecha (corrida 1)" in again.stdout

"""Exactly once under kill -9: real ``rotomail send`` processes, SIGKILLed at random points.

The proof is taken from what the SMTP server accepted (tests/sink_server.py writes one
fsynced JSON line per message before its 250 reply), not from rotomail's own records:

* no customer received two statements;
* none was lost: each received exactly one, or is reported "incierto" by the final run;
* each customer reported "incierto" was really in flight (its run recorded it "en curso",
  or "incierto" once a later run closed the killed one, and never finished), received at
  most once, and not resent;
* no process of a killed run outlives it: only the sending process is killed (as the OOM
  killer or ``kill -9 PID`` does), and its render workers must be gone within seconds
  (psutil: every descendant seen just before the kill, and its process group).

The runs send over ``SESSIONS`` SMTP sessions at once, so a kill lands with several
customers in different states (rendering, RCPT, claimed, mid-DATA). Waits are generous:
the machine running the suite is often heavily loaded.

Runs on SQLite, and on PostgreSQL when ROTOMAIL_TEST_DATABASE_URL is set (``db_url``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest
from sink_server import (
    Sink,
    addresses,
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

from tests.conftest import Cli

pytestmark = pytest.mark.slow

# A failure names its seed; ROTOMAIL_CRASH_SEED=<n> replays it (or explores other schedules).
SEED = int(os.environ.get("ROTOMAIL_CRASH_SEED", "20261130"))
CUSTOMERS = 100  # four sessions leave up to four customers in flight at each kill
KILLS = 20
SESSIONS = "4"  # smtp.sessions of the killed runs and the reruns
EVENT_TIMEOUT = 90.0  # seconds for the sink to see the event a kill waits for (load 5+)
WORKERS_GONE = 20.0  # seconds for a killed run's render workers to notice and exit
DATA_DELAY = 0.2  # the sink's answer to DATA: kills land mid-DATA
RCPT_DELAY = 0.05  # the sink's answer to RCPT: kills land between claim and DATA
UNCERTAIN_RUN = re.compile(r"la corrida (\d+) pudo haberlo enviado")
SENT_RUN = re.compile(r"ya enviado para esta fecha \(corrida (\d+)\)")


def history(cli: Cli, run_id: int | None = None) -> list[dict[str, Any]]:
    args = ["history", "--format", "json"] + ([str(run_id)] if run_id else [])
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_cliente(cli: Cli, run_id: int) -> dict[str, dict[str, Any]]:
    return {row["cliente"]: row for row in history(cli, run_id)}


def wait_event_or_exit(
    sink: Sink,
    kind: str,
    count: int,
    process: subprocess.Popen[bytes],
    timeout: float = EVENT_TIMEOUT,
) -> bool:
    """True once the sink saw ``count`` events of ``kind``; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sink.wait_for(kind, count, 0.02):
            return True
        if process.poll() is not None:
            return False
    raise AssertionError(f"no {kind} #{count} within {timeout}s")


def descendants(pid: int) -> list[psutil.Process]:
    """The processes ``pid`` started (render workers and theirs), as psutil sees them now."""
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).children(recursive=True)
    return []


def kill_main_process(process: subprocess.Popen[bytes], leftovers: list[str]) -> None:
    """SIGKILL the sending process only; its workers must follow it within
    ``WORKERS_GONE`` seconds: none of the descendants seen just before the kill, nor any
    member of its process group, may outlive it (orphans reparented to init included)."""
    children = descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    _, alive = psutil.wait_procs(children, timeout=WORKERS_GONE)
    deadline = time.monotonic() + WORKERS_GONE
    while (left := group_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = [p.pid for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    if left or orphans:
        leftovers.append(
            f"run process {process.pid}: {len(set(left) | set(orphans))} processes still "
            f"alive {WORKERS_GONE:g}s after it was killed"
        )
    kill_group(process)  # orphans would hold the output pipes open
    for orphan in alive:
        with contextlib.suppress(psutil.Error):
            orphan.kill()
    process.communicate()


def kill_at_random_point(
    sink: Sink, env: dict[str, str], cwd: Path, rng: random.Random, leftovers: list[str]
) -> tuple[str, bool]:
    """Start a send and SIGKILL it at a point drawn from ``rng``; (where, killed)."""
    how = rng.choice(["time", "rcpt", "data", "data", "data"])
    nth = rng.choice([1, 2, 4, 8, 16])  # early or well into a run of four sessions
    events = dict(sink.events)
    process = start(send_args(), env, cwd)
    if how == "time":  # anywhere: start-up, preflight, rendering, claims, SMTP
        seconds = rng.uniform(0.05, 4.0)
        where = f"after {seconds:.2f}s"
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=seconds)
    else:
        kind, pause = ("rcpt", RCPT_DELAY) if how == "rcpt" else ("data", DATA_DELAY)
        extra = rng.uniform(0, pause)
        where = f"{extra:.2f}s into {kind.upper()} #{nth}"
        if wait_event_or_exit(sink, kind, events.get(kind, 0) + nth, process):
            time.sleep(extra)
    killed = process.poll() is None
    kill_main_process(process, leftovers)
    return where, killed


def test_sigkill_at_random_points_then_rerun(cli: Cli, home: Path, tmp_path: Path) -> None:
    began = time.monotonic()
    ids = seed(cli, home, CUSTOMERS)
    rng = random.Random(SEED)
    kills: list[str] = []
    leftovers: list[str] = []
    with Sink(tmp_path / "sink.jsonl", delay=DATA_DELAY, rcpt_delay=RCPT_DELAY) as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_SESSIONS=SESSIONS)
        for _ in range(KILLS * 2):  # draws end with the process done, more so on a quiet machine
            if len(kills) >= KILLS:
                break
            where, killed = kill_at_random_point(sink, env, tmp_path, rng, leftovers)
            if killed:
                kills.append(where)
        assert len(kills) >= KILLS, f"only {len(kills)} kills landed (seed {SEED}): {kills}"

        # Then run to completion: until exit 0, or only "incierto" customers are left.
        # A rerun that changes nothing ends it too.
        sink.delay = sink.rcpt_delay = 0
        previous: list[str] = []
        for _ in range(3):
            code, out, err = run(send_args(), env, tmp_path)
            final_lines = outcome_lines(out)
            final_run = run_id_of(out)
            assert final_run is not None, out + err
            open_ = sorted(
                c
                for c, line in final_lines.items()
                if not line.startswith("✓") and "ya enviado" not in line
            )
            if (
                code == 0
                or open_ == previous
                or all(": incierto - " in final_lines[c] for c in open_)
            ):
                break
            previous = open_
        records = sink.records()

    final = by_cliente(cli, final_run)
    runs = {row["corrida"]: row for row in history(cli)}
    counts = statements_by_cliente(records)
    uncertain = {c for c, row in final.items() if row["estado"] == "incierto"}
    problems: list[str] = list(leftovers)

    # What arrived: statements for our customers only, each to that customer's addresses.
    for record in records:
        if record["subject"].startswith("Log "):
            continue
        cliente = record["attachment"].split("_", 1)[0]
        if cliente not in ids:
            problems.append(f"unexpected statement {record}")
        elif record["rcpt_tos"] != addresses(cliente):
            problems.append(f"{cliente}: sent to {record['rcpt_tos']}")
    per_address = Counter(
        a for r in records if not r["subject"].startswith("Log ") for a in r["rcpt_tos"]
    )
    problems += [f"{a} received {n} statements" for a, n in per_address.items() if n > 1]

    # No double send.
    problems += [f"{c}: received {n} statements" for c, n in counts.items() if n > 1]

    received = {
        r["attachment"].split("_", 1)[0]: r for r in records if not r["subject"].startswith("Log ")
    }
    for cliente in ids:
        row = final.get(cliente)
        line = final_lines.get(cliente, "(no line in the final run's output)")
        if row is None:
            problems.append(f"{cliente}: not in the final run {final_run}: {line}")
            continue
        if cliente in uncertain:
            # Really in flight: its run recorded DATA as sent and never finished.
            match = UNCERTAIN_RUN.search(row["detalle"])
            if not match:
                problems.append(f"{cliente}: uncertain without naming its run: {row['detalle']}")
                continue
            owner = int(match.group(1))
            owned = by_cliente(cli, owner).get(cliente, {})
            # The killed run is closed as "interrupted" by the next run, its in-flight
            # customer marked "incierto"; it never finished on its own.
            if owned.get("estado") not in ("en curso", "incierto"):
                problems.append(
                    f"{cliente}: uncertain, but run {owner} has it {owned.get('estado')}"
                )
            if runs.get(owner, {}).get("estado") not in (None, "en curso", "interrumpida"):
                problems.append(f"{cliente}: uncertain, but run {owner} finished")
            if counts[cliente] == 1 and received[cliente]["message_id"] != owned.get("message_id"):
                problems.append(f"{cliente}: the message received is not the one in flight")
            continue
        if counts[cliente] != 1:
            problems.append(f"{cliente}: LOST: received {counts[cliente]}, final run says: {line}")
            continue
        # Sent exactly once: the run that claims it sent it recorded the same message.
        if row["estado"] == "enviado":
            sender = final_run
        else:
            match = SENT_RUN.search(row["detalle"])
            if row["estado"] != "omitido" or not match:
                problems.append(f"{cliente}: received once, but the final run says: {line}")
                continue
            sender = int(match.group(1))
        recorded = by_cliente(cli, sender).get(cliente, {})
        if recorded.get("estado") != "enviado" or (
            recorded.get("message_id") != received[cliente]["message_id"]
        ):
            problems.append(
                f"{cliente}: run {sender} recorded {recorded}, received {received[cliente]}"
            )

    zero = sorted(c for c in uncertain if counts[c] == 0)
    print(
        f"\ncrash test (seed {SEED}, {CUSTOMERS} customers): {len(kills)} SIGKILLs "
        f"({sum('DATA' in k for k in kills)} at DATA, {sum('RCPT' in k for k in kills)} at RCPT, "
        f"{sum(k.startswith('after') for k in kills)} at a random time); "
        f"{sum(1 for c in ids if counts[c] == 1 and c not in uncertain)} sent exactly once, "
        f"{len(uncertain)} reported incierto ({len(zero)} never arrived, "
        f"{len(uncertain) - len(zero)} arrived once); final run {final_run} exit {code}; "
        f"{time.monotonic() - began:.1f}s"
    )
    assert not problems, f"seed {SEED}, kills: {kills}\n" + "\n".join(problems)


def test_kill_mid_data_is_uncertain_and_not_resent(cli: Cli, home: Path, tmp_path: Path) -> None:
    """Deterministic: SIGKILL while the server holds its answer to DATA. One session: that
    the first customer is the one in flight, the others not yet tried, is the point."""
    ids = seed(cli, home, 3)
    with Sink(tmp_path / "sink.jsonl", delay=1.0) as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_SESSIONS="1")
        process = start(send_args(), env, tmp_path)
        assert wait_event_or_exit(sink, "accepted", 1, process)  # recorded, 250 not yet sent
        kill_group(process)
        process.communicate()
        sink.delay = 0
        code, out, _ = run(send_args(), env, tmp_path)
        lines = outcome_lines(out)
        records = sink.records()
    assert code == 1, out
    assert ": incierto - incierto: la corrida 1 pudo haberlo enviado" in lines[ids[0]]
    assert all(lines[c].startswith("✓") for c in ids[1:]), out
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)


def test_kill_after_claim_before_data_is_not_lost(cli: Cli, home: Path, tmp_path: Path) -> None:
    """Deterministic: SIGKILL during RCPT, before DATA (before the claim is taken).

    Nothing can have been delivered, so running the same send again must deliver it (or
    at least not report success while it is still undelivered).
    """
    ids = seed(cli, home, 3)
    with Sink(tmp_path / "sink.jsonl", rcpt_delay=2.0) as sink:
        env = rotomail_env(sink.port)
        process = start(send_args(), env, tmp_path)
        assert wait_event_or_exit(sink, "rcpt", 1, process)  # in the SMTP transaction, before DATA
        kill_group(process)
        process.communicate()
        sink.rcpt_delay = 0
        code, out, _ = run(send_args(), env, tmp_path)
        records = sink.records()
    counts = statements_by_cliente(records)
    delivered = all(counts[c] == 1 for c in ids)
    assert code != 0 or delivered, (
        f"rerun exited 0 but {ids[0]} never received its statement:\n{outcome_lines(out)[ids[0]]}"
    )
    assert delivered, f"received {dict(counts)}; rerun said:\n{out}"

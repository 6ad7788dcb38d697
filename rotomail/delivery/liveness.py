"""Is a run still alive? The process that started it, identified beyond its PID.

A PID alone is not an identity: in a container (a PID namespace) the sending process has
the same PID every time, and on a long-lived host PIDs wrap around. A run records its host,
its PID and the process's start time (``/proc/<pid>/stat`` field 22, with the boot id so a
reboot never matches). On the same host it is alive only while a process with that PID and
that start time exists; on another host (runs sharing a PostgreSQL database), while its
heartbeat is recent. The next command that looks closes a dead run as interrupted.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from rotomail.store import runs
from rotomail.store.db import DatabaseFault
from rotomail.words import RunStatus

HEARTBEAT_EVERY = timedelta(seconds=20)
HEARTBEAT_STALE = timedelta(seconds=90)
HOST = socket.gethostname()[:255]
_PROC = Path("/proc")


@cache
def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """``<boot id>:<start time in clock ticks>`` of process ``pid``; None when there is no
    such process; "" when this system cannot tell (no /proc, or /proc hides it)."""
    if pid <= 0:
        return None
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        # Gone, or not shown: no /proc at all, or /proc mounted with hidepid=2 (systemd's
        # ProtectProc=invisible) hides other users' processes. The signal tells them apart.
        return _exists_by_signal(pid)
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rpartition(")")[2].split()
    if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent: gone all the same
        return None
    return f"{_boot_id()}:{fields[19]}"


def _exists_by_signal(pid: int) -> str | None:
    """None when there is no process ``pid``; "" when there is (its start cannot be told)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return ""
    return ""


def this_process() -> tuple[int, str]:
    pid = os.getpid()
    return pid, process_start(pid) or ""


def process_alive(pid: int, started: str) -> bool:
    """True while the process recorded as (``pid``, ``started``) lives on this host.

    A process with the same PID but another start time is another process: the run is dead.
    """
    current = process_start(pid)
    if current is None:
        return False
    return not (started and current and started != current)


def run_alive(connection: Connection, run_id: int) -> bool:
    row = runs.run_process(connection, run_id)
    if row is None or row.status != RunStatus.RUNNING:
        return False
    if row.host == HOST:
        return process_alive(row.pid, row.process_start)
    return row.heartbeat_at is not None and datetime.now() - row.heartbeat_at < HEARTBEAT_STALE


def runs_under_way(connection: Connection) -> list[str]:
    """The runs alive now, described (``corrida 12 de SM02, iniciada 06/12/2026 02:00:05``):
    what a ledger import waits for."""
    described = []
    for run_id in runs.running_runs(connection):
        row = runs.run_process(connection, run_id)
        if row is not None and run_alive(connection, run_id):
            since = f"{row.started_at:%d/%m/%Y %H:%M:%S}"
            described.append(f"corrida {run_id} de {row.sociedad}, iniciada {since}")
    return described


def close_dead_runs(engine: Engine) -> list[int]:
    """Mark runs whose process is gone as interrupted, their in-flight customers uncertain
    and the customers they never reached as not attempted; returns their ids."""
    with engine.begin() as connection:
        dead = [r for r in runs.running_runs(connection) if not run_alive(connection, r)]
        if not dead:
            return []
        runs.interrupt_runs(
            connection,
            dead,
            in_flight_detail="incierto: la corrida se interrumpió tras DATA",
            pending_detail="no se intentó: la corrida se interrumpió",
        )
    return dead


class Heartbeat:
    """Refreshes the run's heartbeat while it runs, so other hosts see it alive."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id = engine, run_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_EVERY.total_seconds()):
            try:
                with self.engine.begin() as connection:
                    runs.update_run(connection, self.run_id, {"heartbeat_at": datetime.now()})
            except (SQLAlchemyError, DatabaseFault):  # a busy or lost database: the next beat
                pass

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()

"""Is a run still alive (rotomail.delivery.liveness): the process beyond its PID on this
host, the heartbeat for a run on another host, what a ledger import is told it waits for,
and which runs the next command closes as interrupted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, select

from rotomail.delivery import liveness
from rotomail.delivery.candidates import Candidate
from rotomail.delivery.liveness import (
    HEARTBEAT_STALE,
    HOST,
    Heartbeat,
    close_dead_runs,
    process_alive,
    process_start,
    run_alive,
    runs_under_way,
    this_process,
)
from rotomail.delivery.records import RunRecords
from rotomail.delivery.report import SendOptions
from rotomail.store.db import open_engine
from rotomail.store.models import SendRun

OPTIONS = SendOptions(sociedad="SM02", statement_date=date(2026, 11, 30), operator="prueba")
CANDIDATES = [Candidate("SM02", "1001", "Cliente 1001", "", ("cxc@cliente.example.mx",))]
RUN = SendRun.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def start_run(engine: Engine) -> int:
    return RunRecords(engine, OPTIONS).start(CANDIDATES, "smtp prueba")


def set_run(engine: Engine, run_id: int, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(RUN.update().where(RUN.c.id == run_id).values(**values))


def alive(engine: Engine, run_id: int) -> bool:
    with engine.connect() as connection:
        return run_alive(connection, run_id)


def status(engine: Engine, run_id: int) -> str:
    with engine.connect() as connection:
        return str(connection.execute(select(RUN.c.status).where(RUN.c.id == run_id)).scalar())


def gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def fresh_boot_id() -> Iterator[None]:
    liveness._boot_id.cache_clear()
    yield
    liveness._boot_id.cache_clear()


def test_a_process_is_its_boot_and_its_start_time(fresh_boot_id: None) -> None:
    with open("/proc/sys/kernel/random/boot_id") as boot:
        assert liveness._boot_id() == boot.read().strip()
    started = process_start(os.getpid())
    assert started is not None and re.fullmatch(r"[0-9a-f-]*:\d+", started)
    assert started.split(":")[0] == liveness._boot_id()
    assert this_process() == (os.getpid(), started)
    assert process_start(1) not in (None, started)  # init started long before


def test_without_proc_a_process_is_asked_by_signal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_boot_id: None,
    child: subprocess.Popen[bytes],
) -> None:
    """A system without /proc: a live process is there but its start cannot be told ("");
    one that ended is gone; no boot id. Asking (signal 0) leaves the process running."""
    monkeypatch.setattr(liveness, "_PROC", tmp_path / "no-proc")
    assert liveness._boot_id() == ""
    assert process_start(child.pid) == ""
    assert process_alive(child.pid, "boot:123")  # cannot tell: alive
    time.sleep(0.2)
    assert child.poll() is None
    assert process_start(gone_pid()) is None
    assert not process_alive(gone_pid(), "")
    assert this_process() == (os.getpid(), "")  # recorded so: no start time to compare


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that any signal but 0 would end (it takes every default action)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time\n"
            "for s in signal.valid_signals():\n"
            "    try: signal.signal(s, signal.SIG_DFL)\n"
            "    except (OSError, ValueError): pass\n"
            "print('listo', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdout.readline() == b"listo\n"
    yield process
    process.kill()
    process.wait()


def test_a_process_proc_does_not_show_is_asked_by_signal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_boot_id: None,
    child: subprocess.Popen[bytes],
) -> None:
    """/proc mounted with hidepid=2 (systemd's ProtectProc=invisible) hides the processes of
    other users: a run another operator started on this host is not taken for dead (and
    closed while it sends) because /proc does not list it. Asking leaves it untouched."""
    monkeypatch.setattr(liveness, "_PROC", fake_proc(tmp_path, 4321, "S", 4242))
    assert process_start(child.pid) == ""
    assert process_alive(child.pid, "otro-arranque:1234")
    time.sleep(0.2)
    assert child.poll() is None  # asked with signal 0: not signalled
    assert process_start(gone_pid()) is None


NO_PROC = Path("/nonexistent/proc")  # not there for any user (tmp_path is root's alone)


@pytest.mark.skipif(
    NO_PROC.exists() or (os.geteuid() != 0 and psutil.Process(1).uids().real == os.getuid()),
    reason="needs a process of another user",
)
def test_a_process_of_another_user_is_there_without_proc(
    monkeypatch: pytest.MonkeyPatch, child: subprocess.Popen[bytes]
) -> None:
    """Signal 0 to another user's process is refused (EPERM): it exists, its start cannot
    be told, so its run is alive. As root the question is asked about a process of root
    from a child that has become the user "nobody"."""
    monkeypatch.setattr(liveness, "_PROC", NO_PROC)
    target = child.pid if os.geteuid() == 0 else 1
    assert process_start(target) == ""  # there, as its own user (or root) sees it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into pytest
        try:
            if os.geteuid() == 0:
                os.setuid(65534)
            answer = repr((process_start(target), process_alive(target, "arranque:1")))
            os.write(write, answer.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == repr(("", True))
    assert child.poll() is None


def test_an_unreadable_proc_cannot_tell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_folder = tmp_path / "proc"
    not_a_folder.write_text("")
    monkeypatch.setattr(liveness, "_PROC", not_a_folder)
    assert process_start(os.getpid()) == ""


@pytest.mark.parametrize("proc", ["real", "none"])
@pytest.mark.parametrize("pid", [0, -1])
def test_no_pid_is_no_process(
    pid: int, proc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run recorded without a PID (0) is no process, also on a system without /proc,
    where asking "kill(0, 0)" or "kill(-1, 0)" would answer for a whole group of processes."""
    if proc == "none":
        monkeypatch.setattr(liveness, "_PROC", tmp_path / "no-proc")
    assert process_start(pid) is None
    assert not process_alive(pid, "")


def fake_proc(tmp_path: Path, pid: int, state: str, ticks: int) -> Path:
    """A /proc holding ``pid`` in ``state`` (``/proc/<pid>/stat`` as the kernel writes it:
    the state is field 3, the start time field 22)."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "sys/kernel/random").mkdir(parents=True)
    (proc / "sys/kernel/random/boot_id").write_text("arranque-1\n")
    (proc / str(pid)).mkdir()
    fields = [state, "1", str(pid), str(pid), *["0"] * 15, str(ticks), "4096", "100"]
    (proc / str(pid) / "stat").write_text(f"{pid} (rotomail send) {' '.join(fields)}\n")
    return proc


@pytest.mark.parametrize(
    ("state", "started"),
    [
        ("R", "arranque-1:4242"),  # running
        ("S", "arranque-1:4242"),  # sleeping (waiting for the SMTP server)
        ("D", "arranque-1:4242"),  # in uninterruptible disk sleep
        ("T", "arranque-1:4242"),  # stopped (Ctrl-Z): it may be resumed
        ("t", "arranque-1:4242"),  # stopped by a debugger
        ("I", "arranque-1:4242"),  # idle
        ("Z", None),  # zombie: exited, not yet reaped
        ("X", None),  # dead
    ],
)
def test_a_process_is_gone_when_proc_says_zombie_or_dead(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_boot_id: None,
    state: str,
    started: str | None,
) -> None:
    monkeypatch.setattr(liveness, "_PROC", fake_proc(tmp_path, 4321, state, 4242))
    assert process_start(4321) == started
    assert process_alive(4321, "arranque-1:4242") is (started is not None)


def test_a_process_that_ended_is_gone_reaped_or_not() -> None:
    assert process_start(gone_pid()) is None
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # exited, not yet waited for: a zombie
        with open(f"/proc/{zombie.pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] == "Z":
                break
        time.sleep(0.05)
    assert process_start(zombie.pid) is None
    assert not process_alive(zombie.pid, "")
    zombie.wait()


def test_the_same_pid_with_another_start_time_is_another_process() -> None:
    pid, started = this_process()
    assert process_alive(pid, started)
    assert process_alive(pid, "")  # recorded where the start could not be told
    assert not process_alive(pid, started + "0")
    assert not process_alive(gone_pid(), started)


def test_a_run_on_this_host_lives_while_its_process_does(engine: Engine) -> None:
    run_id = start_run(engine)
    assert alive(engine, run_id)
    pid, started = this_process()
    set_run(engine, run_id, host=HOST, pid=pid, process_start="other-boot:1")
    assert not alive(engine, run_id)
    set_run(engine, run_id, pid=gone_pid(), process_start=started)
    assert not alive(engine, run_id)


def test_a_run_on_another_host_lives_while_its_heartbeat_is_recent(engine: Engine) -> None:
    run_id = start_run(engine)
    set_run(engine, run_id, host="otro-servidor", heartbeat_at=datetime.now())
    assert alive(engine, run_id)
    stale = datetime.now() - HEARTBEAT_STALE - timedelta(seconds=1)
    set_run(engine, run_id, heartbeat_at=stale)
    assert not alive(engine, run_id)
    set_run(engine, run_id, heartbeat_at=None)
    assert not alive(engine, run_id)


class FrozenClock(datetime):
    """The clock ``run_alive`` reads, stopped at ``AT`` so a heartbeat's age is exact."""

    AT = datetime(2026, 12, 6, 2, 0, 0)  # what now() answers

    @classmethod
    def now(cls, tz: Any = None) -> FrozenClock:
        return cls(2026, 12, 6, 2, 0, 0)


@pytest.mark.parametrize(
    ("age", "is_alive"),
    [
        (timedelta(0), True),
        (timedelta(seconds=-30), True),  # the other host's clock a little ahead
        (timedelta(seconds=20), True),  # one beat missed
        (HEARTBEAT_STALE - timedelta(microseconds=1), True),
        (HEARTBEAT_STALE, False),  # exactly 90 s without a beat: stale
        (HEARTBEAT_STALE + timedelta(microseconds=1), False),
        (timedelta(hours=1), False),
    ],
)
def test_a_run_on_another_host_is_stale_from_90_seconds_without_a_beat(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, age: timedelta, is_alive: bool
) -> None:
    run_id = start_run(engine)
    set_run(engine, run_id, host="otro-servidor", heartbeat_at=FrozenClock.AT - age)
    monkeypatch.setattr(liveness, "datetime", FrozenClock)
    assert alive(engine, run_id) is is_alive
    assert close_dead_runs(engine) == ([] if is_alive else [run_id])
    assert status(engine, run_id) == ("running" if is_alive else "interrupted")


def test_a_finished_or_unknown_run_is_not_alive(engine: Engine) -> None:
    run_id = start_run(engine)
    set_run(engine, run_id, status="finished")
    assert not alive(engine, run_id)
    assert not alive(engine, run_id + 1000)


def test_what_an_import_is_told_it_waits_for(engine: Engine) -> None:
    run_id = start_run(engine)
    dead = start_run(engine)
    set_run(engine, dead, host=HOST, pid=gone_pid())
    set_run(engine, run_id, started_at=datetime(2026, 12, 6, 2, 0, 5))
    with engine.connect() as connection:
        assert runs_under_way(connection) == [
            f"corrida {run_id} de SM02, iniciada 06/12/2026 02:00:05"
        ]


def test_only_dead_runs_are_closed(engine: Engine) -> None:
    mine = start_run(engine)
    remote = start_run(engine)
    set_run(engine, remote, host="otro-servidor", heartbeat_at=datetime.now())
    stale = start_run(engine)
    set_run(engine, stale, host="otro-servidor", heartbeat_at=datetime.now() - timedelta(hours=1))
    assert close_dead_runs(engine) == [stale]
    assert [status(engine, r) for r in (mine, remote, stale)] == [
        "running",
        "running",
        "interrupted",
    ]
    assert close_dead_runs(engine) == []


def test_the_heartbeat_is_refreshed_while_the_run_goes_on(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "HEARTBEAT_EVERY", timedelta(seconds=0.05))
    run_id = start_run(engine)
    old = datetime.now() - timedelta(days=1)
    set_run(engine, run_id, heartbeat_at=old)

    def heartbeat() -> datetime | None:
        with engine.connect() as connection:
            return connection.execute(select(RUN.c.heartbeat_at).where(RUN.c.id == run_id)).scalar()

    with Heartbeat(engine, run_id) as beating:
        deadline = time.monotonic() + 60
        while heartbeat() == old and time.monotonic() < deadline:
            time.sleep(0.05)
        assert beating.thread.is_alive()
    assert not beating.thread.is_alive()
    beat = heartbeat()
    assert beat is not None and datetime.now() - beat < timedelta(minutes=1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_command_name_with_parentheses_and_blanks_still_gives_its_start_time() -> None:
    """The start time is read after the command name's last ")": a process may name itself
    anything (here "a) b (c) d"), and reading after the first ")" takes the wrong field."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; open('/proc/self/comm', 'w').write('a) b (c) d');"
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert Path(f"/proc/{child.pid}/comm").read_text().strip() == "a) b (c) d"
        start = liveness.process_start(child.pid)
        assert start is not None and start.startswith(f"{liveness._boot_id()}:")
        ticks = int(start.rpartition(":")[2])
        started = psutil.boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        assert abs(started - psutil.Process(child.pid).create_time()) < 1.0
    finally:
        child.kill()
        child.wait()


def test_a_process_that_ends_with_its_heartbeat_still_beating_exits(
    engine: Engine, db_url: str
) -> None:
    """The heartbeat never keeps the process alive: a command whose main code ends without
    leaving the heartbeat's block (an error in its way out, an interrupted join) exits
    instead of hanging with the thread beating on."""
    with Heartbeat(engine, start_run(engine)) as beating:  # and here, the same code
        assert beating.thread.is_alive()
    script = (
        "from rotomail.delivery.liveness import Heartbeat\n"
        "from rotomail.store.db import open_engine\n"
        f"beat = Heartbeat(open_engine({db_url!r}), 1).__enter__()\n"
        "assert beat.thread.is_alive()\n"
        "print('latiendo', flush=True)\n"
    )
    code = Path(liveness.__file__).parents[2]  # the code under test, wherever it is
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    assert (done.returncode, done.stdout) == (0, "latiendo\n"), done.stderr

"""Storage faults (issue 20): a full disk, a read-only folder or database file, a damaged
SQLite file, a PostgreSQL connection lost mid-run. Each is one Spanish line and loses
nothing: no traceback, the run never left "en curso", an outbox file whole or absent, a
failed write "fallido" (never "incierto"), and a rerun completes the rest, each customer
exactly once. Every check runs ``rotomail`` as a real process (the installed console
script), as a clerk or cron would."""

from __future__ import annotations

import contextlib
import email
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from sink_server import seed
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, Cli

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).with_name("rotomail")


def rotomail(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``rotomail ARGS`` as a real process, stdin closed, stdout and stderr apart."""
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**os.environ, "COLUMNS": "200", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def send(**env: str) -> subprocess.CompletedProcess[str]:
    return rotomail("send", "--sociedad", "SM02", "--all", **env)


def no_traceback(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    return output


def runs(db_url: str) -> list[tuple[int, str]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM send_run ORDER BY id"))
            return [(row.id, row.status) for row in rows]
    finally:
        engine.dispose()


def statuses(db_url: str, run_id: int) -> Counter[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status FROM delivery WHERE run_id = :r"), {"r": run_id}
            )
            return Counter(row.status for row in rows)
    finally:
        engine.dispose()


def saved_statements(outbox: Path) -> Counter[str]:
    """cliente -> statements in the outbox (every run's folder); each file must be a whole
    message whose PDF ends as a PDF does."""
    counts: Counter[str] = Counter()
    for path in sorted(outbox.rglob("*")):
        assert not path.name.startswith("."), f"a temporary file left: {path}"
        if path.suffix == ".pdf":  # the statement kept beside its message: whole
            assert path.read_bytes().rstrip().endswith(b"%%EOF"), path
        if path.suffix != ".eml":
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.iter_attachments():
            name = part.get_filename() or ""
            if name.endswith(".pdf"):
                assert part.get_content().rstrip().endswith(b"%%EOF"), path
                counts[name.split("_", 1)[0]] += 1
    return counts


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """``folder`` on a file system of ``size`` (a tmpfs, as root can mount one)."""
    if os.geteuid() != 0:
        pytest.skip("montar un tmpfs pequeño necesita root")
    if shutil.which("mount") is None:
        pytest.skip("no hay orden mount")
    folder.mkdir(mode=0o700)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"no se pudo montar un tmpfs: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_outbox(home: Path) -> Iterator[Path]:
    """The outbox on a 1 MB file system."""
    with small_disk(home / "outbox", "1m") as outbox:
        yield outbox


def test_a_full_outbox_disk_stops_the_run_in_one_line_and_a_rerun_saves_the_rest(
    cli: Cli, home: Path, db_url: str, small_outbox: Path
) -> None:
    ids = seed(cli, home, 300)
    done = send()
    output = no_traceback(done)
    assert done.returncode == 1, output
    stop = [line for line in output.splitlines() if line.startswith("Corrida detenida:")]
    assert len(stop) == 1, output
    assert re.fullmatch(  # the message or the PDF kept beside it: whichever filled the disk
        f"Corrida detenida: no se pudo guardar (en el buzón de salida|el PDF en) "
        f"{re.escape(str(small_outbox))}/corrida-1: no queda espacio en el disco",
        stop[0],
    ), output
    assert "Aviso" not in output  # no log mailed into the full outbox
    assert [status for _, status in runs(db_url)] == ["aborted"]
    counts = statuses(db_url, 1)
    saved = saved_statements(small_outbox)
    assert 0 < len(saved) < 300
    assert counts == {"saved": len(saved), "failed": 1, "pending": 300 - len(saved) - 1}
    assert "uncertain" not in counts
    logs = list((home / "logs").glob("*_corrida1_SM02.txt"))
    assert len(logs) == 1

    # room again: the rerun saves the rest, each customer exactly once
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_outbox)], check=True)
    again = send()
    assert again.returncode == 0, no_traceback(again)
    assert saved_statements(small_outbox) == dict.fromkeys(ids, 1)
    assert [status for _, status in runs(db_url)] == ["aborted", "finished"]


def test_a_read_only_outbox_folder_is_one_line_and_exit_2(
    cli: Cli, home: Path, db_url: str
) -> None:
    if os.geteuid() == 0:  # root writes anywhere: a read-only bind mount instead
        outbox = home / "outbox"
        outbox.mkdir(mode=0o700)
        bound = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(outbox), str(outbox)],
            capture_output=True,
            check=False,
        )
        if bound.returncode != 0:
            pytest.skip("no se pudo montar la carpeta en solo lectura")
    else:
        outbox = home / "outbox"
        outbox.mkdir(mode=0o500)
    try:
        ids = seed(cli, home, 3)
        done = send()
        output = no_traceback(done)
        assert done.returncode == 2, output
        assert (
            f"Corrida detenida: no se pudo guardar el PDF en {outbox}/corrida-1: "
            "el disco es de solo lectura" in output
        ), output
        assert [status for _, status in runs(db_url)] == ["aborted"]
        counts = statuses(db_url, 1)
        assert counts == {"failed": 1, "pending": 2}, counts
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(outbox)], check=False)
    again = send()
    assert again.returncode == 0, no_traceback(again)
    assert saved_statements(outbox) == dict.fromkeys(ids, 1)


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite file's own faults")
def test_a_read_only_sqlite_file_is_one_line_and_exit_2(cli: Cli, home: Path) -> None:
    seed(cli, home, 3)
    database = home / "rotomail.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    if os.geteuid() == 0:
        bound = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(home), str(home)], capture_output=True, check=False
        )
        if bound.returncode != 0:
            pytest.skip("no se pudo montar la carpeta en solo lectura")
    else:
        database.chmod(0o400)
    try:
        done = send()
        output = no_traceback(done)
        assert done.returncode == 2, output
        lines = [line for line in done.stderr.splitlines() if line]
        assert len(lines) == 1, output
        assert lines[0].startswith(f"Error: No se puede escribir en la base de datos {database}")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(home)], check=False)


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite file's own faults")
def test_a_damaged_sqlite_file_is_one_line_and_exit_1(cli: Cli, home: Path) -> None:
    seed(cli, home, 3)
    database = home / "rotomail.db"
    data = bytearray(database.read_bytes())
    data[:100] = bytes(b ^ 0x5A for b in data[:100])  # the header's bytes flipped
    database.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    for args in (("send", "--sociedad", "SM02", "--all"), ("history",), ("catalog", "search")):
        done = rotomail(*args)
        output = no_traceback(done)
        assert done.returncode == 1, output
        assert done.stderr.splitlines() == [
            f"Error: La base de datos {database} está dañada (file is not a database); "
            "restáurela de una copia de seguridad."
        ], output


@pytest.mark.skipif(not PG_URL, reason="needs ROTOMAIL_TEST_DATABASE_URL (PostgreSQL)")
def test_a_postgresql_restart_mid_run_is_one_line_and_a_rerun_completes(
    cli: Cli, home: Path, db_url: str
) -> None:
    ids = seed(cli, home, 300)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = db_url.rsplit("search_path%3D", 1)[1]
    killed: list[int] = []

    name = f"rotomail-{schema}"  # only this test's rotomail process is cut off

    def kill_when_half_done() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with admin.connect() as connection:
                done = connection.execute(
                    text(f'SELECT count(*) FROM "{schema}".delivery WHERE status = :s'),
                    {"s": "saved"},
                ).scalar()
                if done and done >= 50:
                    killed.extend(
                        connection.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = :name"
                            ),
                            {"name": name},
                        ).scalars()
                    )
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_when_half_done, daemon=True)
    watcher.start()
    done = send(ROTOMAIL_DATABASE_URL=f"{db_url}&application_name={name}")
    watcher.join(timeout=60)
    output = no_traceback(done)
    if not any(killed) or done.returncode == 0:
        pytest.skip("the run ended before its connection was terminated")
    assert done.returncode == 1, output
    assert "Se perdió la conexión con la base de datos" in output, output
    assert [status for _, status in runs(db_url)] == ["interrupted"], output
    again = send()
    assert again.returncode == 0, no_traceback(again)
    assert saved_statements(home / "outbox") == dict.fromkeys(ids, 1)
    admin.dispose()


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite file's own faults")
def test_a_full_disk_under_the_sqlite_database_is_one_line_and_a_rerun_completes(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("montar un tmpfs pequeño necesita root")
    ids = seed(cli, home, 300)
    disk = tmp_path / "disco"
    disk.mkdir()
    database = home / "rotomail.db"
    checkpoint = create_engine(f"sqlite:///{database}")
    with checkpoint.begin() as connection:  # the whole database in its file
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    checkpoint.dispose()
    size = database.stat().st_size  # then 300 KB more: full in the middle of the run
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size // 1024 + 300}k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no se pudo montar un tmpfs: {mounted.stderr.strip()}")
    try:
        shutil.copy(database, disk / "rotomail.db")
        url = f"sqlite:///{disk / 'rotomail.db'}"
        done = send(ROTOMAIL_DATABASE_URL=url)
        output = no_traceback(done)
        assert done.returncode == 1, output
        full = [line for line in output.splitlines() if "No queda espacio en el disco" in line]
        assert full and all(
            f"No queda espacio en el disco de la base de datos {disk / 'rotomail.db'}" in line
            for line in full
        ), output
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = send(ROTOMAIL_DATABASE_URL=url)
        assert again.returncode == 0, no_traceback(again)
        assert saved_statements(home / "outbox") == dict.fromkeys(ids, 1)
        statuses_now = [status for _, status in runs(url)]
        assert "running" not in statuses_now, statuses_now
        assert statuses_now[-1] == "finished"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def small_statements(home: Path) -> Iterator[Path]:
    """The kept statements' folder (``[statement] keep``) on a 512 KB file system."""
    with small_disk(home / "statements", "512k") as statements:
        yield statements


def test_a_full_disk_under_the_kept_statements_stops_the_run_and_a_rerun_completes(
    cli: Cli, home: Path, db_url: str, small_statements: Path
) -> None:
    ids = seed(cli, home, 300)
    done = send()
    output = no_traceback(done)
    assert done.returncode == 1, output
    stop = [line for line in output.splitlines() if line.startswith("Corrida detenida:")]
    assert stop == [
        f"Corrida detenida: no se pudo guardar el PDF en {small_statements} "
        "([statement] keep): no queda espacio en el disco"
    ], output
    counts = statuses(db_url, 1)
    saved = saved_statements(home / "outbox")
    assert 0 < len(saved) < 300
    # the customer whose statement could not be kept was not delivered either
    assert counts == {"saved": len(saved), "failed": 1, "pending": 300 - len(saved) - 1}
    assert [status for _, status in runs(db_url)] == ["aborted"]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_statements)], check=True)
    again = send()
    assert again.returncode == 0, no_traceback(again)
    assert saved_statements(home / "outbox") == dict.fromkeys(ids, 1)
    kept = [p for p in small_statements.rglob("*.pdf")]
    assert len(kept) == 300
    assert all(p.read_bytes().rstrip().endswith(b"%%EOF") for p in kept)


@pytest.mark.parametrize("temporary_folder_works", [True, False])
def test_a_logs_folder_that_cannot_be_written_sends_the_log_elsewhere_or_says_so(
    cli: Cli, home: Path, db_url: str, tmp_path: Path, temporary_folder_works: bool
) -> None:
    ids = seed(cli, home, 3)
    (home / "logs").write_text("no es una carpeta\n", encoding="utf-8")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    if not temporary_folder_works:
        (temporary / f"rotomail-{os.getuid()}-registros").write_text("tampoco\n", "utf-8")
    done = send(TMPDIR=str(temporary))
    no_traceback(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert statuses(db_url, 1) == {"saved": 3}
    [line] = [line for line in done.stdout.splitlines() if line.startswith("Registro:")]
    if temporary_folder_works:
        [log] = (temporary / f"rotomail-{os.getuid()}-registros").glob("*_corrida1_SM02.txt")
        assert line == f"Registro: {log}"
        assert oct(log.stat().st_mode & 0o777) == oct(0o600)
        text = log.read_text(encoding="utf-8")
        assert all(cliente in text for cliente in ids), text
    else:
        assert line == (
            "Registro: no se pudo escribir en el disco (la corrida está en «rotomail history»)."
        )
    history = rotomail("history", "1")  # where the outcomes are when no log could be written
    assert history.returncode == 0, history.stderr
    assert all(cliente in history.stdout for cliente in ids), history.stdout

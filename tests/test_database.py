"""The database as others use it: a lock held by another process, a schema upgraded by a
newer (or older) rotomail on a shared database."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sink_server import (
    ProcessCli,
    Sink,
    outcome_lines,
    rotomail_env,
    run,
    seed,
    send_args,
    start,
    statements_by_cliente,
)
from sqlalchemy import text

from rotomail import __version__
from rotomail.store.db import create_db_engine, current_revision, head_revision, upgrade
from tests.conftest import Cli

# Another process takes the write lock: SQLite's for the whole file, PostgreSQL's on the
# table the command writes (reads still go through, as with SQLite's WAL).
HOLD_LOCK = """
import sys, time
from sqlalchemy import create_engine, text
url, table, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if url.startswith("sqlite"):
    import sqlite3
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
else:
    connection = create_engine(url).connect()
    connection.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
print("locked", flush=True)
time.sleep(seconds)
"""


def hold_write_lock(db_url: str, table: str, seconds: float) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, db_url, table, str(seconds)], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"
    return holder


def rotomail(home: Path, tmp_path: Path, **env: str) -> ProcessCli:
    return ProcessCli(rotomail_env(1, **env), tmp_path)  # port 1: no SMTP server needed


def test_a_locked_database_past_busy_timeout_is_one_spanish_line(
    cli: Cli, home: Path, tmp_path: Path, db_url: str
) -> None:
    seed(cli, home, 1)
    holder = hold_write_lock(db_url, "catalog_entry", 30)
    try:
        began = time.monotonic()
        result = rotomail(home, tmp_path, ROTOMAIL_BUSY_TIMEOUT="1.5")(
            "catalog", "add", "SM02", "2000001", "otro@cliente.example.mx"
        )
        took = time.monotonic() - began
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: La base de datos siguió ocupada por otro proceso durante 1.5 s (busy_timeout); "
        "no se completó la operación. Inténtelo de nuevo más tarde o aumente busy_timeout.\n"
    )
    assert took < 10
    assert "otro@cliente" not in cli("catalog", "search", "--sociedad", "SM02").stdout


def test_a_locked_database_is_waited_for_and_said_so(
    cli: Cli, home: Path, tmp_path: Path, db_url: str
) -> None:
    seed(cli, home, 1)
    holder = hold_write_lock(db_url, "catalog_entry", 8)
    try:
        result = rotomail(home, tmp_path)(
            "catalog", "add", "SM02", "2000001", "otro@cliente.example.mx"
        )
    finally:
        holder.wait()
    assert result.exit_code == 0, result.output
    assert (
        "La base de datos está ocupada por otro proceso; esperando hasta 60 s (busy_timeout)…"
        in result.stderr
    )
    assert "otro@cliente.example.mx" in cli("catalog", "search", "--sociedad", "SM02").stdout


def test_a_send_that_meets_a_locked_database_is_closed_as_interrupted(
    cli: Cli, home: Path, tmp_path: Path, db_url: str
) -> None:
    ids = seed(cli, home, 3)
    # The RCPT reply is held long enough for the lock holder (a new Python process) to take
    # the lock before the claim, on a loaded machine too.
    with Sink(tmp_path / "sink.jsonl", rcpt_delay=6.0) as sink:
        env = rotomail_env(sink.port, ROTOMAIL_BUSY_TIMEOUT="1")
        process = start(send_args(), env, tmp_path)
        assert sink.wait_for("rcpt", 1, 30)  # the claim comes next, before DATA
        holder = hold_write_lock(db_url, "statement_claim", 30)
        try:
            out, err = process.communicate(timeout=30)
            log_written = list((home / "logs").glob("*_corrida1_SM02.txt"))
        finally:
            holder.kill()
            holder.wait()
        stdout, stderr = out.decode(), err.decode()
        assert process.returncode == 1, stdout + stderr
        assert "Traceback" not in stderr
        assert stderr.splitlines()[-1] == (
            "Error: corrida 1 interrumpida: La base de datos siguió ocupada por otro proceso "
            "durante 1 s (busy_timeout); no se completó la operación. Inténtelo de nuevo más "
            "tarde o aumente busy_timeout."
        )
        assert log_written
        lines = outcome_lines(stdout)
        assert all(": pendiente - no se intentó: La base de datos" in lines[c] for c in ids)
        runs = json.loads(cli("history", "--format", "json").stdout)
        assert runs[0]["estado"] in ("interrupted", "interrumpida")
        sink.rcpt_delay = 0
        code, out, _ = run(send_args(), env, tmp_path)
        records = sink.records()
    assert code == 0, out
    assert statements_by_cliente(records) == dict.fromkeys(ids, 1)


def test_a_database_from_a_newer_rotomail_is_refused(cli: Cli, home: Path, db_url: str) -> None:
    assert cli("catalog", "search").exit_code in (0, 1)  # creates the schema
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    result = cli("catalog", "search")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: La base de datos tiene el esquema 0999, más nuevo que el de esta versión de "
        f"rotomail ({__version__}, esquema {head_revision()}); actualice rotomail.\n"
    )
    assert cli("db", "upgrade").exit_code == 2


def test_an_older_shared_schema_is_upgraded_only_by_db_upgrade(
    cli: Cli, home: Path, db_url: str
) -> None:
    old = create_db_engine(db_url)
    upgrade(old, "0004")
    old.dispose()
    result = cli("catalog", "search")
    if db_url.startswith("sqlite"):  # one operator's file: upgraded in place
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert result.stderr == (
            "Error: La base de datos compartida tiene el esquema 0004 y esta versión de rotomail "
            f"({__version__}) necesita el {head_revision()}: ejecute «rotomail db upgrade» "
            "(avise a los demás operadores: necesitarán esta versión).\n"
        )
        result = cli("db", "upgrade")
        assert result.exit_code == 0, result.output
        assert f"actualizado: 0004 → {head_revision()}." in result.stdout
        assert cli("catalog", "search").exit_code == 0
    engine = create_db_engine(db_url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()
    result = cli("db", "upgrade")
    assert result.stdout.endswith(f"ya está al día ({head_revision()}).\n")


@pytest.mark.parametrize("under", [False, True])
def test_rotomail_home_that_is_a_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, under: bool
) -> None:
    plain = tmp_path / "archivo.txt"
    plain.write_text("no soy una carpeta\n")
    home = plain / "rotomail" if under else plain
    monkeypatch.setenv("ROTOMAIL_HOME", str(home))
    result = cli("catalog", "search")
    detail = f"{plain} es un archivo" if under else "es un archivo"
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: ROTOMAIL_HOME = {home} no se puede usar como carpeta de datos: {detail}.\n"
    )


def test_the_busy_watch_leaves_no_thread_behind_once_statements_end(db_url: str) -> None:
    """One watcher thread per engine that never ended piled up by the thousand in a
    process that makes many engines (the test suite, a library caller)."""
    told: list[str] = []
    before = set(threading.enumerate())
    for _ in range(5):
        engine = create_db_engine(db_url, on_wait=told.append)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(threading.enumerate()) - before:
        time.sleep(0.1)
    assert set(threading.enumerate()) - before == set()
    assert told == []

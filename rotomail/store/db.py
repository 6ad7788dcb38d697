"""Database access: engine creation, SQLite pragmas and schema upgrades (Alembic).

The default is SQLite in ROTOMAIL_HOME; any SQLAlchemy URL works (PostgreSQL is how an AR
team shares one catalog). Every command opens the database through ``open_engine``, which
upgrades an older schema in place before use.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    dialects,
    event,
    insert,
    inspect,
    text,
    tuple_,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rotomail import __version__
from rotomail.errors import DataError, UsageError

_MIGRATION_LOCK = 7_365_001  # PostgreSQL advisory-lock key: one upgrade at a time
DEFAULT_BUSY_TIMEOUT = 60.0  # seconds a statement waits for another process's lock
BUSY_NOTICE_AFTER = 3.0  # seconds of waiting before the user is told
_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_PG_LOCK_NOT_AVAILABLE = "55P03"
_REVISION = re.compile(r'^revision = "(?P<id>[^"]+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision = (?:None|"(?P<id>[^"]+)")', re.MULTILINE)


class DatabaseBusy(DataError):
    """Another process held the database longer than ``busy_timeout``."""


class NewerSchema(UsageError):
    """The database was upgraded by a newer rotomail."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _BusyWatch:
    """Waiting for a lock happens inside the database driver (SQLite's busy handler retries
    with growing pauses up to the timeout; PostgreSQL waits up to ``lock_timeout``). This
    watches statements from outside: one that has waited ``BUSY_NOTICE_AFTER`` seconds is
    reported once through ``on_wait``, and a lock error past the timeout becomes one
    Spanish line."""

    def __init__(self, timeout: float, on_wait: Callable[[str], None] | None) -> None:
        self.timeout = timeout
        self.on_wait = on_wait
        self.waiting: dict[int, float] = {}  # thread -> when its statement started
        self._told = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def install(self, engine: Engine) -> None:
        event.listen(engine, "handle_error", self._error)
        if self.on_wait is not None:
            event.listen(engine, "before_cursor_execute", self._before)
            event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        with self._lock:
            self.waiting[threading.get_ident()] = time.monotonic()
            if self._thread is None and not self._told:
                self._thread = threading.Thread(
                    target=self._watch, name="rotomail-busy-watch", daemon=True
                )
                self._thread.start()

    def _after(self, *_args: Any) -> None:
        self.waiting.pop(threading.get_ident(), None)

    def _watch(self) -> None:
        # The watcher lives only while statements run: an engine that is no longer used
        # (many per process in tests, or in a library caller) leaves no thread behind.
        while not self._told:
            time.sleep(0.5)
            with self._lock:
                if not self.waiting:
                    self._thread = None
                    return
            now = time.monotonic()
            if any(now - since >= BUSY_NOTICE_AFTER for since in list(self.waiting.values())):
                self._told = True
                assert self.on_wait is not None
                self.on_wait(
                    "La base de datos está ocupada por otro proceso; esperando hasta "
                    f"{self.timeout:g} s (busy_timeout)…"
                )

    def _error(self, context: ExceptionContext) -> None:
        if is_busy(context.original_exception):
            self.waiting.pop(threading.get_ident(), None)
            raise DatabaseBusy(
                f"La base de datos siguió ocupada por otro proceso durante {self.timeout:g} s "
                "(busy_timeout); no se completó la operación. Inténtelo de nuevo más tarde "
                "o aumente busy_timeout."
            )


def is_busy(exc: BaseException | None) -> bool:
    """A lock held by another process past the timeout (SQLite or PostgreSQL)."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    message = str(original).lower()
    return "database is locked" in message or "database table is locked" in message


def _prepare_sqlite_file(database: str) -> None:
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(URL inválida)"


def create_db_engine(
    url: str,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
) -> Engine:
    """An engine whose statements wait up to ``busy_timeout`` seconds for another process's
    lock (``on_wait`` is told once when a wait grows long), then fail with ``DatabaseBusy``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"URL de base de datos inválida: {redacted(url)}") from None
    watch = _BusyWatch(busy_timeout, on_wait)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _prepare_sqlite_file(parsed.database)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", _sqlite_pragmas)
        watch.install(engine)
        return engine
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ArgumentError) as exc:
        raise UsageError(f"No se puede usar la base de datos {redacted(url)}: {exc}") from None
    if engine.dialect.name == "postgresql":
        milliseconds = max(1, int(busy_timeout * 1000))

        def lock_timeout(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            cursor.close()
            dbapi_connection.commit()

        event.listen(engine, "connect", lock_timeout)
    watch.install(engine)
    return engine


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creating it on an empty database)."""
    from alembic import command  # deferred: 0.13 s, only when the schema must change
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@cache
def _revision_graph() -> dict[str, str | None]:
    """revision -> the revision it revises (None for the first), read from the migration
    files' ``revision = "..."`` and ``down_revision = ...`` lines: a text scan, as loading
    them through Alembic costs 0.13 s and every command checks the revision."""
    graph: dict[str, str | None] = {}
    for path in _VERSIONS.glob("[0-9]*_*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            raise RuntimeError(f"{path.name}: no revision / down_revision line")
        graph[revision["id"]] = down["id"]
    return graph


def known_revisions() -> set[str]:
    """Schema revisions this rotomail knows."""
    return set(_revision_graph())


@cache
def head_revision() -> str:
    """The latest schema revision: the one no other migration revises."""
    graph = _revision_graph()
    heads = sorted(set(graph) - set(graph.values()))
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have one head, not {heads}")
    return heads[0]


def check_revision(revision: str | None, dialect: str) -> bool:
    """True when the schema must be upgraded here; raises when this rotomail must not touch it.

    A database upgraded by a newer rotomail is refused (its tables may mean other things);
    an older shared (PostgreSQL) schema is upgraded only by ``rotomail db upgrade``, on
    purpose, so one operator's new version never changes the database under the others.
    SQLite (one operator's file) and an empty database are brought up to date in place.
    """
    if revision == head_revision():
        return False
    if revision is not None and revision not in known_revisions():
        raise NewerSchema(
            f"La base de datos tiene el esquema {revision}, más nuevo que el de esta versión "
            f"de rotomail ({__version__}, esquema {head_revision()}); actualice rotomail."
        )
    if revision is not None and dialect != "sqlite":
        raise UsageError(
            f"La base de datos compartida tiene el esquema {revision} y esta versión de "
            f"rotomail ({__version__}) necesita el {head_revision()}: ejecute "
            "«rotomail db upgrade» (avise a los demás operadores: necesitarán esta versión)."
        )
    return True


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def open_engine(
    url: str,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
) -> Engine:
    """An engine on ``url`` with the schema at the latest revision (see ``check_revision``)."""
    engine = create_db_engine(url, busy_timeout, on_wait)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
        if check_revision(revision, engine.dialect.name):
            upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise UsageError(
            f"No se pudo abrir la base de datos {redacted(url)}: {_reason(exc)}"
        ) from None
    except Exception:
        engine.dispose()
        raise
    return engine


def upgrade_schema(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> tuple[str | None, str]:
    """``rotomail db upgrade``: (revision before, revision now)."""
    engine = create_db_engine(url, busy_timeout)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        if before != head_revision():
            if before is not None and before not in known_revisions():
                check_revision(before, engine.dialect.name)
            upgrade(engine)
    except SQLAlchemyError as exc:
        raise UsageError(
            f"No se pudo actualizar la base de datos {redacted(url)}: {_reason(exc)}"
        ) from None
    finally:
        engine.dispose()
    return before, head_revision()


def upsert(
    connection: Connection,
    table: Any,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
    batch_size: int = 5000,
) -> None:
    """Insert ``rows`` into ``table``; rows whose ``keys`` exist replace the other columns.

    One statement executed for many rows (the driver's executemany: no per-row round trip
    from Python), on SQLite and PostgreSQL through their ``ON CONFLICT DO UPDATE``.
    """
    if not rows:
        return
    if connection.dialect.name not in ("postgresql", "sqlite"):
        _upsert_portable(connection, table, rows, keys)
        return
    insert = _dialect_insert(connection.dialect.name)
    columns = [name for name in rows[0] if name not in keys]
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in columns},
    )
    for start in range(0, len(rows), batch_size):
        connection.execute(statement, rows[start : start + batch_size])


def _upsert_portable(
    connection: Connection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    key_columns = [table.c[name] for name in keys]
    values = [tuple(row[name] for name in keys) for row in rows]
    connection.execute(delete(table).where(tuple_(*key_columns).in_(values)))
    connection.execute(insert(table), rows)


def insert_ignore(connection: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert one row unless its primary key exists; True when inserted."""
    statement = _insert_ignore(connection.dialect.name, table)
    return connection.execute(statement, values).rowcount == 1


@cache
def _insert_ignore(dialect: str, table: Any) -> Any:
    # Built once: SQLAlchemy then reuses the compiled form, where a statement built per
    # call (``.values(...)``) costs ~0.15 ms of construction and cache-key work each time.
    return _dialect_insert(dialect)(table).on_conflict_do_nothing()


def _dialect_insert(dialect: str) -> Any:
    """INSERT with ON CONFLICT support: PostgreSQL's or SQLite's, from the dialect package
    the engine loaded when it was created (``sqlalchemy.dialects.<name>``). Taken from
    there, not imported here, so a command on SQLite never imports PostgreSQL's dialect
    (23 ms)."""
    return getattr(dialects, dialect).insert

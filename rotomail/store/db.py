"""Database access: engine creation, SQLite pragmas and schema upgrades (Alembic).

The default is SQLite in ROTOMAIL_HOME; any SQLAlchemy URL works (PostgreSQL is how an AR
team shares one catalog). Every command opens the database through ``open_engine``, which
upgrades an older schema in place before use.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from rotomail.errors import UsageError

HEAD_REVISION = "0009"
_MIGRATION_LOCK = 7_365_001  # PostgreSQL advisory-lock key: one upgrade at a time


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


def create_db_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"URL de base de datos inválida: {redacted(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _prepare_sqlite_file(parsed.database)
        engine = create_engine(parsed, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ArgumentError) as exc:
        raise UsageError(f"No se puede usar la base de datos {redacted(url)}: {exc}") from None


def current_revision(connection: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creating it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def open_engine(url: str) -> Engine:
    """An engine on ``url`` with the schema at the latest revision."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
        if revision != HEAD_REVISION:
            upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise UsageError(f"No se pudo abrir la base de datos {redacted(url)}: {reason}") from None
    return engine


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
    from sqlalchemy import delete, insert, tuple_

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
    """INSERT with ON CONFLICT support: PostgreSQL's or SQLite's."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert

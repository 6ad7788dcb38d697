"""Lightweight Core views of the tables (``sqlalchemy.Table`` on a metadata of their own) for
every query rotomail runs: importing SQLModel and the ORM classes of ``models`` costs about
0.2 s, a large part of ``catalog search``'s 0.5 s budget and of a send's start. ``models`` stays the one definition of the schema
(with the migrations); ``tests/test_migrations.py`` checks every view against it, column by
column and type by type."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    column,
    table,
)

# A full Table only where SQLAlchemy must know the primary key: inserting a run reads back
# its generated id (``inserted_primary_key``) on every SQLite and PostgreSQL version. The
# others are plain ``table()`` clauses, cheaper to build (about 1 ms for all of them).
_metadata = MetaData()  # not SQLModel's: the schema is created by the migrations

CUSTOMER = table(
    "customer",
    column("sociedad", String),
    column("cliente", String),
    column("nombre", String),
    column("rfc", String),
    column("correo", Text),
    column("idioma", String),
    column("updated_at", DateTime),
    column("nombre_search", Text),
)

CATALOG_ENTRY = table(
    "catalog_entry",
    column("sociedad", String),
    column("cliente", String),
    column("correos", Text),
    column("updated_at", DateTime),
    column("idioma", String),
    column("correos_search", Text),
)

CATALOG_HOLD = table(
    "catalog_hold",
    column("sociedad", String),
    column("cliente", String),
    column("reason", Text),
    column("held_by", String),
    column("held_at", DateTime),
)

CATALOG_CHANGE = table(
    "catalog_change",
    column("id", Integer),
    column("sociedad", String),
    column("cliente", String),
    column("action", String),
    column("changed_by", String),
    column("changed_at", DateTime),
    column("before", Text),
    column("after", Text),
)

OPEN_ITEM = table(
    "open_item",
    column("id", Integer),
    column("sociedad", String),
    column("cliente", String),
    column("documento", String),
    column("tipo", String),
    column("referencia", String),
    column("fecha_documento", Date),
    column("vencimiento", Date),
    column("importe", Numeric(18, 2)),
    column("moneda", String),
    column("texto", String),
)

LEDGER_SNAPSHOT = table(
    "ledger_snapshot",
    column("sociedad", String),
    column("snapshot_date", Date),
    column("imported_at", DateTime),
    column("source", String),
    column("item_count", Integer),
    column("due_date_source", String),
)

SEND_RUN = Table(
    "send_run",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("operator", String),
    Column("sociedad", String),
    Column("statement_date", Date),
    Column("mode", String),
    Column("transport", String),
    Column("channel", String),
    Column("status", String),
    Column("host", String),
    Column("pid", Integer),
    Column("process_start", String),
    Column("heartbeat_at", DateTime),
    Column("sent", Integer),
    Column("failed", Integer),
    Column("skipped", Integer),
    Column("uncertain", Integer),
    Column("log_path", String),
)

DELIVERY = table(
    "delivery",
    column("id", Integer),
    column("run_id", Integer),
    column("sociedad", String),
    column("cliente", String),
    column("statement_date", Date),
    column("nombre", String),
    column("correos", Text),
    column("archivo", String),
    column("status", String),
    column("detail", Text),
    column("refused", Text),
    column("message_id", String),
    column("verp_token", String),
    column("bcc", String),
    column("updated_at", DateTime),
    column("idioma", String),
)

DELIVERY_ADDRESS = table(
    "delivery_address",
    column("id", Integer),
    column("run_id", Integer),
    column("cliente", String),
    column("correo", String),
    column("status", String),
    column("code", String),
    column("detail", Text),
    column("updated_at", DateTime),
)

STATEMENT_CLAIM = table(
    "statement_claim",
    column("sociedad", String),
    column("cliente", String),
    column("statement_date", Date),
    column("channel", String),
    column("run_id", Integer),
    column("status", String),
    column("updated_at", DateTime),
)

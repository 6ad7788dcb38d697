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
)

_metadata = MetaData()  # not SQLModel's: the schema is created by the migrations

CUSTOMER = Table(
    "customer",
    _metadata,
    Column("sociedad", String, primary_key=True),
    Column("cliente", String, primary_key=True),
    Column("nombre", String),
    Column("rfc", String),
    Column("correo", Text),
    Column("idioma", String),
    Column("updated_at", DateTime),
    Column("nombre_search", Text),
)

CATALOG_ENTRY = Table(
    "catalog_entry",
    _metadata,
    Column("sociedad", String, primary_key=True),
    Column("cliente", String, primary_key=True),
    Column("correos", Text),
    Column("updated_at", DateTime),
    Column("idioma", String),
    Column("correos_search", Text),
)

CATALOG_HOLD = Table(
    "catalog_hold",
    _metadata,
    Column("sociedad", String, primary_key=True),
    Column("cliente", String, primary_key=True),
    Column("reason", Text),
    Column("held_by", String),
    Column("held_at", DateTime),
)

CATALOG_CHANGE = Table(
    "catalog_change",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sociedad", String),
    Column("cliente", String),
    Column("action", String),
    Column("changed_by", String),
    Column("changed_at", DateTime),
    Column("before", Text),
    Column("after", Text),
)

OPEN_ITEM = Table(
    "open_item",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sociedad", String),
    Column("cliente", String),
    Column("documento", String),
    Column("tipo", String),
    Column("referencia", String),
    Column("fecha_documento", Date),
    Column("vencimiento", Date),
    Column("importe", Numeric(18, 2)),
    Column("moneda", String),
    Column("texto", String),
)

LEDGER_SNAPSHOT = Table(
    "ledger_snapshot",
    _metadata,
    Column("sociedad", String, primary_key=True),
    Column("snapshot_date", Date),
    Column("imported_at", DateTime),
    Column("source", String),
    Column("item_count", Integer),
    Column("due_date_source", String),
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

DELIVERY = Table(
    "delivery",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer),
    Column("sociedad", String),
    Column("cliente", String),
    Column("statement_date", Date),
    Column("nombre", String),
    Column("correos", Text),
    Column("archivo", String),
    Column("status", String),
    Column("detail", Text),
    Column("refused", Text),
    Column("message_id", String),
    Column("verp_token", String),
    Column("bcc", String),
    Column("updated_at", DateTime),
    Column("idioma", String),
)

DELIVERY_ADDRESS = Table(
    "delivery_address",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer),
    Column("cliente", String),
    Column("correo", String),
    Column("status", String),
    Column("code", String),
    Column("detail", Text),
    Column("updated_at", DateTime),
)

STATEMENT_CLAIM = Table(
    "statement_claim",
    _metadata,
    Column("sociedad", String, primary_key=True),
    Column("cliente", String, primary_key=True),
    Column("statement_date", Date, primary_key=True),
    Column("channel", String, primary_key=True),
    Column("run_id", Integer),
    Column("status", String),
    Column("updated_at", DateTime),
)

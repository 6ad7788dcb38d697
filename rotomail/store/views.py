"""Lightweight views (``sqlalchemy.table``) of the tables, for the queries of the commands
that must start fast (``catalog search`` has a 0.5 s budget): importing SQLModel and the ORM
classes of ``models`` costs about 0.25 s. ``models`` stays the one definition of the schema
(with the migrations); ``tests/test_migrations.py`` checks every view against it, column by
column and type by type."""

from __future__ import annotations

from sqlalchemy import Date, DateTime, Integer, Numeric, String, Text, column, table

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

SEND_RUN = table(
    "send_run",
    column("id", Integer),
    column("started_at", DateTime),
    column("finished_at", DateTime),
    column("operator", String),
    column("sociedad", String),
    column("statement_date", Date),
    column("mode", String),
    column("transport", String),
    column("channel", String),
    column("status", String),
    column("host", String),
    column("pid", Integer),
    column("process_start", String),
    column("heartbeat_at", DateTime),
    column("sent", Integer),
    column("failed", Integer),
    column("skipped", Integer),
    column("uncertain", Integer),
    column("log_path", String),
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

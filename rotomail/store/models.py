"""Database tables (SQLModel). Every schema change comes with an Alembic revision in
``rotomail/store/migrations/versions``; ``tests/test_migrations.py`` checks they agree."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKeyConstraint, Index, Numeric, String, Table, Text
from sqlmodel import Field, SQLModel


def _timestamp(nullable: bool = False) -> Any:
    # Local, naive timestamps (what the operator reads in the log), stored as plain DateTime.
    return Field(default=None, sa_column=Column(DateTime, nullable=nullable))


class Customer(SQLModel, table=True):
    """The customer master (KNA1/KNB1), loaded by ``customers import``."""

    __tablename__ = "customer"

    sociedad: str = Field(primary_key=True, max_length=10)
    cliente: str = Field(primary_key=True, max_length=20)
    nombre: str = Field(max_length=200)
    rfc: str = Field(default="", max_length=20)
    correo: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    idioma: str = Field(default="", max_length=2)
    updated_at: datetime = _timestamp()
    # the collector's code (KNB1-BUSAB, "Encargado"): [collectors.<sociedad>.<code>]
    ejecutivo: str = Field(
        default="", sa_column=Column(String(20), nullable=False, server_default="")
    )
    # nombre without accents or case (rotomail.ids.search_key), what searches compare
    nombre_search: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class CatalogEntry(SQLModel, table=True):
    """Who receives a customer's statement: addresses joined by ';' in the order given."""

    __tablename__ = "catalog_entry"
    __table_args__ = (
        ForeignKeyConstraint(
            ["sociedad", "cliente"],
            ["customer.sociedad", "customer.cliente"],
            name="fk_catalog_customer",
        ),
    )

    sociedad: str = Field(primary_key=True, max_length=10)
    cliente: str = Field(primary_key=True, max_length=20)
    correos: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _timestamp()
    # "" (the master's language, else the company's) | "es" | "pt" | "en"
    idioma: str = Field(default="", sa_column=Column(String(2), nullable=False, server_default=""))
    correos_search: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class CatalogHold(SQLModel, table=True):
    """A customer whose statement must not go out (SAP's dunning block): never selected."""

    __tablename__ = "catalog_hold"

    sociedad: str = Field(primary_key=True, max_length=10)
    cliente: str = Field(primary_key=True, max_length=20)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    held_by: str = Field(max_length=100)
    held_at: datetime = _timestamp()


class CatalogChange(SQLModel, table=True):
    """Who changed a catalog entry or hold, when, and the entry before and after (JSON)."""

    __tablename__ = "catalog_change"
    __table_args__ = (Index("ix_catalog_change_customer", "sociedad", "cliente"),)

    id: int | None = Field(default=None, primary_key=True)
    sociedad: str = Field(max_length=10)
    cliente: str = Field(max_length=20)
    action: str = Field(max_length=20)  # add | replace | delete | hold | release | import
    changed_by: str = Field(max_length=100)
    changed_at: datetime = _timestamp()
    before: str = Field(sa_column=Column(Text, nullable=False))
    after: str = Field(sa_column=Column(Text, nullable=False))


class LedgerSnapshot(SQLModel, table=True):
    """Which open-items snapshot is loaded for a sociedad (one per sociedad)."""

    __tablename__ = "ledger_snapshot"

    sociedad: str = Field(primary_key=True, max_length=10)
    snapshot_date: date
    imported_at: datetime = _timestamp()
    source: str = Field(default="", max_length=255)
    item_count: int = 0
    # What the aging counts from: "vencimiento" (net due date) or the stand-in the user named
    # when the export had none ("fecha_base", "fecha_documento"); the PDF says which.
    due_date_source: str = Field(
        default="vencimiento",
        sa_column=Column(String(20), nullable=False, server_default="vencimiento"),
    )


class OpenItem(SQLModel, table=True):
    """One open document of the customer (FBL5N line item)."""

    __tablename__ = "open_item"
    __table_args__ = (Index("ix_open_item_customer", "sociedad", "cliente"),)

    id: int | None = Field(default=None, primary_key=True)
    sociedad: str = Field(max_length=10)
    cliente: str = Field(max_length=20)
    documento: str = Field(max_length=40)
    tipo: str = Field(default="", max_length=10)
    referencia: str = Field(default="", max_length=60)
    fecha_documento: date | None = None
    vencimiento: date
    importe: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    moneda: str = Field(max_length=5)
    texto: str = Field(default="", max_length=255)
    asignacion: str = Field(  # SAP's ZUONR
        default="", sa_column=Column(String(60), nullable=False, server_default="")
    )
    # SAP's per-item dunning block (MANSP) as exported; any non-blank value: in dispute
    bloqueo: str = Field(
        default="", sa_column=Column(String(10), nullable=False, server_default="")
    )


class DisputedItem(SQLModel, table=True):
    """An open item the customer disputes (``ledger dispute``): printed "En aclaración",
    left out of the overdue figures, kept in the balance. Keyed by document rather than by
    open-item row, so a re-import of the ledger keeps it; it ends when resolved or when
    an import no longer has the document open for the customer (cleared)."""

    __tablename__ = "disputed_item"

    sociedad: str = Field(primary_key=True, max_length=10)
    cliente: str = Field(primary_key=True, max_length=20)
    documento: str = Field(primary_key=True, max_length=40)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    disputed_by: str = Field(max_length=100)
    disputed_at: datetime = _timestamp()


class ClearedLedgerItem(SQLModel, table=True):
    """An item an all-items FBL5N export shows cleared (a clearing date): never open, kept
    for the payments and credits the statement says were received. Replaced per sociedad
    with the open items on import."""

    __tablename__ = "cleared_item"
    __table_args__ = (
        Index("ix_cleared_item_customer", "sociedad", "cliente", "fecha_compensacion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sociedad: str = Field(max_length=10)
    cliente: str = Field(max_length=20)
    documento: str = Field(max_length=40)
    tipo: str = Field(default="", max_length=10)
    referencia: str = Field(default="", max_length=60)
    fecha_documento: date | None = None
    importe: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    moneda: str = Field(max_length=5)
    texto: str = Field(default="", max_length=255)
    doc_compensacion: str = Field(default="", max_length=40)  # SAP's AUGBL
    fecha_compensacion: date  # SAP's AUGDT
    asignacion: str = Field(  # SAP's ZUONR
        default="", sa_column=Column(String(60), nullable=False, server_default="")
    )


class SendRun(SQLModel, table=True):
    """One execution of ``rotomail send``."""

    __tablename__ = "send_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _timestamp()
    finished_at: datetime | None = _timestamp(nullable=True)
    operator: str = Field(max_length=100)
    # the operating-system user who started it (``operator`` may be a configured name)
    os_user: str = Field(
        default="", sa_column=Column(String(100), nullable=False, server_default="")
    )
    sociedad: str = Field(max_length=10)
    statement_date: date
    mode: str = Field(max_length=10)  # send | test | dry-run | resend
    transport: str = Field(max_length=255)
    channel: str = Field(default="smtp", max_length=10)  # smtp | outbox (the claims' channel)
    status: str = Field(default="running", max_length=20)  # running|finished|aborted|interrupted
    host: str = Field(default="", max_length=255)
    pid: int = 0
    process_start: str = Field(default="", max_length=80)  # "<boot id>:<start ticks>"
    heartbeat_at: datetime | None = _timestamp(nullable=True)
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    uncertain: int = 0
    log_path: str = Field(default="", max_length=500)


class Delivery(SQLModel, table=True):
    """One customer's outcome within a run."""

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_run", "run_id", "cliente"),
        Index("ix_delivery_customer", "sociedad", "cliente", "statement_date"),
        Index("ix_delivery_message_id", "message_id"),
        Index("ix_delivery_verp_token", "verp_token"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="send_run.id")
    sociedad: str = Field(max_length=10)
    cliente: str = Field(max_length=20)
    statement_date: date
    nombre: str = Field(default="", max_length=200)
    correos: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    archivo: str = Field(default="", max_length=255)
    # pending | in_flight | sent | failed | skipped | uncertain | bounced
    status: str = Field(default="pending", max_length=20)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    refused: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    message_id: str = Field(default="", max_length=255)
    verp_token: str = Field(default="", max_length=32)  # in the envelope sender, when VERP is on
    bcc: str = Field(default="", max_length=320)  # the company's archive copy went here
    # the customer's collector, copied in a visible Cc (companies.X.collector_cc)
    cc: str = Field(default="", sa_column=Column(String(320), nullable=False, server_default=""))
    updated_at: datetime = _timestamp()
    idioma: str = Field(
        default="", sa_column=Column(String(2), nullable=False, server_default="")
    )  # the language the statement was written in
    # the payments and credits its statement said were received ("MXN 3,000.00"), or ""
    pagos: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # the invoice copies its e-mail attached, left out (size cap), missed and refused (JSON)
    copias: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # the amounts in dispute its statement showed, left out of overdue ("MXN 1,000.00"), or ""
    en_aclaracion: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    # where the statement sent is kept (<home>/statements/…), "" when it is not
    pdf_path: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))


class StatementClaim(SQLModel, table=True):
    """At most one real send per customer and statement date, across processes.

    The primary key is the lock: a run inserts the claim before sending; a second run (or
    a second operator on the same PostgreSQL database) finds it and does not send again.
    """

    __tablename__ = "statement_claim"

    sociedad: str = Field(primary_key=True, max_length=10)
    cliente: str = Field(primary_key=True, max_length=20)
    statement_date: date = Field(primary_key=True)
    channel: str = Field(default="smtp", primary_key=True, max_length=10)  # smtp | outbox
    run_id: int = Field(foreign_key="send_run.id")
    status: str = Field(max_length=20)  # in_flight | sent | partial | failed | bounced
    updated_at: datetime = _timestamp()


class DeliveryAddress(SQLModel, table=True):
    """What happened to one address of one customer's statement within a run.

    Written by the send (accepted / refused / deferred, with the SMTP reply) and later by
    ``rotomail bounces`` (bounced / delayed, with the report's status and diagnostic).
    """

    __tablename__ = "delivery_address"
    __table_args__ = (Index("ux_delivery_address", "run_id", "cliente", "correo", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="send_run.id")
    cliente: str = Field(max_length=20)
    correo: str = Field(max_length=320)
    # accepted | refused | deferred | bounced | delayed
    status: str = Field(max_length=20)
    code: str = Field(default="", max_length=20)  # "452 4.5.3" (SMTP) or "5.1.1" (report)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime = _timestamp()


def table_of(model: type[SQLModel]) -> Table:
    """The table ``model`` defines (SQLAlchemy Core): what every query is built on."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass
    return table

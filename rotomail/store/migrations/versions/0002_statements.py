"""Open items, send runs, per-customer deliveries and send claims (part 2).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_snapshot",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False, server_default=""),
        sa.Column("item_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "open_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("documento", sa.String(40), nullable=False),
        sa.Column("tipo", sa.String(10), nullable=False, server_default=""),
        sa.Column("referencia", sa.String(60), nullable=False, server_default=""),
        sa.Column("fecha_documento", sa.Date(), nullable=True),
        sa.Column("vencimiento", sa.Date(), nullable=False),
        sa.Column("importe", sa.Numeric(18, 2), nullable=False),
        sa.Column("moneda", sa.String(5), nullable=False),
        sa.Column("texto", sa.String(255), nullable=False, server_default=""),
    )
    op.create_index("ix_open_item_customer", "open_item", ["sociedad", "cliente"])
    op.create_table(
        "send_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("transport", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="running"),
        sa.Column("sent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("uncertain", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("log_path", sa.String(500), nullable=False, server_default=""),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("send_run.id"), nullable=False),
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("nombre", sa.String(200), nullable=False, server_default=""),
        sa.Column("correos", sa.Text(), nullable=False, server_default=""),
        sa.Column("archivo", sa.String(255), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("refused", sa.Text(), nullable=False, server_default=""),
        sa.Column("message_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_delivery_run", "delivery", ["run_id", "cliente"])
    op.create_index("ix_delivery_customer", "delivery", ["sociedad", "cliente", "statement_date"])
    op.create_table(
        "statement_claim",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("cliente", sa.String(20), primary_key=True),
        sa.Column("statement_date", sa.Date(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("send_run.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("statement_claim")
    op.drop_table("delivery")
    op.drop_table("send_run")
    op.drop_table("open_item")
    op.drop_table("ledger_snapshot")

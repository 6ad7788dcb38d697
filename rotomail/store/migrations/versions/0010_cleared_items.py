"""Cleared items of all-items ledger exports (clearing document and date): the payments and
credits a statement says were received, and what each delivered statement said of them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cleared_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("documento", sa.String(40), nullable=False),
        sa.Column("tipo", sa.String(10), nullable=False),
        sa.Column("referencia", sa.String(60), nullable=False),
        sa.Column("fecha_documento", sa.Date(), nullable=True),
        sa.Column("importe", sa.Numeric(18, 2), nullable=False),
        sa.Column("moneda", sa.String(5), nullable=False),
        sa.Column("texto", sa.String(255), nullable=False),
        sa.Column("doc_compensacion", sa.String(40), nullable=False),
        sa.Column("fecha_compensacion", sa.Date(), nullable=False),
    )
    op.create_index(
        "ix_cleared_item_customer",
        "cleared_item",
        ["sociedad", "cliente", "fecha_compensacion"],
    )
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("pagos", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("pagos")
    op.drop_index("ix_cleared_item_customer", table_name="cleared_item")
    op.drop_table("cleared_item")

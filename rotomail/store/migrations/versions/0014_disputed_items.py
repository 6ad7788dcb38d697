"""Disputed items: the documents a customer disputes (``ledger dispute``), SAP's per-item
dunning block read on import (MANSP), and the amounts in dispute each delivery's statement
showed.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputed_item",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("cliente", sa.String(20), primary_key=True),
        sa.Column("documento", sa.String(40), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("disputed_by", sa.String(100), nullable=False),
        sa.Column("disputed_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("open_item") as batch:
        batch.add_column(sa.Column("bloqueo", sa.String(10), nullable=False, server_default=""))
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("en_aclaracion", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("en_aclaracion")
    with op.batch_alter_table("open_item") as batch:
        batch.drop_column("bloqueo")
    op.drop_table("disputed_item")

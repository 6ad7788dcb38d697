"""Catalog language override, holds, the catalog's change trail, the language of each delivery.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_entry") as batch:
        batch.add_column(sa.Column("idioma", sa.String(2), nullable=False, server_default=""))
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("idioma", sa.String(2), nullable=False, server_default=""))
    op.create_table(
        "catalog_hold",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("cliente", sa.String(20), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_by", sa.String(100), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "catalog_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
    )
    op.create_index("ix_catalog_change_customer", "catalog_change", ["sociedad", "cliente"])


def downgrade() -> None:
    op.drop_index("ix_catalog_change_customer", table_name="catalog_change")
    op.drop_table("catalog_change")
    op.drop_table("catalog_hold")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("idioma")
    with op.batch_alter_table("catalog_entry") as batch:
        batch.drop_column("idioma")

"""Invoice copies: the items' assignment (SAP's ZUONR, where a CFDI's folio or UUID often
sits) and what each delivered statement attached of them.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("open_item", "cleared_item"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("asignacion", sa.String(60), nullable=False, server_default="")
            )
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("copias", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("copias")
    for table in ("cleared_item", "open_item"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("asignacion")

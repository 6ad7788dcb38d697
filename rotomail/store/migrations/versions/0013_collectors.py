"""Each customer's collector (SAP KNB1-BUSAB, the master's "Encargado") and the collector a
statement was copied to (Cc).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("ejecutivo", sa.String(20), nullable=False, server_default=""))
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("cc", sa.String(320), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("cc")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("ejecutivo")

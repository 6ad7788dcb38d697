"""Which date the aging of a ledger snapshot counts from: the net due date or a stand-in.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_snapshot") as batch:
        batch.add_column(
            sa.Column(
                "due_date_source",
                sa.String(20),
                nullable=False,
                server_default="vencimiento",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_snapshot") as batch:
        batch.drop_column("due_date_source")

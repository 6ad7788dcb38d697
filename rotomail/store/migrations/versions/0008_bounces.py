"""Bounces: the VERP token and the archive copy recorded with each delivery; deliveries
found by Message-ID or token when a report comes back.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("verp_token", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("bcc", sa.String(320), nullable=False, server_default=""))
    op.create_index("ix_delivery_message_id", "delivery", ["message_id"])
    op.create_index("ix_delivery_verp_token", "delivery", ["verp_token"])


def downgrade() -> None:
    op.drop_index("ix_delivery_verp_token", table_name="delivery")
    op.drop_index("ix_delivery_message_id", table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("bcc")
        batch.drop_column("verp_token")

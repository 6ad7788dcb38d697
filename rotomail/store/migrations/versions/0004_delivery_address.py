"""Per-address outcome of a delivery: the server's answer at send time, bounces later.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_address",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("send_run.id"), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("correo", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ux_delivery_address", "delivery_address", ["run_id", "cliente", "correo"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_delivery_address", table_name="delivery_address")
    op.drop_table("delivery_address")

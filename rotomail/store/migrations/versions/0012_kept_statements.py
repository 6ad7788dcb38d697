"""Where each statement sent is kept (``delivery.pdf_path``) and the operating-system user
who started each run (``send_run.os_user``: who asked for a resend).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("pdf_path", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("send_run") as batch:
        batch.add_column(sa.Column("os_user", sa.String(100), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("send_run") as batch:
        batch.drop_column("os_user")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("pdf_path")

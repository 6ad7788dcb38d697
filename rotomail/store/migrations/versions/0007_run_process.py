"""A run's process start time (liveness beyond the PID); runs and claims per channel
(smtp | outbox: a statement saved in the outbox is not one sent by SMTP).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEY = ["sociedad", "cliente", "statement_date", "channel"]
# Runs whose transport was the outbox (described as "buzón de salida <folder>").
_OUTBOX_RUNS = "UPDATE send_run SET channel = 'outbox' WHERE transport NOT LIKE 'smtp %'"
_OUTBOX_CLAIMS = (
    "UPDATE statement_claim SET channel = 'outbox' WHERE run_id IN "
    "(SELECT id FROM send_run WHERE channel = 'outbox')"
)


def upgrade() -> None:
    with op.batch_alter_table("send_run") as batch:
        batch.add_column(
            sa.Column("process_start", sa.String(80), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("channel", sa.String(10), nullable=False, server_default="smtp"))
    channel = sa.Column("channel", sa.String(10), nullable=False, server_default="smtp")
    if op.get_bind().dialect.name == "sqlite":  # no ALTER of a primary key: copy the table
        _copy_claims(_KEY, "sociedad, cliente, statement_date, 'smtp', run_id, status, updated_at")
    else:
        op.add_column("statement_claim", channel)
        op.drop_constraint("statement_claim_pkey", "statement_claim", type_="primary")
        op.create_primary_key("statement_claim_pkey", "statement_claim", _KEY)
    op.execute(_OUTBOX_RUNS)
    op.execute(_OUTBOX_CLAIMS)


def downgrade() -> None:
    op.execute("DELETE FROM statement_claim WHERE channel <> 'smtp'")
    if op.get_bind().dialect.name == "sqlite":
        _copy_claims(_KEY[:3], "sociedad, cliente, statement_date, run_id, status, updated_at")
    else:
        op.drop_constraint("statement_claim_pkey", "statement_claim", type_="primary")
        op.drop_column("statement_claim", "channel")
        op.create_primary_key("statement_claim_pkey", "statement_claim", _KEY[:3])
    with op.batch_alter_table("send_run") as batch:
        batch.drop_column("channel")
        batch.drop_column("process_start")


def _copy_claims(key: list[str], select_columns: str) -> None:
    columns: list[sa.Column[object]] = [
        sa.Column("sociedad", sa.String(10), nullable=False),
        sa.Column("cliente", sa.String(20), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
    ]
    if "channel" in key:
        columns.append(sa.Column("channel", sa.String(10), nullable=False, server_default="smtp"))
    op.create_table(
        "statement_claim_new",
        *columns,
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("send_run.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )
    op.execute(f"INSERT INTO statement_claim_new SELECT {select_columns} FROM statement_claim")
    op.drop_table("statement_claim")
    op.rename_table("statement_claim_new", "statement_claim")

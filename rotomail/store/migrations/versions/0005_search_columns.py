"""Search columns: names and addresses without accents or case, written once with the row.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from rotomail.ids import search_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("nombre_search", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("catalog_entry") as batch:
        batch.add_column(sa.Column("correos_search", sa.Text(), nullable=False, server_default=""))
    _backfill("customer", "nombre", "nombre_search")
    _backfill("catalog_entry", "correos", "correos_search")


def _backfill(table_name: str, source: str, target: str) -> None:
    """The rows already stored get their search text (Python's, the same as on write)."""
    connection = op.get_bind()
    table = sa.table(
        table_name,
        sa.column("sociedad", sa.String),
        sa.column("cliente", sa.String),
        sa.column(source, sa.Text),
        sa.column(target, sa.Text),
    )
    rows = connection.execute(sa.select(table.c.sociedad, table.c.cliente, table.c[source])).all()
    update = (
        table.update()
        .where(
            table.c.sociedad == sa.bindparam("key_sociedad"),
            table.c.cliente == sa.bindparam("key_cliente"),
        )
        .values({target: sa.bindparam("value")})
    )
    values = [
        {"key_sociedad": sociedad, "key_cliente": cliente, "value": search_key(text or "")}
        for sociedad, cliente, text in rows
    ]
    for start in range(0, len(values), _BATCH):
        connection.execute(update, values[start : start + _BATCH])


def downgrade() -> None:
    with op.batch_alter_table("catalog_entry") as batch:
        batch.drop_column("correos_search")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("nombre_search")

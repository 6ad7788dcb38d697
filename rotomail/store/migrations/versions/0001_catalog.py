"""Customer master and recipient catalog (part 1).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("cliente", sa.String(20), primary_key=True),
        sa.Column("nombre", sa.String(200), nullable=False),
        sa.Column("rfc", sa.String(20), nullable=False, server_default=""),
        sa.Column("correo", sa.Text(), nullable=False, server_default=""),
        sa.Column("idioma", sa.String(2), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "catalog_entry",
        sa.Column("sociedad", sa.String(10), primary_key=True),
        sa.Column("cliente", sa.String(20), primary_key=True),
        sa.Column("correos", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sociedad", "cliente"],
            ["customer.sociedad", "customer.cliente"],
            name="fk_catalog_customer",
        ),
    )


def downgrade() -> None:
    op.drop_table("catalog_entry")
    op.drop_table("customer")

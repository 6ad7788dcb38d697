"""Schema upgrades keep data: a database created by part 1's schema opens under the latest."""

from __future__ import annotations

from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table, text
from sqlalchemy.sql import TableClause
from sqlmodel import SQLModel

from rotomail.store import models  # noqa: F401 - registers the tables on SQLModel.metadata
from rotomail.store.db import (
    HEAD_REVISION,
    create_db_engine,
    current_revision,
    open_engine,
    upgrade,
    upgrade_schema,
)


def test_upgrade_from_part_one_schema_keeps_the_catalog(db_url: str) -> None:
    old = create_db_engine(db_url)
    upgrade(old, "0001")
    with old.begin() as connection:
        assert current_revision(connection) == "0001"
        connection.execute(
            text(
                "INSERT INTO customer (sociedad, cliente, nombre, rfc, correo, idioma, updated_at) "
                "VALUES ('SM02', '1006210', 'Agroequipos del Bajío', '', '', 'es', :now)"
            ),
            {"now": datetime(2026, 1, 1)},
        )
        connection.execute(
            text(
                "INSERT INTO catalog_entry (sociedad, cliente, correos, updated_at) "
                "VALUES ('SM02', '1006210', 'a@agro.example.mx;b@agro.example.mx', :now)"
            ),
            {"now": datetime(2026, 1, 1)},
        )
    old.dispose()

    if not db_url.startswith("sqlite"):  # a shared database is upgraded on purpose only
        upgrade_schema(db_url)
    engine = open_engine(db_url)
    with engine.connect() as connection:
        assert current_revision(connection) == HEAD_REVISION
        assert connection.execute(text("SELECT correos FROM catalog_entry")).scalar() == (
            "a@agro.example.mx;b@agro.example.mx"
        )
        assert connection.execute(text("SELECT count(*) FROM send_run")).scalar() == 0
        # 0006: an entry from before per-entry languages follows the master's language
        assert connection.execute(text("SELECT idioma FROM catalog_entry")).scalar() == ""
        assert connection.execute(text("SELECT count(*) FROM catalog_hold")).scalar() == 0
    engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = open_engine(db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_views_match_the_models() -> None:
    """store/views.py has lightweight views of the tables; each must have exactly the
    model's columns with the same Python types, or a renamed column would only fail at
    run time."""
    from rotomail.store import views

    tables = [v for v in vars(views).values() if isinstance(v, TableClause)]
    assert {v.name for v in tables} == set(SQLModel.metadata.tables)
    for view in tables:
        model_table = SQLModel.metadata.tables[view.name]
        assert [c.name for c in view.columns] == [c.name for c in model_table.columns]
        if isinstance(view, Table):
            assert [c.name for c in view.primary_key] == [c.name for c in model_table.primary_key]
        for view_column in view.columns:
            model_type = model_table.c[view_column.name].type
            model_type = getattr(model_type, "impl", model_type)  # SQLModel's AutoString
            assert model_type.python_type is view_column.type.python_type, view_column.name

"""Schema upgrades keep data: a database created by part 1's schema opens under the latest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

from rotomail.store import (
    db,
    models,  # noqa: F401 - registers the tables on SQLModel.metadata
)
from rotomail.store.db import (
    create_db_engine,
    current_revision,
    head_revision,
    known_revisions,
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
        assert current_revision(connection) == head_revision()
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


def test_the_head_revision_is_alembics_head() -> None:
    """store/db.py reads the head from the migration files' text (cheap, on every command);
    Alembic, loading the same files, must find the same single head and every revision."""
    scripts = ScriptDirectory(str(Path(db.__file__).parent / "migrations"))
    assert scripts.get_heads() == [head_revision()]
    assert {script.revision for script in scripts.walk_revisions()} == known_revisions()

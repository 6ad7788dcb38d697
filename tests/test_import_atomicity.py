"""Hypothesis: whatever bytes arrive, an import either succeeds or leaves the database as it
was, and only rotomail's own errors (a Spanish message) ever escape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_data import CUSTOMERS_TSV, LEDGER_TSV
from sqlalchemy import Engine, text

from rotomail.errors import DataError
from rotomail.inputs.parsers import parse_catalog_paste, parse_customers, parse_ledger
from rotomail.store.catalog_edits import apply_import, plan_import
from rotomail.store.customers import import_customers
from rotomail.store.db import open_engine
from rotomail.store.ledger import import_ledger

PASTE = "SM02\t1006210\ta@agro.example.mx\nSM02\t1004273\tb@ferre.example.mx\nSM02\t1001400\n"
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    import_customers(engine, parse_customers(CUSTOMERS_TSV.encode()))
    import_ledger(engine, parse_ledger(LEDGER_TSV.encode()), date(2026, 11, 30))
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all())
            for table in ("customer", "catalog_entry", "open_item", "ledger_snapshot")
        ]


def mutated(base: str) -> st.SearchStrategy[bytes]:
    """The valid file with a random slice replaced by random text, in a random encoding."""
    return st.tuples(
        st.integers(0, len(base)),
        st.integers(0, 40),
        st.text(max_size=40),
        st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    ).map(lambda t: (base[: t[0]] + t[2] + base[t[0] + t[1] :]).encode(t[3], "replace"))


@FUZZ
@given(data=st.one_of(mutated(LEDGER_TSV), st.binary(max_size=300)))
def test_ledger_import_is_all_or_nothing(engine: Engine, data: bytes) -> None:
    before = snapshot(engine)
    try:
        parsed = parse_ledger(data)
        import_ledger(engine, parsed, date(2026, 11, 30))
    except DataError as exc:
        assert exc.message
        assert snapshot(engine) == before


def catalog(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as connection:
        query = text("SELECT sociedad, cliente, correos FROM catalog_entry")
        return {(s, c): correos for s, c, correos in connection.execute(query)}


@FUZZ
@given(data=st.one_of(mutated(PASTE), st.binary(max_size=200)))
def test_catalog_paste_changes_only_what_a_valid_row_says(engine: Engine, data: bytes) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM catalog_entry"))
    apply_import(
        engine, plan_import(engine, parse_catalog_paste(b"SM02\t1004273\tviejo@ferre.example.mx\n"))
    )
    before = catalog(engine)
    try:
        plan = plan_import(engine, parse_catalog_paste(data))
    except DataError as exc:
        assert exc.message
        assert catalog(engine) == before
        return
    apply_import(engine, plan)
    expected = dict(before)
    expected.update({(r.sociedad, r.cliente): r.correo_text for r in plan if r.ok})
    assert catalog(engine) == expected

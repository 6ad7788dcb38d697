"""``delivery.plan.plan_run``, called as a second front end would (no Typer), on the test
database (SQLite, or PostgreSQL through ``db_url``). The data is loaded through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from rotomail.config import load_settings
from rotomail.delivery.plan import IncompleteCatalog, RunRequest, plan_run
from rotomail.errors import DataError, UsageError
from rotomail.store.db import open_engine
from tests.conftest import Cli

CUTOFF = date(2026, 11, 30)


@pytest.fixture
def engine(loaded: Cli, db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def test_a_plan_names_every_customer_the_run_targets(engine: Engine) -> None:
    plan = plan_run(engine, load_settings(), RunRequest("sm02", CUTOFF))
    assert plan.sociedad == "SM02"
    assert plan.statement_date == CUTOFF
    assert plan.company.name == "Tinacos Ejemplo S.A. de C.V."
    assert [(c.cliente, c.correos) for c in plan.candidates] == [
        ("1001400", ("cxp@plomeria.example.mx",)),
        ("1004273", ("pagos@ferrelopez.example.mx",)),
        ("1006210", ("a@agro.example.mx", "b@agro.example.mx")),
    ]
    assert plan.named == []
    assert plan.channel == "outbox"  # no SMTP host configured
    assert (plan.missing, plan.held, plan.already_sent) == ([], {}, frozenset())
    assert plan.ledger_date == CUTOFF


def test_a_plan_knows_who_already_has_the_statement_and_who_is_held(
    loaded: Cli, engine: Engine
) -> None:
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", "2026-11-30")
    assert result.exit_code == 0, result.output
    assert loaded("catalog", "hold", "SM02", "1006210", "--reason", "disputa").exit_code == 0

    plan = plan_run(engine, load_settings(), RunRequest("SM02", CUTOFF))
    assert [c.cliente for c in plan.candidates] == ["1001400", "1004273"]
    assert plan.held == {"1006210": "disputa"}
    assert plan.already_sent == frozenset({"1004273"})
    # a rehearsal sends nothing for real: nothing counts as already sent
    rehearsal = plan_run(engine, load_settings(), RunRequest("SM02", CUTOFF, mode="dry-run"))
    assert rehearsal.already_sent == frozenset()


def test_a_plan_is_refused_before_anything_is_sent(loaded: Cli, engine: Engine) -> None:
    settings = load_settings()
    with pytest.raises(UsageError, match="Indique la sociedad"):
        plan_run(engine, settings, RunRequest(None, CUTOFF))
    with pytest.raises(DataError, match="No están en el catálogo de la sociedad SM02: 1999999"):
        plan_run(engine, settings, RunRequest("SM02", CUTOFF, clientes=["1999999"]))

    assert loaded("catalog", "delete", "SM02", "1004273", "--yes").exit_code == 0
    with pytest.raises(IncompleteCatalog) as refused:
        plan_run(engine, settings, RunRequest("SM02", CUTOFF, require_complete=True))
    assert [m.cliente for m in refused.value.missing] == ["1004273"]
    assert plan_run(engine, settings, RunRequest("SM02", CUTOFF)).missing == refused.value.missing

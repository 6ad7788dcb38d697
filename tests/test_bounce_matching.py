"""Which delivery a bounce report is about (rotomail.store.bounces), on the real database: by
VERP token, by Message-ID, by address within the 7-day window; and what recording it
changes (the per-address row, the customer, the claim)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from rotomail.delivery import claims
from rotomail.delivery.candidates import Candidate
from rotomail.delivery.claims import ClaimKey
from rotomail.delivery.records import RunRecords
from rotomail.delivery.report import Outcome, SendOptions
from rotomail.store import bounces
from rotomail.store.bounces import MATCH_WINDOW, AddressOutcome, SentDelivery
from rotomail.store.db import open_engine
from rotomail.store.models import Delivery, DeliveryAddress, StatementClaim
from rotomail.words import AddressStatus, Mode, Status

DATE = date(2026, 11, 30)
DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
ADDRESS = DeliveryAddress.__table__  # type: ignore[attr-defined]
CLAIM = StatementClaim.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 12, 1, 12, 0, 0)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def sent(
    engine: Engine,
    cliente: str = "1001",
    correos: str = "pagos@cliente.example.mx",
    *,
    status: str = Status.SENT,
    mode: Mode = Mode.SEND,
    **values: Any,
) -> int:
    """A run that sent ``cliente`` its statement; the run id."""
    options = SendOptions(sociedad="SM02", statement_date=DATE, operator="prueba", mode=mode)
    candidate = Candidate("SM02", cliente, f"Cliente {cliente}", "", tuple(correos.split(";")))
    records = RunRecords(engine, options)
    run_id = records.start([candidate], "smtp prueba")
    records.record(Outcome(cliente, "", tuple(correos.split(";")), Status(status)))
    with engine.begin() as connection:
        connection.execute(
            DELIVERY.update()
            .where(DELIVERY.c.run_id == run_id)
            .values(updated_at=values.pop("updated_at", NOW), **values)
        )
    return run_id


def test_by_verp_token(engine: Engine) -> None:
    run_id = sent(
        engine,
        correos="pagos@cliente.example.mx;;compras@cliente.example.mx",
        verp_token="t0k3n",
        cc="Ana@Example.MX",
        bcc="",
    )
    sent(engine, "1002", verp_token="otro")
    with engine.connect() as connection:
        assert bounces.by_verp_token(connection, "") is None
        assert bounces.by_verp_token(connection, "nadie") is None
        assert bounces.by_verp_token(connection, "t0k3n") == SentDelivery(
            run_id,
            "SM02",
            "1001",
            DATE,
            ("pagos@cliente.example.mx", "compras@cliente.example.mx"),
            "sent",
            ("ana@example.mx",),
        )


@pytest.mark.parametrize(
    ("status", "mode", "matched"),
    [
        (Status.SENT, Mode.SEND, True),
        (Status.SAVED, Mode.SEND, True),
        (Status.BOUNCED, Mode.SEND, True),
        (Status.SENT, Mode.RESEND, True),
        (Status.FAILED, Mode.SEND, False),
        (Status.PARTIAL, Mode.SEND, False),
        (Status.SENT, Mode.TEST, False),  # went to the operator, not the customer
    ],
)
def test_only_a_statement_that_went_out_to_the_customer_is_matched(
    engine: Engine, status: str, mode: Mode, matched: bool
) -> None:
    sent(engine, status=status, mode=mode, verp_token="tok", message_id="<m1@example.mx>")
    with engine.connect() as connection:
        found = [
            bounces.by_verp_token(connection, "tok"),
            bounces.by_message_id(connection, ["<m1@example.mx>"]),
            bounces.by_recipient(connection, "pagos@cliente.example.mx", NOW),
        ]
    assert [f is not None for f in found] == [matched] * 3


def test_by_message_id_the_latest_delivery_with_one_of_them(engine: Engine) -> None:
    sent(engine, message_id="<a@example.mx>")
    later = sent(engine, "1002", message_id="<a@example.mx>")
    with engine.connect() as connection:
        assert bounces.by_message_id(connection, []) is None
        assert bounces.by_message_id(connection, ["", ""]) is None
        found = bounces.by_message_id(connection, ["", "<otro@example.mx>", "<a@example.mx>"])
    assert found is not None and (found.run_id, found.cliente) == (later, "1002")


@pytest.mark.parametrize(
    ("sent_at", "matched"),
    [
        (NOW - MATCH_WINDOW - timedelta(minutes=1), False),
        (NOW - MATCH_WINDOW + timedelta(minutes=1), True),
        (NOW, True),
        (NOW + timedelta(hours=23), True),  # a report dated by a clock a little behind
        (NOW + timedelta(days=1, minutes=1), False),
    ],
)
def test_by_address_only_within_the_window(
    engine: Engine, sent_at: datetime, matched: bool
) -> None:
    sent(engine, updated_at=sent_at)
    with engine.connect() as connection:
        found = bounces.by_recipient(connection, "pagos@cliente.example.mx", NOW)
    assert (found is not None) == matched


def test_by_address_the_latest_delivery_to_exactly_that_address(engine: Engine) -> None:
    sent(engine, correos="pagos@cliente.example.mx", updated_at=NOW - timedelta(days=2))
    latest = sent(engine, correos="X@y.example.mx;Pagos@Cliente.example.mx")
    sent(engine, "1003", correos="otrospagos@cliente.example.mx", updated_at=NOW)
    sent(engine, "1004", correos="pagos@cliente.example.mx", updated_at=NOW - timedelta(days=3))
    with engine.connect() as connection:
        found = bounces.by_recipient(connection, "PAGOS@cliente.example.mx", NOW)
        assert bounces.by_recipient(connection, "gos@cliente.example.mx", NOW) is None
        assert bounces.by_recipient(connection, "pagos_cliente.example.mx", NOW) is None
    assert found is not None and (found.run_id, found.cliente) == (latest, "1001")


def address_rows(engine: Engine, run_id: int) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(ADDRESS.c.correo, ADDRESS.c.status, ADDRESS.c.code, ADDRESS.c.detail)
            .where(ADDRESS.c.run_id == run_id, ADDRESS.c.cliente == "1001")
            .order_by(ADDRESS.c.correo)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_recording_an_address(engine: Engine) -> None:
    run_id = sent(engine, verp_token="tok")
    with engine.connect() as connection:
        delivery = bounces.by_verp_token(connection, "tok")
    assert delivery is not None
    address = "pagos@cliente.example.mx"
    delayed = AddressOutcome(address, AddressStatus.DELAYED, "4.4.1", "retrasado")
    bounced = AddressOutcome(address, AddressStatus.BOUNCED, "5.1.1 " + "x" * 30, "no existe")

    def record(outcome: AddressOutcome) -> bool:
        with engine.begin() as connection:
            return bounces.record_address(connection, delivery, outcome)

    assert record(delayed)
    assert address_rows(engine, run_id) == [(address, "delayed", "4.4.1", "retrasado")]
    assert not record(delayed)  # the same report read twice
    assert record(AddressOutcome(address, AddressStatus.DELAYED, "4.4.7", "retrasado"))
    assert record(AddressOutcome(address, AddressStatus.DELAYED, "4.4.7", "aún retrasado"))
    assert record(bounced)
    assert address_rows(engine, run_id) == [
        (address, "bounced", ("5.1.1 " + "x" * 30)[:20], "no existe")
    ]
    assert not record(bounced)
    assert not record(delayed)  # a delay never overwrites a bounce
    assert address_rows(engine, run_id)[0][1] == "bounced"


def test_marking_a_customer_bounced_moves_its_claim(engine: Engine) -> None:
    run_id = sent(engine, verp_token="tok")
    other = sent(engine, "1002", verp_token="tok2")
    key = ClaimKey("SM02", "1001", DATE)
    with engine.begin() as connection:
        assert claims.take(connection, key, run_id) is None
        assert claims.advance(connection, key, run_id, Status.IN_FLIGHT, Status.SENT)
        assert claims.take(connection, ClaimKey("SM02", "1002", DATE), other) is None
    with engine.connect() as connection:
        delivery = bounces.by_verp_token(connection, "tok")
    assert delivery is not None
    with engine.begin() as connection:
        assert bounces.mark_bounced(connection, delivery, "todas rebotaron")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT cliente, status, detail FROM delivery ORDER BY cliente")
        ).all()
        claim_rows = connection.execute(
            text("SELECT cliente, status FROM statement_claim ORDER BY cliente")
        ).all()
        again = bounces.by_verp_token(connection, "tok")
    assert [tuple(r) for r in rows] == [
        ("1001", "bounced", "todas rebotaron"),
        ("1002", "sent", ""),
    ]
    assert [tuple(r) for r in claim_rows] == [("1001", "bounced"), ("1002", "in_flight")]
    assert again is not None
    with engine.begin() as connection:
        assert not bounces.mark_bounced(connection, again, "otra vez")

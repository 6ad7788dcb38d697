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
        (NOW - MATCH_WINDOW - timedelta(microseconds=1), False),
        (NOW - MATCH_WINDOW, True),  # exactly seven days before: still in the window
        (NOW - MATCH_WINDOW + timedelta(minutes=1), True),
        (NOW, True),
        (NOW + timedelta(hours=23), True),  # a report dated by a clock a little behind
        (NOW + timedelta(days=1), True),  # exactly a day after: still in
        (NOW + timedelta(days=1, microseconds=1), False),
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


def test_by_address_two_deliveries_at_the_same_moment_the_later_one(engine: Engine) -> None:
    """The statement sent again within the same second (a resend right after the send): the
    report is about the later delivery, the one the customer received last."""
    sent(engine, "1001")
    later = sent(engine, "1002")
    with engine.connect() as connection:
        found = bounces.by_recipient(connection, "pagos@cliente.example.mx", NOW)
    assert found is not None and (found.run_id, found.cliente) == (later, "1002")


@pytest.mark.parametrize(
    ("stored", "reported"),
    [
        ("PEÑA@cliente.example.mx", "PEÑA@cliente.example.mx"),
        ("PEÑA@cliente.example.mx", "peña@cliente.example.mx"),
        ("Peña@Cliente.example.mx", "peña@cliente.example.mx"),
        ("peña@cliente.example.mx", "PEÑA@cliente.example.mx"),
        ("ÁLVARO.NÚÑEZ@cliente.example.mx", "álvaro.núñez@cliente.example.mx"),
    ],
)
def test_by_address_with_letters_beyond_ascii(engine: Engine, stored: str, reported: str) -> None:
    """An address with "Ñ" or accents is matched whatever its case, on SQLite too (whose
    lower() and LIKE fold ASCII letters only); an ASCII look-alike is another address."""
    run_id = sent(engine, correos=f"pagos@cliente.example.mx;{stored}")
    sent(engine, "1002", correos="pena@cliente.example.mx;alvaro.nunez@cliente.example.mx")
    with engine.connect() as connection:
        found = bounces.by_recipient(connection, reported, NOW)
        assert bounces.by_recipient(connection, "x" + reported, NOW) is None
    assert found is not None and (found.run_id, found.cliente) == (run_id, "1001")


def sent_to(engine: Engine, customers: dict[str, str]) -> int:
    """One run that sent each customer (cliente -> its addresses) its statement, all at
    ``NOW``; the run id."""
    options = SendOptions(sociedad="SM02", statement_date=DATE, operator="prueba")
    records = RunRecords(engine, options)
    run_id = records.start(
        [
            Candidate("SM02", c, f"Cliente {c}", "", tuple(a.split(";")))
            for c, a in customers.items()
        ],
        "smtp prueba",
    )
    for cliente, correos in customers.items():
        records.record(Outcome(cliente, "", tuple(correos.split(";")), Status.SENT))
    with engine.begin() as connection:
        connection.execute(
            DELIVERY.update().where(DELIVERY.c.run_id == run_id).values(updated_at=NOW)
        )
    return run_id


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


def test_an_address_is_recorded_on_its_own_run_customer_and_address(engine: Engine) -> None:
    """Two customers of one run share an address, and the first was sent its statement again
    by a later run: a report about one delivery's address changes that row alone."""
    pagos, compras = "pagos@cliente.example.mx", "compras@cliente.example.mx"
    first = sent_to(engine, {"1001": f"{pagos};{compras}", "1002": pagos})
    again = sent_to(engine, {"1001": pagos})

    def record(run_id: int, cliente: str, correo: str, status: str, code: str, detail: str) -> bool:
        delivery = SentDelivery(run_id, "SM02", cliente, DATE, (correo,), Status.SENT)
        outcome = AddressOutcome(correo, AddressStatus(status), code, detail)
        with engine.begin() as connection:
            return bounces.record_address(connection, delivery, outcome)

    for run_id, cliente, correo in [
        (first, "1001", compras),
        (first, "1002", pagos),
        (again, "1001", pagos),
    ]:
        assert record(run_id, cliente, correo, "delayed", "4.4.1", "retrasado")
    assert record(first, "1001", pagos, "bounced", "5.1.1", "no existe")
    assert not record(first, "1001", pagos, "bounced", "5.1.1", "no existe")
    assert record(first, "1001", pagos, "bounced", "5.2.2", "buzón lleno")
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                ADDRESS.c.run_id,
                ADDRESS.c.cliente,
                ADDRESS.c.correo,
                ADDRESS.c.status,
                ADDRESS.c.code,
                ADDRESS.c.detail,
            ).order_by(ADDRESS.c.run_id, ADDRESS.c.cliente, ADDRESS.c.correo)
        ).all()
    assert [tuple(r) for r in rows] == [
        (first, "1001", compras, "delayed", "4.4.1", "retrasado"),
        (first, "1001", pagos, "bounced", "5.2.2", "buzón lleno"),
        (first, "1002", pagos, "delayed", "4.4.1", "retrasado"),
        (again, "1001", pagos, "delayed", "4.4.1", "retrasado"),
    ]


def test_a_bounce_of_an_earlier_run_leaves_the_later_send_and_the_other_customers(
    engine: Engine,
) -> None:
    """The statement of 1001 was sent again (--force) by a later run, which now holds the
    claim, when a report about the first run's message arrives: only the first run's
    delivery of 1001 becomes bounced. The other customer of the first run keeps its claim
    until a report about it comes, and then its claim follows."""
    first = sent_to(engine, {"1001": "pagos@cliente.example.mx", "1002": "cxp@otro.example.mx"})
    with engine.begin() as connection:
        for cliente in ("1001", "1002"):
            key = ClaimKey("SM02", cliente, DATE)
            assert claims.take(connection, key, first) is None
            assert claims.advance(connection, key, first, Status.IN_FLIGHT, Status.SENT)
    later = sent_to(engine, {"1001": "pagos@cliente.example.mx"})
    with engine.begin() as connection:
        key = ClaimKey("SM02", "1001", DATE)
        assert claims.take(connection, key, later, force=True) is None
        assert claims.advance(connection, key, later, Status.IN_FLIGHT, Status.SENT)
        connection.execute(CLAIM.update().values(updated_at=NOW))

    def mark(cliente: str, detail: str) -> bool:
        delivery = SentDelivery(first, "SM02", cliente, DATE, (), Status.SENT)
        with engine.begin() as connection:
            return bounces.mark_bounced(connection, delivery, detail)

    def state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with engine.connect() as connection:
            deliveries = connection.execute(
                select(
                    DELIVERY.c.run_id,
                    DELIVERY.c.cliente,
                    DELIVERY.c.status,
                    DELIVERY.c.detail,
                    DELIVERY.c.updated_at > NOW,
                ).order_by(DELIVERY.c.run_id, DELIVERY.c.cliente)
            ).all()
            claimed = connection.execute(
                select(
                    CLAIM.c.cliente, CLAIM.c.run_id, CLAIM.c.status, CLAIM.c.updated_at > NOW
                ).order_by(CLAIM.c.cliente)
            ).all()
        return [tuple(r) for r in deliveries], [tuple(r) for r in claimed]

    assert mark("1001", "todas rebotaron")
    assert state() == (
        [
            (first, "1001", "bounced", "todas rebotaron", True),
            (first, "1002", "sent", "", False),
            (later, "1001", "sent", "", False),
        ],
        [("1001", later, "sent", False), ("1002", first, "sent", False)],
    )
    assert mark("1002", "no existe")
    assert state()[1] == [("1001", later, "sent", False), ("1002", first, "bounced", True)]

"""A delivery channel is one module and one registry entry: a third channel, kept in memory
and registered here, runs a real ``rotomail send`` end to end. The claim is committed before
its point of no return, every recipient's answer is recorded, and exactly once holds for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, text
from test_send import DATE, statuses

from rotomail.config import Settings
from rotomail.delivery import channels
from rotomail.delivery.messages import message_bytes
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.results import (
    Delivery,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    TransportSetup,
)
from tests.conftest import Cli

REFUSED = {"b@agro.example.mx": "550 5.1.1 No such user"}
GREYLISTED = {"pagos@ferrelopez.example.mx": "451 4.7.1 Greylisted, try again later"}


@dataclass
class Box:
    """What the memory channel was given, and what the database said at each claim."""

    db_url: str
    delivered: list[Outgoing] = field(default_factory=list)
    claims_at_delivery: list[list[tuple[str, str, str, int]]] = field(default_factory=list)
    opened: int = 0

    def claims_in_flight(self) -> list[tuple[str, str, str, int]]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT cliente, status, channel, run_id FROM statement_claim "
                        "WHERE status = 'in_flight'"
                    )
                )
                return [tuple(row) for row in rows]
        finally:
            engine.dispose()


class MemoryTransport:
    """Keeps each message; refuses and greylists as the module's tables say."""

    delivered_status = "sent"

    def __init__(self, box: Box) -> None:
        self.box = box
        self.greylisted: set[str] = set()

    def deliver(self, outgoing: Outgoing, *, retry: bool = True) -> Delivery:
        message_bytes(outgoing)  # the shared MIME builder works for any channel
        recipients = outgoing.recipients
        refused = {a: REFUSED[a] for a in recipients if a in REFUSED}
        deferred = {
            a: GREYLISTED[a]
            for a in recipients
            if a in GREYLISTED and a not in self.greylisted and retry
        }
        self.greylisted.update(deferred)
        accepted = [a for a in recipients if a not in refused and a not in deferred]
        if not accepted and deferred:  # nobody to deliver to now: no claim taken
            raise TemporaryFailure(next(iter(deferred.values())), deferred=deferred)
        if not accepted:
            raise PermanentFailure(next(iter(refused.values())), refused=refused)
        if outgoing.claim is not None:  # the point of no return comes next
            outgoing.claim()
            self.box.claims_at_delivery.append(self.box.claims_in_flight())
        self.box.delivered.append(outgoing)
        return Delivery(accepted, refused, "250 kept in memory", deferred)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


@pytest.fixture
def box(loaded: Cli, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Box]:
    """The memory channel registered first, so a run with any settings uses it."""
    kept = Box(db_url)

    def open_transports(settings: Settings, setup: TransportSetup) -> Callable[[int], Transport]:
        kept.opened += 1
        return lambda run_id: MemoryTransport(kept)

    memory = channels.Channel(
        "memory",
        lambda settings, mode: mode != "dry-run",
        lambda settings: "memoria de prueba",
        open_transports,
    )
    monkeypatch.setattr(channels, "CHANNELS", {"memory": memory, **channels.CHANNELS})
    monkeypatch.setenv("ROTOMAIL_SMTP_RETRY_WAIT", "0.01")
    monkeypatch.setenv("ROTOMAIL_SMTP_ROUND_WAIT", "0.01")
    yield kept


def rows(db_url: str, query: str) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def test_a_registered_channel_sends_with_claims_and_answers_per_recipient(
    box: Box, loaded: Cli, db_url: str
) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)

    assert result.exit_code == 0, result.output
    assert "transporte memoria de prueba" in result.stdout
    assert "(rechazados: b@agro.example.mx (550 5.1.1 No such user))" in result.stdout
    assert "Registro enviado a operador@example.mx." in result.stdout
    assert statuses(loaded, 1) == {"1001400": "enviado", "1004273": "enviado", "1006210": "enviado"}
    # Two statements at once; the greylisted customer's at the end of the run, to that
    # address only; then the operator's log (no claim).
    statements = [o for o in box.delivered if o.claim is not None]
    assert sorted(o.recipients for o in statements[:2]) == [
        ["a@agro.example.mx", "b@agro.example.mx"],
        ["cxp@plomeria.example.mx"],
    ]
    assert statements[2].recipients == ["pagos@ferrelopez.example.mx"]
    assert statements[2].name.startswith("1004273")
    assert [o.recipients for o in box.delivered if o.claim is None] == [["operador@example.mx"]]
    # At each point of no return the customer's claim, for this channel, was committed.
    customers = [o.name.partition("_")[0] for o in statements]
    assert box.claims_at_delivery == [[(c, "in_flight", "memory", 1)] for c in customers]
    assert rows(db_url, "SELECT channel, transport FROM send_run") == [
        ("memory", "memoria de prueba")
    ]
    assert sorted(rows(db_url, "SELECT cliente, channel, status, run_id FROM statement_claim")) == [
        ("1001400", "memory", "sent", 1),
        ("1004273", "memory", "sent", 1),
        ("1006210", "memory", "sent", 1),
    ]
    assert sorted(rows(db_url, "SELECT correo, status, code FROM delivery_address")) == [
        ("a@agro.example.mx", "accepted", "250"),
        ("b@agro.example.mx", "refused", "550 5.1.1"),
        ("cxp@plomeria.example.mx", "accepted", "250"),
        ("pagos@ferrelopez.example.mx", "accepted", "250"),
    ]

    again = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert again.exit_code == 0, again.output
    assert "ya enviado para esta fecha (corrida 1)" in again.stdout
    assert len([o for o in box.delivered if o.claim is not None]) == 3  # nothing sent twice


def test_a_dry_run_still_goes_to_the_outbox(box: Box, loaded: Cli) -> None:
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "transporte buzón de salida" in result.stdout
    assert box.delivered == [] and box.opened == 0

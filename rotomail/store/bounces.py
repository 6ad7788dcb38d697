"""Bounces in the database: finding the delivery a report is about, the per-address record
(``delivery_address``), and the queries the follow-up commands use."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, insert, select, update

from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.store.models import (
    CatalogEntry,
    Customer,
    Delivery,
    DeliveryAddress,
    SendRun,
    StatementClaim,
    table_of,
)
from rotomail.words import REAL_MODES, AddressStatus, Status, with_code

_run = table_of(SendRun)
_delivery = table_of(Delivery)
_address = table_of(DeliveryAddress)
_catalog = table_of(CatalogEntry)
_customer = table_of(Customer)
_claim = table_of(StatementClaim)

# A report about a statement arrives within days; older deliveries are not matched by address.
MATCH_WINDOW = timedelta(days=7)
# Customer statuses a report can be about: the message went out, by SMTP or from the outbox
# (an administrator may relay the saved .eml files by other means).
_REPORTABLE = (Status.SENT, Status.SAVED, Status.BOUNCED)


@dataclass(frozen=True)
class SentDelivery:
    run_id: int
    sociedad: str
    cliente: str
    statement_date: Any
    correos: tuple[str, ...]
    status: str
    copies: tuple[str, ...] = ()  # the collector's Cc and the archive's blind copy, lower case

    @classmethod
    def of(cls, row: Row[Any]) -> SentDelivery:
        return cls(
            row.run_id,
            row.sociedad,
            row.cliente,
            row.statement_date,
            tuple(a for a in row.correos.split(";") if a),
            row.status,
            tuple(a.lower() for a in (row.cc, row.bcc) if a),
        )


def _sent() -> Any:
    return (
        select(
            _delivery.c.run_id,
            _delivery.c.sociedad,
            _delivery.c.cliente,
            _delivery.c.statement_date,
            _delivery.c.correos,
            _delivery.c.status,
            _delivery.c.cc,
            _delivery.c.bcc,
        )
        .join(_run, _run.c.id == _delivery.c.run_id)
        .where(_run.c.mode.in_(REAL_MODES), _delivery.c.status.in_(_REPORTABLE))
    )


def by_verp_token(connection: Connection, token: str) -> SentDelivery | None:
    if not token:
        return None
    row = connection.execute(_sent().where(_delivery.c.verp_token == token)).first()
    return SentDelivery.of(row) if row else None


def by_message_id(connection: Connection, message_ids: Iterable[str]) -> SentDelivery | None:
    wanted = [m for m in message_ids if m]
    if not wanted:
        return None
    row = connection.execute(
        _sent().where(_delivery.c.message_id.in_(wanted)).order_by(_delivery.c.id.desc())
    ).first()
    return SentDelivery.of(row) if row else None


def by_recipient(connection: Connection, address: str, when: datetime) -> SentDelivery | None:
    """The latest delivery to ``address`` sent in the window before ``when``."""
    needle = address.lower()
    query = _sent().where(
        _delivery.c.updated_at >= when - MATCH_WINDOW,
        _delivery.c.updated_at <= when + timedelta(days=1),
    )
    if needle.isascii():
        # Only narrows the rows (the loop below compares whole addresses). SQLite's lower()
        # and LIKE fold ASCII letters only, so an address such as "PEÑA@..." is not found
        # this way there: such addresses are compared in Python alone.
        query = query.where(_delivery.c.correos.icontains(needle, autoescape=True))
    rows = connection.execute(
        query.order_by(_delivery.c.updated_at.desc(), _delivery.c.id.desc())
    ).all()
    for row in rows:
        found = SentDelivery.of(row)
        if needle in (a.lower() for a in found.correos):
            return found
    return None


@dataclass(frozen=True)
class AddressOutcome:
    correo: str
    status: AddressStatus  # bounced or delayed
    code: str
    detail: str


def record_address(connection: Connection, delivery: SentDelivery, outcome: AddressOutcome) -> bool:
    """Record what a report says about one address; False when it changes nothing.

    A delay never overwrites a bounce, and the same report read twice changes nothing.
    """
    key = and_(
        _address.c.run_id == delivery.run_id,
        _address.c.cliente == delivery.cliente,
        _address.c.correo == outcome.correo,
    )
    current = connection.execute(
        select(_address.c.status, _address.c.code, _address.c.detail).where(key)
    ).first()
    values = {
        "status": outcome.status,
        "code": outcome.code[:20],
        "detail": outcome.detail,
        "updated_at": datetime.now(),
    }
    if current is None:
        connection.execute(
            insert(_address).values(
                run_id=delivery.run_id, cliente=delivery.cliente, correo=outcome.correo, **values
            )
        )
        return True
    if (current.status, current.code, current.detail) == (
        outcome.status,
        values["code"],
        outcome.detail,
    ):
        return False
    if current.status == AddressStatus.BOUNCED and outcome.status == AddressStatus.DELAYED:
        return False
    connection.execute(update(_address).where(key).values(**values))
    return True


def addresses_of(connection: Connection, run_id: int, cliente: str) -> dict[str, Row[Any]]:
    rows = connection.execute(
        select(_address).where(_address.c.run_id == run_id, _address.c.cliente == cliente)
    ).all()
    return {row.correo.lower(): row for row in rows}


def mark_bounced(connection: Connection, delivery: SentDelivery, detail: str) -> bool:
    """The customer as "bounced" (every address bounced); False when it already was."""
    if delivery.status == Status.BOUNCED:
        return False
    connection.execute(
        update(_delivery)
        .where(_delivery.c.run_id == delivery.run_id, _delivery.c.cliente == delivery.cliente)
        .values(status=Status.BOUNCED, detail=detail, updated_at=datetime.now())
    )
    # The claim follows, so a later send skips the customer unless asked to retry.
    connection.execute(
        update(_claim)
        .where(
            _claim.c.sociedad == delivery.sociedad,
            _claim.c.cliente == delivery.cliente,
            _claim.c.statement_date == delivery.statement_date,
            _claim.c.run_id == delivery.run_id,
            _claim.c.status.in_((Status.SENT, Status.SAVED)),
        )
        .values(status=Status.BOUNCED, updated_at=datetime.now())
    )
    return True


def run_addresses(engine: Engine, run_id: int) -> dict[str, list[Row[Any]]]:
    """cliente -> its per-address records in ``run_id``."""
    found: dict[str, list[Row[Any]]] = defaultdict(list)
    query = select(_address).where(_address.c.run_id == run_id).order_by(_address.c.id)
    with engine.connect() as connection:
        for row in connection.execute(query):
            found[row.cliente].append(row)
    return found


def bounced_addresses(
    engine: Engine, sociedad: str, clientes: Iterable[str]
) -> dict[str, set[str]]:
    """cliente -> the addresses (lower case) that bounced in any run of ``sociedad``."""
    wanted = [normalize_cliente(c) for c in clientes]
    query = (
        select(_address.c.cliente, _address.c.correo)
        .join(
            _delivery,
            and_(
                _delivery.c.run_id == _address.c.run_id, _delivery.c.cliente == _address.c.cliente
            ),
        )
        .where(
            _delivery.c.sociedad == normalize_sociedad(sociedad),
            _address.c.cliente.in_(wanted),
            _address.c.status == AddressStatus.BOUNCED,
        )
    )
    found: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        for cliente, correo in connection.execute(query):
            found[cliente].add(correo.lower())
    return found


@dataclass(frozen=True)
class BouncedEntry:
    sociedad: str
    cliente: str
    nombre: str
    correos: str  # the catalog's addresses today
    rebotados: list[str]  # those of them that bounced
    diagnostico: str  # the last bounce's code and diagnostic
    fecha: datetime


def bounced_entries(engine: Engine, sociedad: str | None = None) -> list[BouncedEntry]:
    """Catalog entries with an address that bounced and is still in the catalog."""
    query = (
        select(
            _delivery.c.sociedad,
            _address.c.cliente,
            _address.c.correo,
            _address.c.code,
            _address.c.detail,
            _address.c.updated_at,
            _catalog.c.correos,
            _customer.c.nombre,
        )
        .join(
            _delivery,
            and_(
                _delivery.c.run_id == _address.c.run_id, _delivery.c.cliente == _address.c.cliente
            ),
        )
        .join(
            _catalog,
            and_(
                _catalog.c.sociedad == _delivery.c.sociedad,
                _catalog.c.cliente == _address.c.cliente,
            ),
        )
        .join(
            _customer,
            and_(
                _customer.c.sociedad == _catalog.c.sociedad,
                _customer.c.cliente == _catalog.c.cliente,
            ),
        )
        .where(_address.c.status == AddressStatus.BOUNCED)
        .order_by(_address.c.updated_at, _address.c.id)
    )
    if sociedad:
        query = query.where(_delivery.c.sociedad == normalize_sociedad(sociedad))
    entries: dict[tuple[str, str], BouncedEntry] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            current = [a for a in row.correos.split(";") if a]
            if row.correo.lower() not in (a.lower() for a in current):
                continue  # already replaced in the catalog
            key = (row.sociedad, row.cliente)
            before = entries.get(key)
            bounced = [*(before.rebotados if before else []), row.correo]
            entries[key] = BouncedEntry(
                row.sociedad,
                row.cliente,
                row.nombre,
                row.correos,
                list(dict.fromkeys(bounced)),
                with_code(row.code, row.detail),
                row.updated_at,
            )
    return sorted(entries.values(), key=lambda e: (e.sociedad, e.cliente))

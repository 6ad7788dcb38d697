"""What a send run will do, decided before anything is sent: the sociedad and cut-off date
(without one, the date of the sociedad's open items: a statement is as of its items),
the customers it targets (as named, or those ``--retry-failed`` names, at the addresses
still to be tried), who is held or missing from the catalog, who already has the statement,
the channel its messages go through, and who is left out ("omitido") by the thresholds:
a balance below the minimum in every currency (``--min-balance`` / ``min_balance``) or
nothing owed in any (``--skip-credit`` / ``skip_credit``).

``plan_run`` is the whole decision; a front end (the CLI, a web page, a scheduler) asks it,
shows the plan, lets the operator narrow the customers, and hands them to ``SendRunner``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from rotomail.company import Collector, CompanyProfile, collector_code
from rotomail.config import Settings
from rotomail.delivery.candidates import Candidate, list_candidates, without_bounced
from rotomail.delivery.claims import existing_claims
from rotomail.delivery.kept import kept_path, load_kept
from rotomail.delivery.report import date_warning
from rotomail.delivery.transports import channel_name
from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.inputs.addresses import parse_addresses
from rotomail.statement.labels import format_balances
from rotomail.store.catalog import holds_of
from rotomail.store.history import retry_targets
from rotomail.store.ledger import snapshot_of
from rotomail.store.missing import MissingCustomer, missing_customers
from rotomail.store.runs import deferred_addresses
from rotomail.words import Mode, Status


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked to do, as the operator gave it."""

    sociedad: str | None
    statement_date: date | None  # None: the date of the sociedad's open items
    clientes: Sequence[str] = ()  # only these; () = the whole catalog
    mode: Mode = Mode.SEND
    retry_failed: int | None = None  # the run whose failed and bounced customers are retried
    require_complete: bool = False  # refuse while a customer with open items has no entry
    ejecutivo: str | None = None  # only this collector's customers (the master's "Encargado")
    min_balance: Decimal | None = None  # --min-balance; None: the company's min_balance
    skip_credit: bool = False  # --skip-credit (or the company's skip_credit)


@dataclass(frozen=True)
class Thresholds:
    """Who a run leaves out by balance, and where each rule comes from."""

    min_balance: Decimal | None = None
    min_balance_from: str = ""  # "--min-balance" | "min_balance" (the company's setting)
    skip_credit: bool = False
    skip_credit_from: str = ""  # "--skip-credit" | "skip_credit"

    def __bool__(self) -> bool:
        return self.min_balance is not None or self.skip_credit

    def describe(self) -> str:
        """The rules in one line: "saldo mínimo 500.00 (--min-balance); sin saldo a cargo
        (skip_credit)"; "" without any."""
        parts = []
        if self.min_balance is not None:
            parts.append(f"saldo mínimo {self.min_balance:,.2f} ({self.min_balance_from})")
        if self.skip_credit:
            parts.append(f"sin saldo a cargo ({self.skip_credit_from})")
        return "; ".join(parts)

    def in_credit(self, balance: Mapping[str, Decimal]) -> bool:
        """Left out by skip_credit: nothing owed in any currency."""
        return self.skip_credit and all(amount <= 0 for amount in balance.values())

    def reason(self, balance: Mapping[str, Decimal]) -> str:
        """Why a customer with ``balance`` (currency -> amount) is omitted, or "" when it is
        not: nothing owed in any currency (skip_credit), else below the minimum in every
        currency, compared in that currency (min_balance)."""
        if self.in_credit(balance):
            if any(balance.values()):
                return f"saldo a favor del cliente: {format_balances(balance)} ({self.skip_credit_from})"
            return f"sin saldo pendiente ({self.skip_credit_from})"
        if self.min_balance is not None and all(
            amount < self.min_balance for amount in balance.values()
        ):
            return (
                f"saldo menor que el mínimo de {self.min_balance:,.2f}: "
                f"{format_balances(balance)} ({self.min_balance_from})"
            )
        return ""


def thresholds_of(company: CompanyProfile, request: RunRequest) -> Thresholds:
    """The run's thresholds: the command line's, else the company's settings."""
    minimum, minimum_from = request.min_balance, "--min-balance"
    if minimum is None and company.min_balance is not None:
        minimum, minimum_from = company.min_balance, "min_balance"
    credit_from = "--skip-credit" if request.skip_credit else "skip_credit"
    return Thresholds(
        minimum,
        minimum_from if minimum is not None else "",
        request.skip_credit or company.skip_credit,
        credit_from if request.skip_credit or company.skip_credit else "",
    )


@dataclass(frozen=True)
class RunPlan:
    """What the run will do. ``candidates`` are the customers it targets, in catalog order
    (or as named), each with the addresses it will be sent to."""

    sociedad: str
    statement_date: date
    company: CompanyProfile
    mode: Mode
    channel: str  # "smtp", "outbox" (delivery/channels.py): claims are kept per channel
    candidates: list[Candidate]
    named: list[str]  # the customers named (--cliente, or the retried run's); [] = all
    retry_of: int | None
    missing: list[MissingCustomer] = field(default_factory=list)  # open items, no entry
    held: dict[str, str] = field(default_factory=dict)  # cliente -> reason, never sent
    already_sent: frozenset[str] = frozenset()  # statement already sent on this channel
    sent_runs: tuple[int, ...] = ()  # the runs that sent them
    ledger_date: date | None = None  # the date of the open items loaded for the sociedad
    snapshot_at: datetime | None = None  # when those open items were imported (their identity)
    collectors: dict[str, Collector] = field(default_factory=dict)  # the sociedad's, by code
    # collector codes of the targeted customers that config.toml has no table for
    unknown_collectors: tuple[str, ...] = ()
    resend_pdf: Path | None = None  # a resend sends this kept statement (else builds one)
    # cliente -> why the thresholds leave it out: recorded "omitido", never sent
    omitted: dict[str, str] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def date_warning(self) -> str:
        """The warning that the statements are dated other than their open items, or ""."""
        return date_warning(self.sociedad, self.ledger_date, self.statement_date)


class IncompleteCatalog(DataError):
    """``require_complete``: customers with open items are not in the catalog."""

    def __init__(self, sociedad: str, missing: list[MissingCustomer]) -> None:
        super().__init__(
            f"{len(missing)} clientes de {sociedad} tienen partidas abiertas y no están en el "
            "catálogo (--require-complete): agréguelos («rotomail catalog missing --sociedad "
            f"{sociedad}») o retenga los que no deben recibirlo; no se envió nada."
        )
        self.sociedad = sociedad
        self.missing = missing


def channel_of(settings: Settings, mode: Mode) -> str:
    """Where the run's messages go; exactly-once claims are kept per channel."""
    return channel_name(settings, mode)


def plan_run(engine: Engine, settings: Settings, request: RunRequest) -> RunPlan:
    """The plan of ``request``, or the error that refuses it (nothing is sent or recorded)."""
    sociedad, requested_date, named = _target(engine, request)
    # Read before the balances: an import committed after this is caught by the run.
    snapshot = snapshot_of(engine, sociedad)
    company = settings.company(sociedad)  # complete profile, or exit 2 before anything
    mode = request.mode
    if mode == Mode.TEST and not settings.operator.email:
        raise UsageError(
            "Para --test configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    missing = missing_customers(engine, sociedad)
    held = holds_of(engine, sociedad)
    if request.require_complete and missing:
        raise IncompleteCatalog(sociedad, missing)
    candidates = list_candidates(engine, sociedad, named or None)
    if not candidates:
        raise DataError(f"Todos los clientes del catálogo de {sociedad} están retenidos.")
    if request.ejecutivo is not None:
        candidates = _of_collector(candidates, sociedad, request.ejecutivo)
    if request.retry_failed is not None:
        # Customers left partial get the statement only at the addresses still deferred.
        only = deferred_addresses(engine, request.retry_failed)
        candidates = [
            replace(c, correos=only[c.cliente]) if c.cliente in only else c for c in candidates
        ]
        candidates = without_bounced(engine, candidates)
    if snapshot is None:  # every customer would get "sin saldo pendiente"
        raise DataError(
            f"No hay partidas abiertas importadas para la sociedad {sociedad}; "
            "impórtelas primero con «rotomail ledger import»."
        )
    statement_date = requested_date or snapshot.snapshot_date
    channel = channel_of(settings, mode)
    sent: dict[str, int] = {}  # cliente -> the run that sent it
    if mode == Mode.SEND:  # rehearsals claim nothing
        claims = existing_claims(engine, sociedad, statement_date, channel)
        sent = {c: claim.run_id for c, claim in claims.items() if claim.status == Status.SENT}
    wanted = {c.cliente for c in candidates}
    collectors = settings.collectors.get(sociedad, {})
    unknown = sorted(
        {c.ejecutivo for c in candidates if c.ejecutivo and c.ejecutivo not in collectors}
    )
    thresholds = thresholds_of(company, request)
    omitted = {
        c.cliente: reason
        for c in candidates
        if thresholds and (reason := thresholds.reason(c.balance))
    }
    return RunPlan(
        sociedad,
        statement_date,
        company,
        mode,
        channel,
        candidates,
        named,
        request.retry_failed,
        missing,
        held,
        frozenset(sent),
        tuple(sorted({run for c, run in sent.items() if c in wanted})),
        snapshot.snapshot_date,
        snapshot.imported_at,
        dict(collectors),
        tuple(unknown),
        omitted=omitted,
        thresholds=thresholds,
    )


def _of_collector(candidates: list[Candidate], sociedad: str, ejecutivo: str) -> list[Candidate]:
    """The candidates whose collector is ``ejecutivo`` (``send --ejecutivo C1``)."""
    code = collector_code(ejecutivo)
    if not code:
        raise UsageError("Indique el código del ejecutivo, por ejemplo --ejecutivo C1.")
    kept = [c for c in candidates if c.ejecutivo == code]
    if not kept:
        raise DataError(
            f"Ningún cliente del catálogo de {sociedad} tiene el ejecutivo {code} "
            "(columna Encargado del maestro de clientes)."
        )
    return kept


def _target(engine: Engine, request: RunRequest) -> tuple[str, date | None, list[str]]:
    """The sociedad, cut-off date (None: the open items') and customers named: as given, or
    those of the run ``retry_failed`` names."""
    sociedad = request.sociedad
    statement_date = request.statement_date
    named = list(request.clientes)
    if request.retry_failed is not None:
        run_sociedad, statement_date, named = retry_targets(engine, request.retry_failed)
        if sociedad and normalize_sociedad(sociedad) != run_sociedad:
            raise UsageError(f"La corrida {request.retry_failed} es de la sociedad {run_sociedad}.")
        sociedad = run_sociedad
    if not sociedad:
        raise UsageError("Indique la sociedad con --sociedad, por ejemplo --sociedad SM02.")
    return normalize_sociedad(sociedad), statement_date, named


@dataclass(frozen=True)
class ResendRequest:
    """One customer's statement for a date, once, to addresses given for this time only
    (``send --cliente X --to ADDR``)."""

    sociedad: str | None
    cliente: str
    to: Sequence[str]  # as typed; validated like the catalog's
    statement_date: date | None  # None: the date of the sociedad's open items


def plan_resend(engine: Engine, settings: Settings, request: ResendRequest) -> RunPlan:
    """The plan of a resend: the customer (in the catalog, not held) with ``to`` as its only
    addresses, and the statement it gets: the one kept for the date when there is one, else
    one built from the open items loaded, which must then be of that date.

    No exactly-once claim is looked at, taken or changed (``Mode.RESEND``), and the catalog
    is not touched: a later plain run still sends to the catalog's addresses.
    """
    if not request.sociedad:
        raise UsageError("Indique la sociedad con --sociedad, por ejemplo --sociedad SM02.")
    sociedad = normalize_sociedad(request.sociedad)
    cliente = normalize_cliente(request.cliente)
    snapshot = snapshot_of(engine, sociedad)
    company = settings.company(sociedad)
    addresses = tuple(parse_addresses(";".join(request.to)))
    candidate = list_candidates(engine, sociedad, [cliente])[0]  # held: DataError (exit 1)
    ledger_date = snapshot.snapshot_date if snapshot else None
    statement_date = request.statement_date or ledger_date
    if statement_date is None:
        raise DataError(
            f"No hay partidas abiertas importadas para la sociedad {sociedad}; "
            "indique la fecha del estado de cuenta guardado con --date."
        )
    path = kept_path(settings.statements_dir, sociedad, cliente, statement_date)
    kept = path if load_kept(path) is not None else None
    if kept is None and ledger_date != statement_date:
        loaded = (
            f"las partidas abiertas de {sociedad} son al {ledger_date:%d/%m/%Y}"
            if ledger_date
            else f"no hay partidas abiertas importadas para {sociedad}"
        )
        raise DataError(
            f"No hay estado de cuenta guardado del cliente {cliente} al "
            f"{statement_date:%d/%m/%Y} ({path}) y {loaded}: no se puede generar. "
            "Indique la fecha con --date."
        )
    return RunPlan(
        sociedad,
        statement_date,
        company,
        Mode.RESEND,
        channel_of(settings, Mode.RESEND),
        [replace(candidate, correos=addresses)],
        [cliente],
        None,
        # A kept statement is sent as it was: the open items loaded play no part.
        ledger_date=statement_date if kept else ledger_date,
        snapshot_at=None if kept or snapshot is None else snapshot.imported_at,
        resend_pdf=kept,
    )

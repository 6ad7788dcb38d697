"""A send run: who gets a statement, rendering, delivery, and the record of every outcome.

The CLI chooses the customers (checklist or --all) and prints; this module does the work
and reports each outcome through a callback, so it runs the same from cron, a terminal or
a test.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from rotomail.company import CompanyProfile
from rotomail.delivery import claims
from rotomail.delivery.deferred import DeferredRetry, Waiting, record_addresses
from rotomail.delivery.rendering import Rendered, RenderJob, render_stream
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.statement.model import StatementCustomer, StatementItem
from rotomail.store.models import CatalogEntry, Customer, Delivery, SendRun

if TYPE_CHECKING:
    from rotomail.delivery.mailer import Transport
    from rotomail.delivery.messages import PreparedMessage
    from rotomail.store.catalog import MissingCustomer

_run = SendRun.__table__  # type: ignore[attr-defined]
_delivery = Delivery.__table__  # type: ignore[attr-defined]
_catalog = CatalogEntry.__table__  # type: ignore[attr-defined]
_customer = Customer.__table__  # type: ignore[attr-defined]

# One customer's outcome, built once: SQLAlchemy reuses the compiled statement (a statement
# built per customer costs ~0.15 ms). The SET columns are the other keys of the parameters.
_RECORD_DELIVERY = update(_delivery).where(
    _delivery.c.run_id == bindparam("where_run"),
    _delivery.c.cliente == bindparam("where_cliente"),
)


@dataclass(frozen=True)
class Candidate:
    sociedad: str
    cliente: str
    nombre: str
    rfc: str
    correos: tuple[str, ...]
    balance: dict[str, Decimal] = field(default_factory=dict)
    idioma: str = ""  # the catalog entry's language, else the master's; "" = the company's

    @property
    def balance_text(self) -> str:
        from rotomail.statement.labels import format_amount

        if not any(self.balance.values()):
            return "sin saldo"
        return " · ".join(
            f"{moneda} {format_amount(total, 'es')}"
            for moneda, total in sorted(self.balance.items())
        )


def list_candidates(
    engine: Engine, sociedad: str, clientes: Iterable[str] | None = None
) -> list[Candidate]:
    """Catalog entries of ``sociedad`` (narrowed to ``clientes``) with name, balance and
    language; held customers are never candidates (naming one is an error)."""
    from rotomail.store.catalog import holds_of
    from rotomail.store.ledger import balances

    sociedad = normalize_sociedad(sociedad)
    wanted = [normalize_cliente(c) for c in clientes] if clientes else None
    query = (
        select(
            _catalog.c.cliente,
            _customer.c.nombre,
            _customer.c.rfc,
            _catalog.c.correos,
            _catalog.c.idioma,
            _customer.c.idioma.label("master_idioma"),
        )
        .join(
            _customer,
            and_(
                _customer.c.sociedad == _catalog.c.sociedad,
                _customer.c.cliente == _catalog.c.cliente,
            ),
        )
        .where(_catalog.c.sociedad == sociedad)
        .order_by(_catalog.c.cliente)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        raise DataError(f"La sociedad {sociedad} no tiene clientes en el catálogo de envío.")
    totals = balances(engine, sociedad)
    held = holds_of(engine, sociedad)
    found = {
        row.cliente: Candidate(
            sociedad,
            row.cliente,
            row.nombre,
            row.rfc,
            tuple(row.correos.split(";")),
            totals.get(row.cliente, {}),
            row.idioma or row.master_idioma or "",  # both stored as es | pt | en
        )
        for row in rows
        if row.cliente not in held
    }
    if wanted is None:
        return list(found.values())
    named_held = [c for c in wanted if c in held]
    if named_held:
        raise DataError(
            f"Retenido (no se envía): {', '.join(f'{c} ({held[c]})' for c in named_held)}; "
            f"libérelo con «rotomail catalog release {sociedad} {named_held[0]}»."
        )
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(f"No están en el catálogo de la sociedad {sociedad}: {', '.join(missing)}")
    return [found[c] for c in dict.fromkeys(wanted)]


def without_bounced(engine: Engine, candidates: list[Candidate]) -> list[Candidate]:
    """The candidates with only their addresses that never bounced (for --retry-failed);
    a candidate left with none is reported "sin dirección válida" by the run."""
    from rotomail.store.bounces import bounced_addresses

    if not candidates:
        return candidates
    bounced = bounced_addresses(engine, candidates[0].sociedad, [c.cliente for c in candidates])
    return [
        replace(c, correos=tuple(a for a in c.correos if a.lower() not in bounced[c.cliente]))
        if c.cliente in bounced
        else c
        for c in candidates
    ]


def marked_addresses(correos: Iterable[str], bounced: set[str]) -> str:
    """The addresses as the checklist shows them, those that bounced marked "(rebotó)"."""
    return ";".join(f"{a} (rebotó)" if a.lower() in bounced else a for a in correos)


# --- the run -----------------------------------------------------------------------------


class _Heartbeat:
    """Refreshes the run's heartbeat while it runs, so other hosts see it alive."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id = engine, run_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(claims.HEARTBEAT_EVERY.total_seconds()):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        update(_run).where(_run.c.id == self.run_id).values(heartbeat_at=_now())
                    )
            except SQLAlchemyError:  # a busy database: the next beat will do
                pass

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()


class ClaimLost(Exception):
    """Another run took this customer over between our claim and DATA."""


def _now() -> datetime:
    return datetime.now()


_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _verp_token() -> str:
    """Ten lower-case letters and digits (51 bits): unguessable, and unchanged by relays
    that fold the local part to lower case."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(10))


class SendRunner:
    def __init__(
        self,
        engine: Engine,
        company: CompanyProfile,
        options: SendOptions,
        make_transport: Callable[[int], Transport],
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        document_types: Mapping[str, Mapping[str, str]] | None = None,
        missing: list[MissingCustomer] | None = None,
        held: Mapping[str, str] | None = None,
        on_start: Callable[[RunReport], None] = lambda report: None,
    ) -> None:
        self.missing = list(missing or [])  # only reported in the log
        self.held = dict(held or {})
        self.engine = engine
        self.company = company
        self.document_types = dict(document_types or {})
        self.options = options
        self.make_transport = make_transport
        self.on_outcome = on_outcome
        self.on_start = on_start  # the run is recorded, nothing sent yet (the CLI's header)
        self._connection: Connection | None = None  # open while the run sends
        self._deferred = DeferredRetry(
            options, self._transaction, self._record, lambda r, o, rec: self._emit(r, o, rec)
        )
        self._unreachable = 0  # customers in a row whose SMTP connection failed
        self._verp_tokens: dict[str, str] = {}  # cliente -> token in the envelope sender

    # The run record and the per-customer records.
    def _start(self, candidates: list[Candidate], transport_name: str) -> int:
        with self.engine.begin() as connection:
            primary_key = connection.execute(
                insert(_run).values(
                    started_at=_now(),
                    operator=self.options.operator[:100],
                    sociedad=self.options.sociedad,
                    statement_date=self.options.statement_date,
                    mode=self.options.mode,
                    transport=transport_name[:255],
                    status="running",
                    host=claims.HOST,
                    pid=os.getpid(),
                    heartbeat_at=_now(),
                )
            ).inserted_primary_key
            assert primary_key is not None
            run_id = int(primary_key[0])
            now = _now()
            real = self.options.mode == "send"
            if real and self.company.verp:
                self._verp_tokens = {c.cliente: _verp_token() for c in candidates}
            bcc = self.company.bcc if real else ""
            rows = [
                {
                    "run_id": run_id,
                    "sociedad": c.sociedad,
                    "cliente": c.cliente,
                    "statement_date": self.options.statement_date,
                    "nombre": c.nombre[:200],
                    "correos": ";".join(c.correos),
                    "status": "pending",
                    "verp_token": self._verp_tokens.get(c.cliente, ""),
                    "bcc": bcc,
                    "updated_at": now,
                    "idioma": self.language_of(c),
                }
                for c in candidates
            ]
            for start in range(0, len(rows), 2000):
                connection.execute(insert(_delivery), rows[start : start + 2000])
        return run_id

    def _record(self, run_id: int, outcome: Outcome, connection: Connection | None = None) -> None:
        values = {
            "where_run": run_id,
            "where_cliente": outcome.cliente,
            "status": outcome.status,
            "detail": outcome.detail,
            "archivo": outcome.archivo,
            "refused": "; ".join(f"{a}: {r}" for a, r in outcome.refused.items()),
            "message_id": outcome.message_id,
            "correos": ";".join(outcome.correos),
            "updated_at": _now(),
        }
        if connection is not None:
            connection.execute(_RECORD_DELIVERY, values)
        else:
            with self._transaction() as own:
                own.execute(_RECORD_DELIVERY, values)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the run's own connection (no pool round trip per customer)."""
        if self._connection is None:
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._connection.begin():
                yield self._connection

    def _finish(self, report: RunReport) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(_run)
                .where(_run.c.id == report.run_id)
                .values(
                    finished_at=_now(),
                    status="aborted" if report.aborted else "finished",
                    sent=report.count("sent") + report.count("saved") + report.count("built"),
                    failed=report.count("failed"),
                    skipped=report.count("skipped"),
                    uncertain=report.count("uncertain"),
                    log_path=str(report.log_path or ""),
                )
            )

    def _emit(self, report: RunReport, outcome: Outcome, record: bool = True) -> None:
        if record:
            self._record(report.run_id, outcome)
        report.outcomes.append(outcome)
        self.on_outcome(outcome)

    def _check_message_setup(self, languages: set[str]) -> None:
        """Templates (of every language the run writes in) and the sender are checked once,
        before anything is recorded: a typo in an admin's template is a configuration
        error, not a thousand failed customers."""
        from rotomail.delivery.messages import build_statement_message, parse_address

        try:
            if self.company.bcc:
                parse_address(self.company.bcc, what="copia de archivo (bcc)")
            if self.company.verp:
                parse_address(self.company.bounce_address, what="rebotes (bounce_address)")
            for language in sorted(languages):
                build_statement_message(
                    replace(self.company, language=language),
                    "Cliente",
                    [self.company.sender],
                    b"",
                    "prueba.pdf",
                    override_dir=self.options.templates_dir,
                )
        except DataError as exc:
            raise UsageError(f"Sociedad {self.company.code}: {exc.message}") from None

    def run(self, candidates: list[Candidate], transport_name: str) -> RunReport:
        self._check_message_setup({self.company.language, *map(self.language_of, candidates)})
        self._close_dead_runs()
        run_id = self._start(candidates, transport_name)
        report = RunReport(run_id, self.options, transport_name, _now())
        report.languages = {c.cliente: self.language_of(c) for c in candidates}
        report.missing, report.held = self.missing, self.held
        self.on_start(report)
        with _Heartbeat(self.engine, run_id), self.engine.connect() as connection:
            self._connection = connection
            to_render = self._preflight(report, candidates)
            transport = self.make_transport(run_id) if to_render else None
            try:
                for candidate, rendered in self._rendered(to_render):
                    if report.aborted:
                        break
                    self._deliver(report, transport, candidate, rendered)
                if transport is not None:
                    self._deferred.retry(report, transport)
                self._deferred.finish(report)
            finally:
                self._connection = None
                if transport is not None:
                    transport.close()
        if report.aborted:
            done = {o.cliente for o in report.outcomes}
            for candidate in to_render:
                if candidate.cliente not in done:
                    self._emit(
                        report,
                        Outcome(
                            candidate.cliente,
                            candidate.nombre,
                            candidate.correos,
                            "pending",
                            f"no se intentó: {report.aborted}",
                        ),
                    )
        from rotomail.delivery.runlog import write_log

        report.log_path = write_log(report)
        self._finish(report)
        return report

    def _close_dead_runs(self) -> None:
        """Runs killed mid-way stay "running": mark them interrupted, their in-flight
        customers uncertain, so history tells the truth."""
        with self.engine.begin() as connection:
            running = connection.execute(select(_run.c.id).where(_run.c.status == "running"))
            dead = [r for (r,) in running.all() if not claims.run_alive(connection, r)]
            if not dead:
                return
            connection.execute(update(_run).where(_run.c.id.in_(dead)).values(status="interrupted"))
            connection.execute(
                update(_delivery)
                .where(_delivery.c.run_id.in_(dead), _delivery.c.status == "in_flight")
                .values(status="uncertain", detail="incierto: la corrida se interrumpió tras DATA")
            )

    def _preflight(self, report: RunReport, candidates: list[Candidate]) -> list[Candidate]:
        """Skip what must not be sent again; returns the customers to render."""
        existing: dict[str, claims.ClaimDenied] = {}
        if self.options.mode == "send":
            existing = claims.existing_claims(
                self.engine, self.options.sociedad, self.options.statement_date
            )
        keep: list[Candidate] = []
        for candidate in candidates:
            denied = existing.get(candidate.cliente)
            outcome = self._denied_outcome(candidate, denied) if denied else None
            if outcome is None and not candidate.correos:
                outcome = Outcome(
                    candidate.cliente,
                    candidate.nombre,
                    candidate.correos,
                    "failed",
                    "sin dirección válida: todas sus direcciones rebotaron; corrija el catálogo",
                )
            if outcome is None and self.options.skip_zero and not any(candidate.balance.values()):
                outcome = Outcome(
                    candidate.cliente,
                    candidate.nombre,
                    candidate.correos,
                    "skipped",
                    "sin saldo pendiente (--skip-zero)",
                )
            if outcome is None:
                keep.append(candidate)
            else:
                self._emit(report, outcome)
        return keep

    def _denied_outcome(self, candidate: Candidate, denied: claims.ClaimDenied) -> Outcome | None:
        """Why ``candidate`` must not be sent now, or None when its claim can be taken."""
        status, run = denied.status, denied.run_id
        if status == "sent" and not self.options.force:
            result, detail = (
                "skipped",
                f"ya enviado para esta fecha (corrida {run}); use --force para reenviar",
            )
        elif status == "partial" and not (self.options.force or self.options.retry_of):
            result, detail = (
                "skipped",
                f"parcial en la corrida {run}: use --retry-failed {run} para las direcciones "
                "aplazadas",
            )
        elif status == "bounced" and not (self.options.force or self.options.retry_of):
            result, detail = (
                "skipped",
                f"rebotado en la corrida {run}; corrija el catálogo y use --retry-failed {run}",
            )
        elif status == "in_flight" and denied.alive:
            result, detail = "skipped", f"en proceso en la corrida {run}"
        elif status == "in_flight" and not (self.options.force or self.options.retry_of):
            result, detail = (
                "uncertain",
                f"incierto: la corrida {run} pudo haberlo enviado; "
                "revise y use --force o --retry-failed",
            )
        else:
            return None
        return Outcome(candidate.cliente, candidate.nombre, candidate.correos, result, detail)

    def _rendered(self, candidates: list[Candidate]) -> Iterator[tuple[Candidate, Rendered]]:
        from rotomail.store.ledger import due_date_source, iter_items_by_customer

        self._due_date_source = due_date_source(self.engine, self.options.sociedad)

        by_cliente = {c.cliente: c for c in candidates}
        seen: set[str] = set()

        def jobs() -> Iterator[RenderJob]:
            for cliente, items in iter_items_by_customer(
                self.engine, self.options.sociedad, set(by_cliente)
            ):
                seen.add(cliente)
                yield self._job(by_cliente[cliente], items)
            for cliente, candidate in by_cliente.items():
                if cliente not in seen:
                    yield self._job(candidate, [])

        for rendered in render_stream(jobs(), len(candidates)):
            yield by_cliente[rendered.cliente], rendered

    def language_of(self, candidate: Candidate) -> str:
        """The customer's language (catalog entry, else master), else the company's."""
        return candidate.idioma or self.company.language

    def _job(self, candidate: Candidate, items: list[StatementItem]) -> RenderJob:
        from rotomail.delivery.messages import verp_sender

        rehearsal = self.options.mode == "test"
        token = self._verp_tokens.get(candidate.cliente)
        real = self.options.mode == "send"
        return RenderJob(
            replace(self.company, language=self.language_of(candidate)),
            StatementCustomer(
                candidate.sociedad, candidate.cliente, candidate.nombre, candidate.rfc
            ),
            tuple(items),
            self.options.statement_date,
            (self.options.operator_email,) if rehearsal else candidate.correos,
            candidate.correos if rehearsal else None,
            self.options.templates_dir,
            self.options.keep_pdfs,
            verp_sender(self.company.bounce_address, token) if token else "",
            (self.company.bcc,) if real and self.company.bcc else (),
            self.document_types,
            self._due_date_source,
        )

    def _deliver(
        self,
        report: RunReport,
        transport: Transport | None,
        candidate: Candidate,
        rendered: Rendered,
    ) -> None:
        from rotomail.delivery import mailer

        assert transport is not None
        if self.options.keep_pdfs:
            folder = self.options.run_folder(report.run_id)
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / rendered.filename
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:  # owner-only even without the CLI's umask
                handle.write(rendered.pdf)
        base = Outcome(
            candidate.cliente,
            candidate.nombre,
            candidate.correos,
            "failed",
            detail=rendered.error,
            archivo=rendered.filename,
        )
        message = rendered.message
        if message is None:
            self._emit(report, base)
            return
        base.message_id = message.message_id
        if self.options.mode != "send":
            self._deliver_unclaimed(report, transport, base, message)
            return
        key = claims.ClaimKey(candidate.sociedad, candidate.cliente, self.options.statement_date)
        denied: list[claims.ClaimDenied] = []

        def before_data() -> None:
            # The claim is taken here, in the same transaction that records the customer
            # as in flight: whoever commits it first is the only one to send DATA.
            with self._transaction() as connection:
                refusal = claims.take(
                    connection,
                    key,
                    report.run_id,
                    force=self.options.force,
                    retry=self.options.retry_of is not None,
                )
                if refusal is not None:
                    denied.append(refusal)
                    raise ClaimLost
                base.status, base.detail = "in_flight", "DATA enviado; esperando respuesta"
                self._record(report.run_id, base, connection)

        try:
            delivery = transport.send(message, before_data=before_data)
        except ClaimLost:
            outcome = self._denied_outcome(candidate, denied[0])
            base.status, base.detail = (
                (outcome.status, outcome.detail)
                if outcome
                else ("skipped", f"en proceso en la corrida {denied[0].run_id}")
            )
        except mailer.Uncertain as exc:
            base.status, base.detail = "uncertain", f"incierto: {exc.reply}"
        except mailer.RUN_STOPPERS as exc:
            report.aborted, report.abort_code = exc.reply, exc.exit_code
            base.status, base.detail = "pending", f"no se intentó: {exc.reply}"
        except mailer.ConnectionFailed as exc:
            self._unreachable += 1
            self._fail(report, key, base, exc.reply)
            limit = self.options.stop_after_failures
            if limit and self._unreachable >= limit:
                report.aborted = (
                    f"el servidor SMTP no respondió a {self._unreachable} clientes seguidos "
                    f"({exc.reply}); los demás quedan pendientes. Cuando responda, reanude con "
                    f"«rotomail send --retry-failed {report.run_id}»"
                )
            return
        except mailer.TemporaryFailure as exc:
            self._unreachable = 0
            if not exc.deferred:
                self._fail(report, key, base, exc.reply)
                return
            waiting = Waiting(base, message, key, [], exc.refused, exc.deferred, exc.reply)
            self._deferred.add(report, waiting)
            return
        except mailer.SendError as exc:
            refused = exc.refused if isinstance(exc, mailer.PermanentFailure) else {}
            self._fail(report, key, base, exc.reply, refused)
            return
        else:
            self._unreachable = 0
            if delivery.deferred:
                waiting = Waiting(
                    base,
                    message,
                    key,
                    list(delivery.accepted),
                    dict(delivery.refused),
                    dict(delivery.deferred),
                    delivery.reply,
                )
                self._deferred.add(report, waiting)
                return
            with self._transaction() as connection:
                claims.advance(connection, key, report.run_id, "in_flight", "sent")
                base.status, base.detail = _delivered(transport), delivery.reply
                base.refused = dict(delivery.refused)
                self._record(report.run_id, base, connection)
                record_addresses(
                    connection,
                    report.run_id,
                    base.cliente,
                    delivery.accepted,
                    delivery.refused,
                    {},
                    delivery.reply,
                )
            self._emit(report, base, record=False)
            return
        self._emit(report, base)

    def _fail(
        self,
        report: RunReport,
        key: claims.ClaimKey,
        base: Outcome,
        reply: str,
        refused: dict[str, str] | None = None,
    ) -> None:
        with self._transaction() as connection:
            claims.advance(connection, key, report.run_id, "in_flight", "failed")
            base.status, base.detail = "failed", reply
            self._record(report.run_id, base, connection)
            if refused:
                record_addresses(connection, report.run_id, base.cliente, [], refused, {})
        self._emit(report, base, record=False)

    def _deliver_unclaimed(
        self, report: RunReport, transport: Transport, base: Outcome, message: PreparedMessage
    ) -> None:
        """--test and --dry-run: nothing counts as the customer's statement being sent."""
        from rotomail.delivery import mailer

        try:
            delivery = transport.send(message)
        except mailer.SendError as exc:
            base.status, base.detail = "failed", exc.reply
            if isinstance(exc, mailer.RUN_STOPPERS):
                report.aborted, report.abort_code = exc.reply, exc.exit_code
        else:
            base.status = "built" if self.options.mode == "dry-run" else _delivered(transport)
            base.detail = delivery.reply
            base.refused = dict(delivery.refused)
        self._emit(report, base)


def _delivered(transport: Transport) -> str:
    """The status of a delivered message: saved (outbox folder only) or sent (a server took it)."""
    from rotomail.delivery.mailer import OutboxTransport

    return "saved" if isinstance(transport, OutboxTransport) else "sent"

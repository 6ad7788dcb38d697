"""A send run: who gets a statement, rendering, delivery, and the record of every outcome.

``plan`` decides what the run will do; the CLI narrows the customers (checklist or --all)
and prints; this module does the work and reports each outcome through a callback, so it
runs the same from cron, a terminal or a test. Its parts live beside it: ``candidates``
(who can be sent), ``records`` (the run's rows in the database), ``liveness`` (is a run's
process alive; its heartbeat), ``stopping`` (SIGTERM and Ctrl-C), ``claims`` (exactly
once); here is the per-customer delivery loop.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

from rotomail.company import Collector, CompanyProfile
from rotomail.delivery import claims, mailer
from rotomail.delivery.candidates import Candidate
from rotomail.delivery.deferred import DeferredRetry, Waiting, record_addresses
from rotomail.delivery.jobs import StatementJobs
from rotomail.delivery.kept import keep, kept_path
from rotomail.delivery.liveness import Heartbeat, close_dead_runs
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.records import RunRecords, _now
from rotomail.delivery.rendering import Rendered
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.delivery.results import for_addressees, without
from rotomail.delivery.runlog import write_log
from rotomail.delivery.stopping import RunStopped, StopSignals
from rotomail.store.db import DatabaseBusy
from rotomail.store.missing import MissingCustomer
from rotomail.words import REAL_MODES, Mode, Status

__all__ = ["ClaimLost", "SendRunner"]


class ClaimLost(Exception):
    """Another run took this customer over between our claim and DATA."""


class SendRunner:
    def __init__(
        self,
        engine: Engine,
        company: CompanyProfile,
        options: SendOptions,
        make_transport: Callable[[int], mailer.Transport],
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
        document_types: Mapping[str, Mapping[str, str]] | None = None,
        missing: list[MissingCustomer] | None = None,
        held: Mapping[str, str] | None = None,
        on_start: Callable[[RunReport], None] = lambda report: None,
        collectors: Mapping[str, Collector] | None = None,
        omitted: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.company = company
        self.options = options
        self.make_transport = make_transport
        self.on_outcome = on_outcome
        self.on_start = on_start  # the run is recorded, nothing sent yet (the CLI's header)
        self.document_types = dict(document_types or {})
        self.missing = list(missing or [])  # only reported in the log
        self.held = dict(held or {})
        self.omitted = dict(omitted or {})  # cliente -> why the thresholds leave it out
        self.records = RunRecords(engine, options)
        self.stop = StopSignals()
        self.deferred = DeferredRetry(
            options,
            self.records.transaction,
            lambda run_id, outcome, connection: self.records.record(outcome, connection),
            self._emit,
        )
        self.unreachable = 0  # customers in a row whose SMTP connection failed
        self.uncertain = 0  # customers in a row left uncertain (no answer to the final ".")
        self.jobs = StatementJobs(engine, company, options, self.document_types, collectors)

    def _emit(self, report: RunReport, outcome: Outcome, record: bool = True) -> None:
        if record:
            with self.stop.critical():
                self.records.record(outcome)
        report.outcomes.append(outcome)
        try:
            self.on_outcome(outcome)
        except OSError:  # output closed (a pipe's reader gone): the run goes on silently
            self.on_outcome = lambda outcome: None

    def run(self, candidates: list[Candidate], transport_name: str) -> RunReport:
        languages = self.jobs.prepare(candidates)
        close_dead_runs(self.engine)
        real = self.options.mode in REAL_MODES
        run_id = self.records.start(
            candidates,
            transport_name,
            languages=languages,
            verp_tokens=self.jobs.verp_tokens,
            bcc=self.company.bcc if real else "",
            cc={c.cliente: cc for c in candidates if (cc := self.jobs.cc_of(c))},
        )
        report = RunReport(run_id, self.options, transport_name, _now())
        report.languages = languages
        report.missing, report.held = self.missing, self.held
        self.on_start(report)
        to_render: list[Candidate] = []
        database_ok = True
        with self.stop:
            try:
                with Heartbeat(self.engine, run_id), self.records.sending():
                    to_render = self._preflight(report, candidates)
                    self._send_all(report, to_render)
            except RunStopped as stop:
                report.aborted, report.interrupt_code = stop.reason, stop.exit_code
            except DatabaseBusy as exc:
                # Nothing more can be recorded; the next command that looks closes the run
                # as interrupted (its process is gone by then).
                report.aborted, report.interrupt_code = exc.message, exc.exit_code
                database_ok = False
            self.stop.settle()
            if report.aborted:
                self._not_attempted(report, candidates, record=database_ok)
            report.log_path = write_log(report)
            if database_ok:
                self.records.finish(report)
        return report

    def _send_all(self, report: RunReport, to_render: list[Candidate]) -> None:
        transport = self.make_transport(report.run_id) if to_render else None
        try:
            for candidate, rendered in self.jobs.rendered(to_render):
                if report.aborted:
                    break
                self.stop.check()
                self._deliver(report, transport, candidate, rendered)
            if transport is not None and not report.aborted:
                self.deferred.retry(report, transport)
            self.deferred.finish(report)
        except BaseException:
            if transport is not None:  # maybe mid-transaction: no QUIT, no wait
                transport.abort()
            raise
        if transport is not None:
            transport.close()

    def _not_attempted(self, report: RunReport, candidates: list[Candidate], record: bool) -> None:
        """The customers the run never reached stay pending, saying why (one statement for
        all of them: a stopped run of 20,000 customers still ends within seconds)."""
        detail = f"no se intentó: {report.aborted}"
        if record:
            self.records.pending_detail(detail)
        done = {o.cliente for o in report.outcomes}
        for candidate in candidates:
            if candidate.cliente not in done:
                self._emit(
                    report,
                    Outcome(
                        candidate.cliente,
                        candidate.nombre,
                        candidate.correos,
                        Status.PENDING,
                        detail,
                    ),
                    record=False,
                )

    def _preflight(self, report: RunReport, candidates: list[Candidate]) -> list[Candidate]:
        """Skip what must not be sent again; returns the customers to render."""
        existing: dict[str, claims.ClaimDenied] = {}
        if self.options.mode == Mode.SEND:
            existing = claims.existing_claims(
                self.engine,
                self.options.sociedad,
                self.options.statement_date,
                self.options.channel,
            )
        keep: list[Candidate] = []
        for candidate in candidates:
            self.stop.check()
            denied = existing.get(candidate.cliente)
            outcome = self._denied_outcome(candidate, denied) if denied else None
            if outcome is None and not candidate.correos:
                outcome = Outcome(
                    candidate.cliente,
                    candidate.nombre,
                    candidate.correos,
                    Status.FAILED,
                    "sin dirección válida: todas sus direcciones rebotaron; corrija el catálogo",
                )
            if outcome is None and self.options.skip_zero and not any(candidate.balance.values()):
                outcome = Outcome(
                    candidate.cliente,
                    candidate.nombre,
                    candidate.correos,
                    Status.SKIPPED,
                    "sin saldo pendiente (--skip-zero)",
                )
            if outcome is None and candidate.cliente in self.omitted:
                report.omitted[candidate.cliente] = self.omitted[candidate.cliente]
                outcome = Outcome(
                    candidate.cliente,
                    candidate.nombre,
                    candidate.correos,
                    Status.SKIPPED,
                    self.omitted[candidate.cliente],
                )
            if outcome is None:
                keep.append(candidate)
            else:
                self._emit(report, outcome)
        return keep

    def _denied_outcome(self, candidate: Candidate, denied: claims.ClaimDenied) -> Outcome | None:
        """Why ``candidate`` must not be sent now, or None when its claim can be taken."""
        status, run = denied.status, denied.run_id
        if status == Status.SENT and not self.options.force:
            result, detail = (
                Status.SKIPPED,
                f"ya enviado para esta fecha (corrida {run}); use --force para reenviar",
            )
        elif status == Status.PARTIAL and not (self.options.force or self.options.retry_of):
            result, detail = (
                Status.SKIPPED,
                f"parcial en la corrida {run}: use --retry-failed {run} para las direcciones "
                "aplazadas",
            )
        elif status == Status.BOUNCED and not (self.options.force or self.options.retry_of):
            result, detail = (
                Status.SKIPPED,
                f"rebotado en la corrida {run}; corrija el catálogo y use --retry-failed {run}",
            )
        elif status == Status.IN_FLIGHT and denied.alive:
            result, detail = Status.SKIPPED, f"en proceso en la corrida {run}"
        elif status == Status.IN_FLIGHT and not (self.options.force or self.options.retry_of):
            result, detail = (
                Status.UNCERTAIN,
                f"incierto: la corrida {run} pudo haberlo enviado; "
                "revise y use --force o --retry-failed",
            )
        else:
            return None
        return Outcome(candidate.cliente, candidate.nombre, candidate.correos, result, detail)

    def _keep_pdf(self, report: RunReport, rendered: Rendered) -> None:
        folder = self.options.run_folder(report.run_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / rendered.filename
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:  # owner-only even without the CLI's umask
            handle.write(rendered.pdf)

    def _keep_statement(self, report: RunReport, candidate: Candidate, rendered: Rendered) -> str:
        """Keep the statement a real run sends (``[statement] keep``), whole or not at all;
        where it is kept, or "" when it is not. A resend of a kept statement keeps it where
        it is."""
        if self.jobs.kept is not None:
            return str(self.jobs.kept.path)
        if not self.options.keep_statements:
            return ""
        path = kept_path(
            self.options.statements_dir,
            candidate.sociedad,
            candidate.cliente,
            self.options.statement_date,
        )
        language = report.languages.get(candidate.cliente, self.company.language)
        keep(path, rendered.pdf, language, rendered.fields, rendered.payments)
        return str(path)

    def _deliver(
        self,
        report: RunReport,
        transport: mailer.Transport | None,
        candidate: Candidate,
        rendered: Rendered,
    ) -> None:
        assert transport is not None
        if self.options.keep_pdfs:
            self._keep_pdf(report, rendered)
        base = Outcome(
            candidate.cliente,
            candidate.nombre,
            candidate.correos,
            Status.FAILED,
            detail=rendered.error,
            archivo=rendered.filename,
            pagos=rendered.payments,
            en_aclaracion=rendered.disputed,
            copias=rendered.copies,
        )
        message = rendered.message
        if message is None:
            self._emit(report, base)
            return
        base.message_id = message.message_id
        if self.options.mode in REAL_MODES:
            try:
                base.pdf_path = self._keep_statement(report, candidate, rendered)
            except OSError as exc:
                base.detail = f"no se pudo guardar el PDF ([statement] keep): {exc}"
                self._emit(report, base)
                return
        if self.options.mode != Mode.SEND:
            self._deliver_unclaimed(report, transport, base, message)
            return
        ClaimedDelivery(self, report, transport, candidate, base).send(message)

    def _deliver_unclaimed(
        self,
        report: RunReport,
        transport: mailer.Transport,
        base: Outcome,
        message: Outgoing,
    ) -> None:
        """--test, --dry-run and a resend (--to): nothing counts as the customer's statement
        being sent (no claim is taken)."""
        try:
            delivery = transport.deliver(message)
        except mailer.SendError as exc:
            base.status, base.detail = Status.FAILED, exc.reply
            if isinstance(exc, mailer.RUN_STOPPERS):
                report.aborted, report.abort_code = exc.reply, exc.exit_code
        except RunStopped as stop:
            base.status, base.detail = Status.PENDING, f"no se intentó: {stop.reason}"
            self._emit(report, base)
            raise
        else:
            dry_run = self.options.mode == Mode.DRY_RUN
            base.status = Status.BUILT if dry_run else transport.delivered_status
            base.detail = delivery.reply
            base.refused = dict(delivery.refused)
            if delivery.deferred and self.options.mode == Mode.RESEND:  # not retried later
                base.status = Status.PARTIAL
                base.refused.update(delivery.deferred)
        self._emit(report, base)


class ClaimedDelivery:
    """One customer's real send: the claim taken right before DATA, then the outcome.

    ``base.status`` is "in_flight" exactly while the claim is committed and DATA may be on
    its way: a stop or a database failure then leaves the customer "incierto".
    """

    def __init__(
        self,
        runner: SendRunner,
        report: RunReport,
        transport: mailer.Transport,
        candidate: Candidate,
        base: Outcome,
    ) -> None:
        self.runner, self.report, self.transport, self.base = runner, report, transport, base
        options = runner.options
        self.key = claims.ClaimKey(
            candidate.sociedad, candidate.cliente, options.statement_date, options.channel
        )
        self.candidate = candidate
        self.denied: claims.ClaimDenied | None = None

    def take_claim(self) -> None:
        # Called by the transport right before its point of no return (SMTP: DATA). The
        # claim is taken here, in the same transaction that records the customer as in
        # flight: whoever commits it first is the only one to send DATA.
        runner, options = self.runner, self.runner.options
        runner.stop.check()  # stopped before the claim: the customer stays pending
        in_flight = dataclasses.replace(
            self.base, status=Status.IN_FLIGHT, detail="DATA enviado; esperando respuesta"
        )
        with runner.stop.critical(), runner.records.transaction() as connection:
            self.denied = claims.take(
                connection,
                self.key,
                self.report.run_id,
                force=options.force,
                retry=options.retry_of is not None,
            )
            if self.denied is not None:
                raise ClaimLost
            runner.records.record(in_flight, connection)
        self.base.status, self.base.detail = in_flight.status, in_flight.detail
        runner.stop.check()  # stopped while claiming: DATA is not sent, reported uncertain

    def send(self, message: Outgoing) -> None:
        runner, base = self.runner, self.base
        copies = message.copies  # a Cc's or blind copy's answer is not the customer's
        uncertain_before, runner.uncertain = runner.uncertain, 0
        try:
            delivery = for_addressees(
                self.transport.deliver(dataclasses.replace(message, claim=self.take_claim)),
                copies,
            )
        except ClaimLost:
            assert self.denied is not None
            outcome = runner._denied_outcome(self.candidate, self.denied)
            base.status, base.detail = (
                (outcome.status, outcome.detail)
                if outcome
                else (Status.SKIPPED, f"en proceso en la corrida {self.denied.run_id}")
            )
        except mailer.Uncertain as exc:
            base.status, base.detail = Status.UNCERTAIN, f"incierto: {exc.reply}"
            runner.uncertain = uncertain_before + 1
            self._count_uncertain(exc.reply)
        except mailer.RUN_STOPPERS as exc:
            self.report.aborted, self.report.abort_code = exc.reply, exc.exit_code
            base.status, base.detail = Status.PENDING, f"no se intentó: {exc.reply}"
        except mailer.ConnectionFailed as exc:
            self._settle(Status.FAILED, exc.reply)
            self._count_unreachable(exc.reply)
            return
        except mailer.TemporaryFailure as exc:
            runner.unreachable = 0
            deferred, refused = without(exc.deferred, copies), without(exc.refused, copies)
            if deferred:
                runner.deferred.add(
                    self.report,
                    Waiting(base, message, self.key, [], refused, deferred, exc.reply),
                )
            else:
                self._settle(Status.FAILED, exc.reply, refused=refused)
            return
        except mailer.SendError as exc:
            refused = exc.refused if isinstance(exc, mailer.PermanentFailure) else {}
            self._settle(Status.FAILED, exc.reply, refused=without(refused, copies))
            return
        except (RunStopped, DatabaseBusy) as exc:
            reason = exc.reason if isinstance(exc, RunStopped) else exc.message
            runner.stop.settle()
            if base.status == Status.IN_FLIGHT:
                base.status, base.detail = Status.UNCERTAIN, f"incierto: {reason} durante DATA"
            else:
                base.status, base.detail = Status.PENDING, f"no se intentó: {reason}"
            runner._emit(self.report, base, record=isinstance(exc, RunStopped))
            raise
        else:
            runner.unreachable = 0
            if not delivery.accepted and not delivery.deferred:  # only a copy took it
                reply = "; ".join(f"{a}: {r}" for a, r in delivery.refused.items())
                self._settle(Status.FAILED, reply, refused=delivery.refused)
                return
            if delivery.deferred:
                waiting = Waiting(
                    base,
                    message,
                    self.key,
                    list(delivery.accepted),
                    dict(delivery.refused),
                    dict(delivery.deferred),
                    delivery.reply,
                )
                runner.deferred.add(self.report, waiting)
                return
            base.refused = dict(delivery.refused)
            self._settle(
                self.transport.delivered_status,
                delivery.reply,
                accepted=delivery.accepted,
                refused=delivery.refused,
            )
            return
        runner._emit(self.report, base)

    def _count_unreachable(self, reply: str) -> None:
        """A run-level circuit breaker: so many customers in a row without a connection
        stop the run, the rest left pending."""
        runner = self.runner
        runner.unreachable += 1
        limit = runner.options.stop_after_failures
        if limit and runner.unreachable >= limit:
            self.report.aborted = (
                f"el servidor SMTP no respondió a {runner.unreachable} clientes seguidos "
                f"({reply}); los demás quedan pendientes. Cuando responda, reanude con "
                f"«rotomail send --retry-failed {self.report.run_id}»"
            )

    def _count_uncertain(self, reply: str) -> None:
        """The other circuit breaker: a server that takes the content and never confirms it
        would leave every customer uncertain, one timeout each."""
        runner = self.runner
        limit = runner.options.stop_after_failures
        if limit and runner.uncertain >= limit:
            self.report.aborted = (
                f"{runner.uncertain} clientes seguidos quedaron inciertos: el servidor SMTP no "
                f"confirmó el final del mensaje ({reply}); los demás quedan pendientes. "
                "Pregunte al proveedor si esos mensajes llegaron antes de reanudar con "
                f"«rotomail send --retry-failed {self.report.run_id}»"
            )

    def _settle(
        self,
        status: Status,
        detail: str,
        accepted: list[str] | None = None,
        refused: Mapping[str, str] | None = None,
    ) -> None:
        """Move the claim from in flight to its outcome and record it (with each address's
        answer), in one transaction. A message saved to the outbox holds its channel's
        claim as sent."""
        runner, base = self.runner, self.base
        claim_status = Status.SENT if status == Status.SAVED else status
        try:
            with runner.stop.critical(), runner.records.transaction() as connection:
                claims.advance(
                    connection, self.key, self.report.run_id, Status.IN_FLIGHT, claim_status
                )
                runner.records.record(
                    dataclasses.replace(base, status=status, detail=detail), connection
                )
                if accepted or refused:
                    record_addresses(
                        connection,
                        self.report.run_id,
                        base.cliente,
                        list(accepted or []),
                        dict(refused or {}),
                        {},
                        detail if status != Status.FAILED else "",
                    )
        except DatabaseBusy as exc:
            # The server answered but the database could not record it: the claim stays in
            # flight, so later runs treat the customer as uncertain, never as unsent.
            base.status = status
            base.detail = f"{detail} (no quedó registrado: {exc.message})"
            runner._emit(self.report, base, record=False)
            raise
        base.status, base.detail = status, detail
        runner._emit(self.report, base, record=False)

"""A send run: who gets a statement, rendering, delivery, and the record of every outcome.

``plan`` decides what the run will do; the CLI narrows the customers (checklist or --all)
and prints; this module does the work and reports each outcome through a callback, so it
runs the same from cron, a terminal or a test. Its parts live beside it: ``candidates``
(who can be sent), ``records`` (the run's rows in the database), ``liveness`` (is a run's
process alive; its heartbeat), ``stopping`` (SIGTERM and Ctrl-C), ``claims`` (exactly
once); here is the per-customer delivery loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping

from sqlalchemy import Connection, Engine

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
from rotomail.delivery.report import Outcome, RunReport, SendOptions, unprintable_line
from rotomail.delivery.results import for_addressees, without
from rotomail.delivery.runlog import write_log
from rotomail.delivery.stopping import RunStopped, StopSignals
from rotomail.files import is_place_fault, storage_problem, write_exit_code, write_whole
from rotomail.store.db import DatabaseBusy, DatabaseFault
from rotomail.store.missing import MissingCustomer
from rotomail.words import REAL_MODES, Mode, Status

__all__ = ["ClaimLost", "SendRunner"]


class ClaimLost(Exception):
    """Another run took this customer over between our claim and DATA."""


class RunHalted(RunStopped):
    """The run stopped in another thread (its database failed, an error): raised in a
    session whose message was cut by it."""

    def __init__(self, reason: str) -> None:
        super().__init__(0)
        self.reason = reason
        self.exit_code = 1


# How often the thread feeding the sessions looks at a stop request while it waits.
FEED_POLL = 0.2


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
        # Sessions at once (``options.sessions``): outcomes are reported one at a time, the
        # circuit breakers count across sessions, and a run stopped in one thread stops
        # the others (``halt``).
        self.lock = threading.RLock()
        self.halt: BaseException | None = None
        self.jobs = StatementJobs(engine, company, options, self.document_types, collectors)
        # outcomes a database fault kept from being recorded: recorded by ``_recover``
        self.unrecorded: list[Callable[[Connection], None]] = []

    def _emit(self, report: RunReport, outcome: Outcome, record: bool = True) -> None:
        if record:
            with self.stop.critical():
                self.records.record(outcome)
        with self.lock:  # one whole line per outcome, whichever session reports it
            report.outcomes.append(outcome)
            try:
                self.on_outcome(outcome)
            except OSError:  # output closed (a pipe's reader gone): the run goes on silently
                self.on_outcome = lambda outcome: None

    def halted(self) -> RunStopped | None:
        """Why this session must stop now: a stop requested (SIGTERM, Ctrl-C) or the run
        halted in another thread; None while the run goes on."""
        if self.stop.requested:
            return RunStopped(self.stop.requested)
        if self.halt is not None:
            reason = getattr(self.halt, "message", "") or "la corrida se detuvo"
            return RunHalted(reason)
        return None

    def through(self, deliver: Callable[[], mailer.Delivery]) -> mailer.Delivery:
        """``deliver()``; a failure caused by the run being stopped from another thread
        (its session aborted) is that stop, not the server's answer."""
        try:
            return deliver()
        except (mailer.SendError, OSError):
            halted = self.halted()
            if halted is not None:
                raise halted from None
            raise

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
            except DatabaseFault as exc:
                # A busy, full, read-only or damaged database, or its connection lost (a
                # server restart): what could not be recorded is recorded now if the
                # database answers again, and the run closed as interrupted; else the next
                # command that looks closes it (its process is gone by then).
                report.aborted, report.interrupt_code = exc.message, exc.exit_code
                # busy: another process holds it, waiting again would only add a timeout
                database_ok = not isinstance(exc, DatabaseBusy) and self._recover()
            self.stop.settle()
            if report.aborted:
                database_ok = self._not_attempted(report, candidates, record=database_ok)
            report.log_path = write_log(report)
            if database_ok:
                with contextlib.suppress(DatabaseFault):  # else closed by the next command
                    self.records.finish(report)
        return report

    def _recover(self) -> bool:
        """After a database fault: record the outcomes it kept from being recorded (each
        claim moved from in flight to its outcome), if the database answers again; True
        when it does."""
        try:
            with self.records.transaction() as connection:
                for settle in self.unrecorded:
                    settle(connection)
        except DatabaseFault:
            return False
        self.unrecorded.clear()
        return True

    def _send_all(self, report: RunReport, to_render: list[Candidate]) -> None:
        sessions = min(max(1, self.options.sessions), len(to_render))
        transports = [self.make_transport(report.run_id) for _ in range(sessions)]
        try:
            rendered = self.jobs.rendered(to_render)
            if sessions > 1:
                self._send_concurrently(report, transports, rendered)
            elif transports:
                for candidate, item in rendered:
                    if report.aborted:
                        break
                    self.stop.check()
                    self._deliver(report, transports[0], candidate, item)
            if transports and not report.aborted:
                self.deferred.retry(report, transports[0])
            self.deferred.finish(report)
        except BaseException:
            for transport in transports:  # maybe mid-transaction: no QUIT, no wait
                transport.abort()
            raise
        for transport in transports:
            transport.close()

    def _send_concurrently(
        self,
        report: RunReport,
        transports: list[mailer.Transport],
        rendered: Iterator[tuple[Candidate, Rendered]],
    ) -> None:
        """One thread per session, each with its own transport (connection) and database
        connection, taking the rendered statements in turn; this thread renders and feeds
        them. Each customer is still claimed right before its own DATA."""
        work: queue.Queue[tuple[Candidate, Rendered] | None] = queue.Queue(len(transports) * 2)
        failures: list[BaseException] = []
        threads = [
            threading.Thread(
                target=self._session,
                args=(report, transport, work, failures),
                name=f"rotomail-smtp-{number}",
                daemon=True,
            )
            for number, transport in enumerate(transports, 1)
        ]
        for thread in threads:
            thread.start()
        try:
            for item in rendered:
                if report.aborted:
                    break
                self._feed(work, item, failures)
            for _ in threads:
                self._feed(work, None, failures)
            for thread in threads:
                while thread.is_alive():
                    thread.join(FEED_POLL)
                    self._check_sessions(failures)
            self._check_sessions(failures)
        except BaseException as exc:
            self.halt = exc
            self.stop.settle()  # from here on a signal is only noted: the sessions record
            for transport in transports:
                transport.abort()
            while True:  # what no session took stays pending
                try:
                    work.get_nowait()
                except queue.Empty:
                    break
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
            raise

    def _feed(
        self,
        work: queue.Queue[tuple[Candidate, Rendered] | None],
        item: tuple[Candidate, Rendered] | None,
        failures: list[BaseException],
    ) -> None:
        while True:
            self._check_sessions(failures)
            try:
                work.put(item, timeout=FEED_POLL)
                return
            except queue.Full:
                continue

    def _check_sessions(self, failures: list[BaseException]) -> None:
        """Raise a stop requested, or what ended a session."""
        self.stop.check()
        if self.stop.requested:  # settled by a session that saw it first
            raise RunStopped(self.stop.requested)
        if failures:
            raise failures[0]

    def _session(
        self,
        report: RunReport,
        transport: mailer.Transport,
        work: queue.Queue[tuple[Candidate, Rendered] | None],
        failures: list[BaseException],
    ) -> None:
        """One SMTP session's thread: deliver what it is given until told to stop."""
        try:
            with self.records.sending():
                while (item := work.get()) is not None:
                    if report.aborted or failures or self.halted() is not None:
                        continue  # left pending (``_not_attempted``)
                    self._deliver(report, transport, *item)
        except BaseException as exc:
            with self.lock:
                failures.append(exc)
            while work.get() is not None:  # never leave the feeding thread blocked
                pass

    def _not_attempted(self, report: RunReport, candidates: list[Candidate], record: bool) -> bool:
        """The customers the run never reached stay pending, saying why (one statement for
        all of them: a stopped run of 20,000 customers still ends within seconds); False
        when the database could not record it."""
        detail = f"no se intentó: {report.aborted}"
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
        if not record:
            return False
        try:
            self.records.pending_detail(detail)
        except DatabaseFault:
            return False  # the next command that looks closes the run
        return True

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
        write_whole(path, rendered.pdf)  # owner-only, whole or not at all

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
            try:
                self._keep_pdf(report, rendered)
            except OSError as exc:
                base = Outcome(
                    candidate.cliente, candidate.nombre, candidate.correos, Status.FAILED
                )
                base.detail = (
                    f"no se pudo guardar el PDF en {self.options.run_folder(report.run_id)}: "
                    f"{storage_problem(exc)}"
                )
                if is_place_fault(exc):  # every later file would fail alike: stop
                    report.aborted, report.abort_code = base.detail, write_exit_code(exc)
                    report.write_failed = True
                self._emit(report, base)
                return
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
            aviso=unprintable_line(candidate.cliente, candidate.nombre, rendered.uncovered),
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
                base.detail = (
                    f"no se pudo guardar el PDF en {self.options.statements_dir} "
                    f"([statement] keep): {storage_problem(exc)}"
                )
                if is_place_fault(exc):  # every later statement would fail alike: stop
                    report.aborted, report.abort_code = base.detail, write_exit_code(exc)
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
            delivery = self.through(lambda: transport.deliver(message))
        except mailer.SendError as exc:
            base.status, base.detail = Status.FAILED, exc.reply
            if isinstance(exc, mailer.RUN_STOPPERS):
                report.aborted, report.abort_code = exc.message, exc.exit_code
                report.write_failed = isinstance(exc, mailer.WriteFailed)
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
        self.uncertain = False  # the server never confirmed this customer's message

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
        self.uncertain = False
        try:
            self._send(message)
        finally:
            if not self.uncertain:  # the breaker counts uncertain customers in a row
                self.runner.uncertain = 0

    def _send(self, message: Outgoing) -> None:
        runner, base = self.runner, self.base
        copies = message.copies  # a Cc's or blind copy's answer is not the customer's
        claimed = dataclasses.replace(message, claim=self.take_claim)
        try:
            delivery = for_addressees(
                runner.through(lambda: self.transport.deliver(claimed)), copies
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
            self.uncertain = True
            self._count_uncertain(exc.reply)
        except mailer.WriteFailed as exc:
            # Nothing was kept (the file is whole or absent): failed, never uncertain; its
            # claim, if taken, moves to failed so the next run sends it.
            self.report.aborted, self.report.abort_code = exc.reply, exc.exit_code
            self.report.write_failed = True
            self._settle(Status.FAILED, exc.reply)
            return
        except mailer.RUN_STOPPERS as exc:
            self.report.aborted, self.report.abort_code = exc.message, exc.exit_code
            base.status, base.detail = Status.PENDING, f"no se intentó: {exc.message}"
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
        except (RunStopped, DatabaseFault) as exc:
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
        (whichever session tried them) stop the run, the rest left pending."""
        runner = self.runner
        with runner.lock:
            runner.unreachable += 1
            unreachable = runner.unreachable
        limit = runner.options.stop_after_failures
        if limit and unreachable >= limit and not self.report.aborted:
            self.report.aborted = (
                f"el servidor SMTP no respondió a {unreachable} clientes seguidos "
                f"({reply}); los demás quedan pendientes. Cuando responda, reanude con "
                f"«rotomail send --retry-failed {self.report.run_id}»"
            )

    def _count_uncertain(self, reply: str) -> None:
        """The other circuit breaker: a server that takes the content and never confirms it
        would leave every customer uncertain, one timeout each."""
        runner = self.runner
        with runner.lock:
            runner.uncertain += 1
            uncertain = runner.uncertain
        limit = runner.options.stop_after_failures
        if limit and uncertain >= limit and not self.report.aborted:
            self.report.aborted = (
                f"{uncertain} clientes seguidos quedaron inciertos: el servidor SMTP no "
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

        def settle(connection: Connection) -> None:
            claims.advance(connection, self.key, self.report.run_id, Status.IN_FLIGHT, claim_status)
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

        try:
            with runner.stop.critical(), runner.records.transaction() as connection:
                settle(connection)
        except DatabaseFault as exc:
            # The outcome is known but the database could not record it: recorded after
            # the fault if the database answers again (``SendRunner._recover``); else the
            # claim stays in flight, so later runs treat the customer as uncertain, never
            # as unsent.
            runner.unrecorded.append(settle)
            base.status = status
            base.detail = f"{detail} (no quedó registrado: {exc.message})"
            runner._emit(self.report, base, record=False)
            raise
        base.status, base.detail = status, detail
        runner._emit(self.report, base, record=False)

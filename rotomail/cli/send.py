"""``rotomail send``: the checklist or --all, the run with its progress, the summary and the
log e-mailed to the operator."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Annotated, NamedTuple

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import Engine

from rotomail.cli.checklist import ChecklistItem, choose_customers
from rotomail.cli.common import (
    DateOption,
    State,
    parse_date,
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import is_terminal, print_table, surviving_output
from rotomail.cli.progress import RemainingWithRateLimit
from rotomail.company import CompanyProfile, minimum_amount
from rotomail.config import Settings
from rotomail.delivery.candidates import Candidate, marked_addresses
from rotomail.delivery.mailer import Transport
from rotomail.delivery.plan import (
    IncompleteCatalog,
    ResendRequest,
    RunPlan,
    RunRequest,
    plan_resend,
    plan_run,
)
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.delivery.runlog import collector_logs, mail_log
from rotomail.delivery.runs import SendRunner
from rotomail.delivery.transports import channel_name, describe, transport_factory, uses_smtp
from rotomail.errors import UsageError
from rotomail.store.bounces import bounced_addresses
from rotomail.store.history import sent_today
from rotomail.store.missing import MissingCustomer
from rotomail.words import SUMMARY, Channel, Mode, Status, spanish

app = command_group("Envío masivo de estados de cuenta de una sociedad.")

SYMBOL = {
    Status.SENT: "✓",
    Status.SAVED: "✓",
    Status.BUILT: "✓",
    Status.PARTIAL: "✓",
    Status.FAILED: "✗",
    Status.SKIPPED: "–",
    Status.UNCERTAIN: "?",
    Status.PENDING: "·",
    Status.BOUNCED: "✗",
}
# What reached its recipients (or was produced, in a dry-run): quiet by default under cron.
DONE = frozenset({Status.SENT, Status.SAVED, Status.BUILT})
# Listed up to LISTED customers each, then counted (the log lists them all): what a run did
# not do on purpose (skipped) or never reached (pending, after a stop).
CAPPED = frozenset({Status.SKIPPED, Status.PENDING})
LISTED = 20


def outcome_line(outcome: Outcome, options: SendOptions | None = None) -> str:
    """One customer's line; in a rehearsal (--test) the recipient shown is the operator."""
    text = f"{SYMBOL.get(outcome.status, '?')} {outcome.cliente} {outcome.nombre}"
    if outcome.status in DONE:
        if options is not None and options.mode == Mode.TEST:
            text += (
                f" → {options.operator_email} (ensayo; del cliente: {';'.join(outcome.correos)})"
            )
        else:
            text += f" → {';'.join(outcome.correos)}"
        if outcome.status == Status.SAVED:
            text += " (guardado en el buzón de salida)"
        if outcome.refused:
            refused = "; ".join(f"{a} ({r})" for a, r in outcome.refused.items())
            text += f" (rechazados: {refused})"
        return text
    return f"{text}: {spanish(outcome.status)} - {outcome.detail}"


def header_line(report: RunReport) -> str:
    """What a cron mail starts with: which run, of what, how, since when."""
    options = report.options
    return (
        f"Corrida {report.run_id} · sociedad {options.sociedad} · "
        f"fecha de corte {options.statement_date:%d/%m/%Y} · "
        f"modo {spanish(options.mode)} · transporte {report.transport} · "
        f"inicio {report.started_at:%Y-%m-%d %H:%M:%S}"
    )


def print_summary(report: RunReport) -> None:
    rows = [[text, report.count(status)] for status, text in SUMMARY.items()]
    print_table(["Resultado", "Clientes"], [r for r in rows if r[1]] or rows[:1])


@app.command("send")
def send(
    ctx: typer.Context,
    sociedad: Annotated[str | None, typer.Option("--sociedad", help="Sociedad a enviar.")] = None,
    cliente: Annotated[
        list[str] | None, typer.Option("--cliente", help="Solo estos clientes (repetible).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Todos, sin lista interactiva (cron).")
    ] = False,
    date_: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Generar todo sin enviar nada.")
    ] = False,
    test: Annotated[
        bool, typer.Option("--test", help="Ensayo: todo al correo del operador.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Reenviar aunque ya se haya enviado.")
    ] = False,
    skip_zero: Annotated[
        bool, typer.Option("--skip-zero", help="Omitir clientes sin saldo.")
    ] = False,
    min_balance: Annotated[
        str | None,
        typer.Option(
            "--min-balance",
            help="Omitir a los clientes cuyo saldo en cada moneda es menor que este importe "
            "(predeterminado: min_balance de la sociedad).",
            show_default=False,
        ),
    ] = None,
    skip_credit: Annotated[
        bool,
        typer.Option(
            "--skip-credit", help="Omitir a los clientes sin saldo a cargo (≤ 0 en cada moneda)."
        ),
    ] = False,
    retry_failed: Annotated[
        int | None,
        typer.Option(
            "--retry-failed",
            help="Reenviar solo los fallidos y rebotados de la corrida RUN "
            "(a las direcciones que no rebotaron).",
        ),
    ] = None,
    require_complete: Annotated[
        bool,
        typer.Option(
            "--require-complete",
            help="No enviar nada si algún cliente con saldo no está en el catálogo (cron).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Sin terminal: una línea por cliente, también los correctos."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Solo el resumen, sin líneas por cliente.")
    ] = False,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            help="Reenvío: el estado de cuenta de un --cliente solo a estas direcciones "
            "(repetible); el catálogo no cambia.",
        ),
    ] = None,
    ejecutivo: Annotated[
        str | None,
        typer.Option("--ejecutivo", help="Solo los clientes de este ejecutivo (Encargado)."),
    ] = None,
) -> None:
    """Envío masivo de estados de cuenta de una sociedad.

    Sin --date, los estados de cuenta son a la fecha de las partidas abiertas importadas.
    Sin terminal (cron) se escribe primero una línea de encabezado, luego los clientes que
    requieren atención (✗, ?) y el resumen; sin correo, omitidos y pendientes, hasta 20 de
    cada uno. --verbose escribe todos, --quiet solo el resumen.
    """
    request = SendRequest(
        sociedad,
        list(cliente or []),
        all_,
        date_,
        Mode.DRY_RUN if dry_run else Mode.TEST if test else Mode.SEND,
        force,
        skip_zero,
        retry_failed,
        require_complete,
        Verbosity(quiet=quiet, verbose=verbose),
        list(to or []),
        ejecutivo=ejecutivo,
        min_balance=_min_balance(min_balance),
        skip_credit=skip_credit,
    )
    with surviving_output():
        if to:
            _check_resend(request, dry_run=dry_run)
        if dry_run and test:
            raise UsageError("Use --dry-run o --test, no ambos.")
        if verbose and quiet:
            raise UsageError("Use --verbose o --quiet, no ambos.")
        _send(state(ctx), request)


@dataclass(frozen=True)
class SendRequest:
    """What ``rotomail send`` was asked to do, as given on the command line."""

    sociedad: str | None
    clientes: list[str]
    all: bool
    date: str | None
    mode: Mode
    force: bool
    skip_zero: bool
    retry_failed: int | None
    require_complete: bool
    verbosity: Verbosity
    to: list[str]  # a resend to these addresses only
    ejecutivo: str | None = None
    min_balance: Decimal | None = None
    skip_credit: bool = False


def _min_balance(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return minimum_amount(text)
    except ValueError as exc:
        raise UsageError(f"--min-balance «{text}»: {exc}.") from None


def _check_resend(request: SendRequest, *, dry_run: bool) -> None:
    """A resend (--to) is one customer's statement, on its own."""
    if len(request.clientes) != 1:
        raise UsageError("Con --to indique exactamente un cliente con --cliente.")
    given = {
        "--all": request.all,
        "--ejecutivo": request.ejecutivo is not None,
        "--retry-failed": request.retry_failed is not None,
        "--test": request.mode == Mode.TEST,
        "--dry-run": dry_run,
        "--min-balance": request.min_balance is not None,
        "--skip-credit": request.skip_credit,
    }
    for flag, used in given.items():
        if used:
            raise UsageError(f"--to no se combina con {flag}: es un reenvío a un solo cliente.")


def _plan(st: State, request: SendRequest) -> RunPlan:
    if request.to:
        plan = plan_resend(
            st.engine,
            st.settings,
            ResendRequest(
                request.sociedad, request.clientes[0], request.to, parse_date(request.date)
            ),
        )
        if plan.resend_pdf is not None:
            typer.echo(f"Reenvío del estado de cuenta guardado: {plan.resend_pdf}", err=True)
        else:
            typer.echo(
                "Reenvío: no hay estado de cuenta guardado para esa fecha; se genera con las "
                f"partidas abiertas al {plan.statement_date:%d/%m/%Y}.",
                err=True,
            )
        return plan
    return plan_run(
        st.engine,
        st.settings,
        RunRequest(
            request.sociedad,
            parse_date(request.date),
            request.clientes,
            request.mode,
            request.retry_failed,
            request.require_complete,
            ejecutivo=request.ejecutivo,
            min_balance=request.min_balance,
            skip_credit=request.skip_credit,
        ),
    )


def _send(st: State, request: SendRequest) -> None:
    settings = st.settings
    try:
        plan = _plan(st, request)
    except IncompleteCatalog as exc:
        _print_missing(exc.missing, exc.sociedad)
        raise
    sociedad, statement_date, mode = plan.sociedad, plan.statement_date, plan.mode
    candidates = plan.candidates
    operator_email = settings.operator.email
    if plan.unknown_collectors:  # once per run, not once per customer
        typer.echo(
            f"Aviso: ejecutivos sin [collectors.{sociedad}.CÓDIGO] en config.toml (sus clientes "
            f"se envían sin ejecutivo): {', '.join(plan.unknown_collectors)}",
            err=True,
        )
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    verbosity = request.verbosity
    if not (request.all or plan.named):
        if not interactive:
            raise UsageError(
                "Sin terminal no hay lista interactiva: use --all o indique --cliente."
            )
        candidates = _choose(st, request, plan)
    elif _nothing_to_do(plan, request):
        verbosity = replace(verbosity, idle=True)
    options = SendOptions(
        sociedad=sociedad,
        statement_date=statement_date,
        mode=mode,
        force=request.force,
        skip_zero=request.skip_zero,
        retry_of=request.retry_failed,
        operator=settings.operator_name,
        operator_email=operator_email,
        templates_dir=settings.templates_dir,
        logs_dir=settings.logs_dir,
        outbox_dir=settings.outbox_dir,
        keep_pdfs=plan.channel == Channel.OUTBOX,  # beside the .eml files
        stop_after_failures=settings.smtp.stop_after_failures,
        sessions=settings.smtp.sessions if uses_smtp(settings, mode) else 1,
        retry_rounds=settings.smtp.retry_rounds,
        round_wait=settings.smtp.round_wait,
        channel=plan.channel,
        render_nice=settings.render.nice,
        ledger_date=plan.ledger_date,
        snapshot_at=plan.snapshot_at,
        aging=settings.aging,
        statements_dir=settings.statements_dir,
        keep_statements=settings.statement.keep,
        resend_pdf=plan.resend_pdf,
        thresholds=plan.thresholds.describe(),
    )
    factory = transport_factory(
        settings, mode, options.run_folder, interactive, lambda: sent_today(st.engine)
    )
    rate = settings.smtp.rate_per_minute if uses_smtp(settings, mode) else 0
    report = _run_with_progress(
        st.engine,
        plan.company,
        options,
        factory,
        candidates,
        describe(settings, mode),
        RunnerExtras(settings.document_types, plan),
        replace(verbosity, rate_per_minute=rate, left_out=request.all),
    )
    if verbosity.idle and not report.aborted:
        typer.echo(_nothing_to_do_line(plan))
    else:
        print_summary(report)
    if report.aborted and not report.interrupt_code:
        typer.echo(f"Corrida detenida: {report.aborted}", err=True)
    if options.keep_pdfs and not verbosity.idle:
        typer.echo(f"Archivos (PDF y .eml): {options.run_folder(report.run_id)}")
    if mode == Mode.DRY_RUN:
        for outcome in report.outcomes:
            if outcome.copias:  # what its e-mail would carry
                typer.echo(f"Copias de {outcome.cliente}: {outcome.copias.summary(names=True)}")
        typer.echo("Simulación: no se envió nada.")
    typer.echo(f"Registro: {report.log_path}")
    mail_log_to_operator(report, settings, plan.company, factory)
    if settings.operator.collectors_log:
        ejecutivo_of = {c.cliente: c.ejecutivo for c in candidates if c.ejecutivo}
        for collector, part in collector_logs(report, plan.collectors, ejecutivo_of):
            error = mail_log(part, plan.company, collector.email, factory)
            typer.echo(
                f"Aviso: no se pudo enviar su registro al ejecutivo {collector.code}: {error}"
                if error
                else f"Registro de sus clientes enviado al ejecutivo {collector.code} "
                f"({collector.email}).",
                err=bool(error),
            )
    if report.interrupt_code:
        typer.echo(f"Error: corrida {report.run_id} interrumpida: {report.aborted}", err=True)
    raise typer.Exit(report.exit_code)


def _nothing_to_do(plan: RunPlan, request: SendRequest) -> bool:
    """Every customer of the run already has this statement on this channel: a rerun (cron)
    says so in one line instead of one per customer."""
    return (
        plan.mode == Mode.SEND
        and not request.force
        and not request.verbosity.verbose
        and all(c.cliente in plan.already_sent for c in plan.candidates)
    )


def _nothing_to_do_line(plan: RunPlan) -> str:
    runs = ", ".join(str(r) for r in plan.sent_runs)
    text = (
        f"Nada que enviar: ya enviado para esta fecha "
        f"(corrida{'s' if len(plan.sent_runs) > 1 else ''} {runs}) a "
        f"{_customers(len(plan.candidates))} de {plan.sociedad} (estado de cuenta al "
        f"{plan.statement_date:%d/%m/%Y}); use --force para reenviar"
    )
    if plan.missing:
        text += (
            f"; {len(plan.missing)} con partidas abiertas sin correo en el catálogo: "
            f"rotomail catalog missing --sociedad {plan.sociedad}"
        )
    return text + "."


def _customers(count: int) -> str:
    return "el cliente" if count == 1 else f"los {count} clientes"


def _choose(st: State, request: SendRequest, plan: RunPlan) -> list[Candidate]:
    """The interactive checklist: the customers the operator keeps ticked."""
    settings, candidates, sociedad = st.settings, plan.candidates, plan.sociedad
    bounced = bounced_addresses(st.engine, sociedad, [c.cliente for c in candidates])

    def item(c: Candidate) -> ChecklistItem:
        return ChecklistItem(
            c.cliente,
            c.cliente,
            c.nombre,
            marked_addresses(c.correos, bounced.get(c.cliente, set())),
            c.balance_text,
            c.balance,
            c.idioma,
            c.ejecutivo,
            c.disputed_text,
        )

    omitted = [c for c in candidates if c.cliente in plan.omitted]
    chosen = choose_customers(
        [item(c) for c in candidates if c.cliente not in plan.omitted],
        f"Envío masivo de estado de cuenta - {sociedad} - fecha de corte "
        f"{plan.statement_date:%d/%m/%Y}",
        missing=[
            ChecklistItem(m.cliente, m.cliente, m.nombre, m.correo, m.balance_text, m.balance)
            for m in plan.missing
        ],
        held=[
            ChecklistItem(cliente, cliente, f"retenido: {reason}", "", "", {})
            for cliente, reason in sorted(plan.held.items())
        ],
        already_sent=set(plan.already_sent),
        mode=plan.mode,
        transport=describe(settings, plan.mode),
        force=request.force,
        statement_date=plan.statement_date,
        warning=plan.date_warning,
        below_minimum=[item(c) for c in omitted if not plan.thresholds.in_credit(c.balance)],
        in_credit=[item(c) for c in omitted if plan.thresholds.in_credit(c.balance)],
    )
    if chosen is None:
        typer.echo("Cancelado: no se envió nada.", err=True)
        raise typer.Exit(1)
    keep = set(chosen)
    if not keep and not omitted:
        typer.echo("Ningún cliente seleccionado: no se envió nada.", err=True)
        raise typer.Exit(1)
    # The omitted go to the run too: recorded "omitido" with the reason, never sent.
    return [c for c in candidates if c.cliente in keep or c.cliente in plan.omitted]


def _print_missing(missing: list[MissingCustomer], sociedad: str) -> None:
    typer.echo(
        f"Con partidas abiertas y sin correo en el catálogo (no se les envía): {len(missing)}",
        err=True,
    )
    for m in missing[:LISTED]:
        typer.echo(
            f"  {m.cliente} {m.nombre or '(no está en el maestro)'}: {m.balance_text}", err=True
        )
    if len(missing) > LISTED:
        typer.echo(
            f"  … y {len(missing) - LISTED} más: rotomail catalog missing --sociedad {sociedad}",
            err=True,
        )


def _print_left_out(plan: RunPlan, to_send: int) -> None:
    """Shown before a send (--all): nobody is left out without a word."""
    missing, held = plan.missing, plan.held
    if not (missing or held):
        return
    typer.echo(
        f"Envío a {to_send} clientes de {plan.sociedad}; "
        f"{len(missing)} con partidas abiertas sin correo en el catálogo (no se envían); "
        f"{len(held)} retenidos.",
        err=True,
    )
    if missing:
        _print_missing(missing, plan.sociedad)
    if held:
        typer.echo(f"Retenidos (no se les envía): {len(held)}", err=True)
        for cliente, reason in sorted(held.items())[:LISTED]:
            typer.echo(f"  {cliente}: {reason}", err=True)
        if len(held) > LISTED:
            typer.echo(f"  … y {len(held) - LISTED} más (el registro los lista todos)", err=True)


class RunnerExtras(NamedTuple):
    document_types: dict[str, dict[str, str]]
    plan: RunPlan  # its left-out customers go in the log (and before the run, --all)


@dataclass(frozen=True)
class Verbosity:
    quiet: bool = False
    verbose: bool = False
    rate_per_minute: float = 0  # the configured SMTP rate limit, 0 = none
    idle: bool = False  # everyone already has the statement: one line says so, no other
    left_out: bool = False  # --all: the customers left out are listed before the run

    def shows(self, outcome: Outcome, terminal: bool) -> bool:
        if self.quiet or self.idle:
            return False
        return terminal or self.verbose or outcome.status not in DONE or bool(outcome.refused)


class OutcomeLines:
    """Prints each customer's line as the run goes, as ``verbosity`` says: without
    --verbose, skipped and pending customers are listed up to LISTED each, then counted;
    at a terminal the pending ones (a stopped run) only counted."""

    def __init__(
        self,
        verbosity: Verbosity,
        options: SendOptions,
        terminal: bool,
        echo: Callable[[str], None],
    ) -> None:
        self.verbosity, self.options, self.terminal, self.echo = verbosity, options, terminal, echo
        self.unlisted: dict[Status, int] = {}
        self.listed: dict[Status, int] = {}

    def __call__(self, outcome: Outcome) -> None:
        self.line(outcome)
        if outcome.aviso and not self.verbosity.quiet:  # e.g. a name no font prints
            self.echo(outcome.aviso)

    def line(self, outcome: Outcome) -> None:
        if not self.verbosity.shows(outcome, self.terminal):
            return
        status = outcome.status
        if status in CAPPED and not self.verbosity.verbose:
            limit = 0 if self.terminal and status == Status.PENDING else LISTED
            if self.listed.get(status, 0) >= limit:
                self.unlisted[status] = self.unlisted.get(status, 0) + 1
                return
            self.listed[status] = self.listed.get(status, 0) + 1
        self.echo(outcome_line(outcome, self.options))

    def close(self) -> None:
        """The customers counted, not listed."""
        for status, count in self.unlisted.items():
            word = SUMMARY[status].lower()
            if self.listed.get(status):
                self.echo(f"  … y {count} {word} más (el registro los lista todos)")
            else:
                self.echo(f"{count} {word} (el registro los lista todos)")


def _run_with_progress(
    engine: Engine,
    company: CompanyProfile,
    options: SendOptions,
    factory: Callable[[int], Transport],
    candidates: list[Candidate],
    transport_name: str,
    extras: RunnerExtras,
    verbosity: Verbosity | None = None,
) -> RunReport:
    verbosity = verbosity or Verbosity()

    def runner(
        on_outcome: Callable[[Outcome], None],
        on_start: Callable[[RunReport], None] = lambda report: None,
    ) -> SendRunner:
        return SendRunner(
            engine,
            company,
            options,
            factory,
            on_outcome,
            document_types=extras.document_types,
            missing=extras.plan.missing,
            held=extras.plan.held,
            on_start=on_start,
            collectors=extras.plan.collectors,
            omitted=extras.plan.omitted,
        )

    plan = extras.plan
    if not is_terminal():
        lines = OutcomeLines(verbosity, options, False, typer.echo)

        def header(report: RunReport) -> None:
            if not (verbosity.quiet or verbosity.idle):
                typer.echo(header_line(report))
            _before_run(plan, options, verbosity, len(candidates))

        report = runner(lines, on_start=header).run(candidates, transport_name)
        lines.close()
        return report
    _before_run(plan, options, verbosity, len(candidates))
    console = Console()
    with Progress(
        TextColumn("Enviando"),
        BarColumn(),
        MofNCompleteColumn(),
        RemainingWithRateLimit(verbosity.rate_per_minute),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("send", total=len(candidates))
        lines = OutcomeLines(
            verbosity,
            options,
            True,
            lambda text: console.print(text, markup=False, highlight=False),
        )

        def show(outcome: Outcome) -> None:
            lines(outcome)
            progress.advance(task)

        report = runner(show).run(candidates, transport_name)
        lines.close()
    return report


def _before_run(plan: RunPlan, options: SendOptions, verbosity: Verbosity, to_send: int) -> None:
    """Right after the header: the date warning and who is left out (--all)."""
    if verbosity.idle:
        return
    if options.date_warning:
        typer.echo(options.date_warning, err=True)
    if verbosity.left_out:
        _print_left_out(plan, to_send)


def mail_log_to_operator(
    report: RunReport,
    settings: Settings,
    company: CompanyProfile,
    factory: Callable[[int], Transport],
) -> None:
    if report.options.mode == Mode.DRY_RUN:
        return
    if not settings.operator.email:
        typer.echo(
            "Aviso: sin correo del operador ([operator] email); el registro no se envió.", err=True
        )
        return
    error = mail_log(report, company, settings.operator.email, factory)
    if error:
        typer.echo(f"Aviso: no se pudo enviar el registro al operador: {error}", err=True)
    else:
        where = (
            "enviado a"
            if channel_name(settings, report.options.mode) != Channel.OUTBOX
            else "guardado en el buzón de salida para"
        )
        typer.echo(f"Registro {where} {settings.operator.email}.")

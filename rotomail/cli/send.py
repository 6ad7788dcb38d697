"""``rotomail send``: the checklist or --all, the run with its progress, the summary and the
log e-mailed to the operator."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
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
from rotomail.company import CompanyProfile
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
from rotomail.delivery.runlog import mail_log
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
) -> None:
    """Envío masivo de estados de cuenta de una sociedad.

    Sin terminal (cron) se escribe una línea de encabezado, solo los clientes que requieren
    atención (✗, ?, omitidos) y el resumen; --verbose escribe todos, --quiet solo el resumen.
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


def _check_resend(request: SendRequest, *, dry_run: bool) -> None:
    """A resend (--to) is one customer's statement, on its own."""
    if len(request.clientes) != 1:
        raise UsageError("Con --to indique exactamente un cliente con --cliente.")
    given = {
        "--all": request.all,
        "--retry-failed": request.retry_failed is not None,
        "--test": request.mode == Mode.TEST,
        "--dry-run": dry_run,
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
        ),
    )


def _send(st: State, request: SendRequest) -> None:
    settings = st.settings
    try:
        plan = _plan(st, request)
    except IncompleteCatalog as exc:
        _print_missing(exc.missing)
        raise
    sociedad, statement_date, mode = plan.sociedad, plan.statement_date, plan.mode
    candidates, missing, held = plan.candidates, plan.missing, plan.held
    operator_email = settings.operator.email
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not (request.all or plan.named):
        if not interactive:
            raise UsageError(
                "Sin terminal no hay lista interactiva: use --all o indique --cliente."
            )
        candidates = _choose(st, request, plan)
    elif request.all and (missing or held):  # nobody left out without a word
        typer.echo(
            f"Envío a {len(candidates)} clientes de {sociedad}; "
            f"{len(missing)} con partidas abiertas sin correo en el catálogo (no se envían); "
            f"{len(held)} retenidos.",
            err=True,
        )
        _print_left_out(missing, held)
    if plan.ledger_date != statement_date:
        typer.echo(
            f"Aviso: las partidas abiertas de {sociedad} son al {plan.ledger_date:%d/%m/%Y} y "
            f"la fecha de corte es {statement_date:%d/%m/%Y}.",
            err=True,
        )
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
        retry_rounds=settings.smtp.retry_rounds,
        round_wait=settings.smtp.round_wait,
        channel=plan.channel,
        render_nice=settings.render.nice,
        aging=settings.aging,
        statements_dir=settings.statements_dir,
        keep_statements=settings.statement.keep,
        resend_pdf=plan.resend_pdf,
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
        RunnerExtras(settings.document_types, missing, held),
        replace(request.verbosity, rate_per_minute=rate),
    )
    print_summary(report)
    if report.aborted and not report.interrupt_code:
        typer.echo(f"Corrida detenida: {report.aborted}", err=True)
    if options.keep_pdfs:
        typer.echo(f"Archivos (PDF y .eml): {options.run_folder(report.run_id)}")
    if mode == Mode.DRY_RUN:
        typer.echo("Simulación: no se envió nada.")
    typer.echo(f"Registro: {report.log_path}")
    mail_log_to_operator(report, settings, plan.company, factory)
    if report.interrupt_code:
        typer.echo(f"Error: corrida {report.run_id} interrumpida: {report.aborted}", err=True)
    raise typer.Exit(report.exit_code)


def _choose(st: State, request: SendRequest, plan: RunPlan) -> list[Candidate]:
    """The interactive checklist: the customers the operator keeps ticked."""
    settings, candidates, sociedad = st.settings, plan.candidates, plan.sociedad
    bounced = bounced_addresses(st.engine, sociedad, [c.cliente for c in candidates])
    chosen = choose_customers(
        [
            ChecklistItem(
                c.cliente,
                c.cliente,
                c.nombre,
                marked_addresses(c.correos, bounced.get(c.cliente, set())),
                c.balance_text,
                c.balance,
                c.idioma,
            )
            for c in candidates
        ],
        f"Envío masivo de estado de cuenta - {sociedad}",
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
    )
    if chosen is None:
        typer.echo("Cancelado: no se envió nada.", err=True)
        raise typer.Exit(1)
    keep = set(chosen)
    kept = [c for c in candidates if c.cliente in keep]
    if not kept:
        typer.echo("Ningún cliente seleccionado: no se envió nada.", err=True)
        raise typer.Exit(1)
    return kept


def _print_missing(missing: list[MissingCustomer]) -> None:
    typer.echo(
        f"Con partidas abiertas y sin correo en el catálogo (no se les envía): {len(missing)}",
        err=True,
    )
    for m in missing:
        typer.echo(
            f"  {m.cliente} {m.nombre or '(no está en el maestro)'}: {m.balance_text}", err=True
        )


def _print_left_out(missing: list[MissingCustomer], held: dict[str, str]) -> None:
    """Shown before a send: nobody is left out without a word."""
    if missing:
        _print_missing(missing)
    if held:
        typer.echo(f"Retenidos (no se les envía): {len(held)}", err=True)
        for cliente, reason in sorted(held.items()):
            typer.echo(f"  {cliente}: {reason}", err=True)


class RunnerExtras(NamedTuple):
    document_types: dict[str, dict[str, str]]
    missing: list[MissingCustomer]
    held: dict[str, str]


@dataclass(frozen=True)
class Verbosity:
    quiet: bool = False
    verbose: bool = False
    rate_per_minute: float = 0  # the configured SMTP rate limit, 0 = none

    def shows(self, outcome: Outcome, terminal: bool) -> bool:
        if self.quiet:
            return False
        return terminal or self.verbose or outcome.status not in DONE or bool(outcome.refused)


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
            missing=extras.missing,
            held=extras.held,
            on_start=on_start,
        )

    if not is_terminal():

        def header(report: RunReport) -> None:
            if not verbosity.quiet:
                typer.echo(header_line(report))

        def line(outcome: Outcome) -> None:
            if verbosity.shows(outcome, terminal=False):
                typer.echo(outcome_line(outcome, options))

        return runner(line, on_start=header).run(candidates, transport_name)
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

        def show(outcome: Outcome) -> None:
            if verbosity.shows(outcome, terminal=True):
                console.print(outcome_line(outcome, options), markup=False, highlight=False)
            progress.advance(task)

        return runner(show).run(candidates, transport_name)


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

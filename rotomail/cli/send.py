"""Commands of the send job: ledger import, statement, send, history, demo, SMTP set-up."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from rotomail import cli as cli_root
from rotomail.cli import (
    ColumnOption,
    State,
    app,
    ask,
    config_app,
    shown_name,
    state,
)
from rotomail.cli.checklist import ChecklistItem, choose_customers
from rotomail.cli.output import Format, is_terminal, print_table, surviving_output, write_output
from rotomail.cli.spanish import prompt_secret_twice
from rotomail.delivery.candidates import marked_addresses, without_bounced
from rotomail.delivery.claims import existing_claims
from rotomail.delivery.deferred import deferred_addresses
from rotomail.delivery.transports import uses_smtp
from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_sociedad
from rotomail.store.bounces import bounced_addresses

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from sqlalchemy import Engine, Row

    from rotomail.company import CompanyProfile
    from rotomail.config import Settings
    from rotomail.delivery.candidates import Candidate
    from rotomail.delivery.mailer import Transport
    from rotomail.delivery.report import Outcome, RunReport, SendOptions
    from rotomail.inputs.parsers import LedgerLayout
    from rotomail.store.catalog import MissingCustomer
    from rotomail.store.ledger import Clearing

ledger_app = typer.Typer(
    help="Partidas abiertas (exportación FBL5N de SAP).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(ledger_app, name="ledger")

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date", help="Fecha de corte AAAA-MM-DD (predeterminado: hoy).", show_default=False
    ),
]


def parse_date(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"Fecha inválida «{value}»: use AAAA-MM-DD, por ejemplo 2026-11-30."
        ) from None


@ledger_app.command("import")
def ledger_import(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Exportaciones FBL5N (CSV/TSV/TXT/XLS/XLSX) leídas como una sola; - para la "
            "entrada estándar."
        ),
    ],
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Fecha de corte AAAA-MM-DD (predeterminado: la fecha de clave del archivo).",
            show_default=False,
        ),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Importar las filas válidas aunque haya rechazadas.")
    ] = False,
    column: ColumnOption = None,
    due_date_from: Annotated[
        str | None,
        typer.Option(
            "--due-date-from",
            help="Sin vencimiento neto en el archivo: calcular la antigüedad con fecha_base o "
            "fecha_documento (el estado de cuenta lo dice).",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="No preguntar si la importación deja sin partidas a muchos."),
    ] = False,
) -> None:
    """Importa las partidas abiertas; reemplaza las de cada sociedad de los archivos."""
    from rotomail.config import column_map
    from rotomail.inputs.parsers import DUE_DATE_STANDINS
    from rotomail.store.ledger import ImportOptions, import_ledger_files, not_in_master_summary

    if due_date_from is not None and due_date_from not in DUE_DATE_STANDINS:
        raise UsageError(f"--due-date-from «{due_date_from}»: use {' o '.join(DUE_DATE_STANDINS)}.")
    if files.count("-") and sys.stdin.isatty():
        raise UsageError(
            "Indique el archivo de partidas abiertas o envíelo por la entrada estándar."
        )
    st = state(ctx)
    given = column_map("ledger", parse_columns(column), "--column")
    options = ImportOptions(
        snapshot_date=parse_date(date_) if date_ else None,
        skip_bad=skip_bad,
        column_map={**st.settings.imports.get("ledger", {}), **given},
        strict_columns=frozenset(given),
        due_date_from=due_date_from,
    )

    def show_layout(layout: LedgerLayout) -> None:
        typer.echo(f"Columnas de {shown_name(layout.name)}:")
        for line in layout.heading_lines():
            typer.echo(f"  {line}")

    def confirm(clearings: list[Clearing]) -> bool:
        worst = [c for c in clearings if c.suspicious]
        named = "; ".join(f"{c.sociedad}: {c.cleared} de {c.before}" for c in worst)
        if yes:
            return True
        terminal = cli_root.open_terminal()  # looked up on call: tests replace it
        if terminal is None:
            raise DataError(
                f"La importación dejaría sin partidas abiertas a más de la quinta parte de los "
                f"clientes ({named}); ¿falta parte de la exportación? No se importó nada; si es "
                "correcto (p. ej. un cierre en que casi todos pagaron), repita con --yes."
            )
        who = "; ".join(f"{c.cleared} de los {c.before} clientes de {c.sociedad}" for c in worst)
        answer = ask(
            terminal,
            f"La importación deja sin partidas abiertas a {who}. "
            "¿Es la exportación completa? [s/N] ",
        )
        return answer in ("s", "si", "sí", "y", "yes")

    result = import_ledger_files(st.engine, files, options, on_layout=show_layout, confirm=confirm)
    counts = ", ".join(f"{s}: {n}" for s, n in sorted(result.per_sociedad.items()))
    snapshot = result.snapshot_date
    typer.echo(f"Partidas abiertas al {snapshot:%d/%m/%Y} importadas ({counts}).")
    if result.date_source == "hoy":
        typer.echo(
            "Aviso: el archivo no imprime la fecha de clave; se usó la de hoy "
            f"({snapshot:%d/%m/%Y}). Indíquela con --date si no es la correcta.",
            err=True,
        )
    for clearing in result.clearings:
        typer.echo(clearing.message)
    if result.skipped:
        typer.echo(f"{result.skipped} filas omitidas:", err=True)
        for reject in result.rejects:
            typer.echo(f"  Línea {reject.line}: {reject.reason}", err=True)
        listed = len(result.rejects) + sum(result.not_in_master.values())
        if result.skipped > listed:
            typer.echo(f"  ... y {result.skipped - listed} más", err=True)
        if result.not_in_master:
            typer.echo(f"  {not_in_master_summary(result.not_in_master)}", err=True)


def parse_columns(values: list[str] | None) -> dict[str, str]:
    """``--column vencimiento="Venc.neto"`` (repeatable) as a ``field -> heading`` map."""
    result: dict[str, str] = {}
    for value in values or []:
        name, sep, heading = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f'--column «{value}»: use campo="Encabezado", p. ej. vencimiento="Venc.neto".'
            )
        result[name.strip()] = heading.strip().strip('"')
    return result


@app.command("statement")
def statement(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad, por ejemplo SM02.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    date_: DateOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo PDF de salida.")
    ] = None,
) -> None:
    """Genera el estado de cuenta de un cliente en PDF, para revisarlo."""
    from rotomail.statement.model import StatementCustomer, build_statement
    from rotomail.statement.pdf import render_statement_pdf
    from rotomail.store.catalog import search_entries
    from rotomail.store.customers import search_customers
    from rotomail.store.ledger import due_date_source, items_for

    st = state(ctx)
    found = search_customers(st.engine, sociedad=sociedad, cliente=cliente)
    if not found:
        raise DataError("Sociedad no encontrada para este cliente")
    customer = found[0]
    company = st.settings.company(customer.sociedad)
    entry = search_entries(st.engine, customer.sociedad, customer.cliente)
    built = build_statement(
        company,
        StatementCustomer(customer.sociedad, customer.cliente, customer.nombre, customer.rfc),
        items_for(st.engine, customer.sociedad, customer.cliente),
        parse_date(date_),
        language=(entry[0].idioma if entry else "") or customer.idioma,
        document_types=st.settings.document_types,
        due_date_source=due_date_source(st.engine, customer.sociedad),
    )
    path = output or Path(built.filename)
    write_output(path, render_statement_pdf(built))
    typer.echo(str(path))


# --- send --------------------------------------------------------------------------------

SYMBOL = {
    "sent": "✓",
    "saved": "✓",
    "built": "✓",
    "partial": "✓",
    "failed": "✗",
    "skipped": "–",
    "uncertain": "?",
    "pending": "·",
    "bounced": "✗",
}
# What reached its recipients (or was produced, in a dry-run): quiet by default under cron.
DONE = frozenset({"sent", "saved", "built"})


def outcome_line(outcome: Outcome, options: SendOptions | None = None) -> str:
    """One customer's line; in a rehearsal (--test) the recipient shown is the operator."""
    from rotomail.delivery.report import STATUS_TEXT

    text = f"{SYMBOL.get(outcome.status, '?')} {outcome.cliente} {outcome.nombre}"
    if outcome.status in DONE:
        if options is not None and options.mode == "test":
            text += (
                f" → {options.operator_email} (ensayo; del cliente: {';'.join(outcome.correos)})"
            )
        else:
            text += f" → {';'.join(outcome.correos)}"
        if outcome.status == "saved":
            text += " (guardado en el buzón de salida)"
        if outcome.refused:
            refused = "; ".join(f"{a} ({r})" for a, r in outcome.refused.items())
            text += f" (rechazados: {refused})"
        return text
    return f"{text}: {STATUS_TEXT.get(outcome.status, outcome.status)} - {outcome.detail}"


def header_line(report: RunReport) -> str:
    """What a cron mail starts with: which run, of what, how, since when."""
    from rotomail.delivery.report import MODE_TEXT

    options = report.options
    return (
        f"Corrida {report.run_id} · sociedad {options.sociedad} · "
        f"fecha de corte {options.statement_date:%d/%m/%Y} · "
        f"modo {MODE_TEXT.get(options.mode, options.mode)} · transporte {report.transport} · "
        f"inicio {report.started_at:%Y-%m-%d %H:%M:%S}"
    )


def print_summary(report: RunReport) -> None:
    from rotomail.delivery.report import SUMMARY_TEXT

    rows = [[text, report.count(status)] for status, text in SUMMARY_TEXT.items()]
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
) -> None:
    """Envío masivo de estados de cuenta de una sociedad.

    Sin terminal (cron) se escribe una línea de encabezado, solo los clientes que requieren
    atención (✗, ?, omitidos) y el resumen; --verbose escribe todos, --quiet solo el resumen.
    """
    with surviving_output():
        _send(
            ctx, sociedad, cliente, all_, date_, dry_run, test, force, skip_zero, retry_failed,
            require_complete, verbose, quiet,
        )  # fmt: skip


def _send(
    ctx: typer.Context,
    sociedad: str | None,
    cliente: list[str] | None,
    all_: bool,
    date_: str | None,
    dry_run: bool,
    test: bool,
    force: bool,
    skip_zero: bool,
    retry_failed: int | None,
    require_complete: bool,
    verbose: bool,
    quiet: bool,
) -> None:
    from rotomail.delivery.candidates import list_candidates
    from rotomail.delivery.report import SendOptions
    from rotomail.delivery.transports import describe, transport_factory, uses_smtp

    st = state(ctx)
    settings = st.settings
    if dry_run and test:
        raise UsageError("Use --dry-run o --test, no ambos.")
    if verbose and quiet:
        raise UsageError("Use --verbose o --quiet, no ambos.")
    statement_date = parse_date(date_)
    clientes = list(cliente or [])
    if retry_failed is not None:
        from rotomail.store.history import retry_targets

        run_sociedad, statement_date, clientes = retry_targets(st.engine, retry_failed)
        if sociedad and normalize_sociedad(sociedad) != run_sociedad:
            raise UsageError(f"La corrida {retry_failed} es de la sociedad {run_sociedad}.")
        sociedad = run_sociedad
    if not sociedad:
        raise UsageError("Indique la sociedad con --sociedad, por ejemplo --sociedad SM02.")
    from rotomail.store.catalog import holds_of, missing_customers

    sociedad = normalize_sociedad(sociedad)
    company = settings.company(sociedad)  # complete profile, or exit 2 before anything
    mode = "dry-run" if dry_run else "test" if test else "send"
    operator_email = settings["operator.email"]
    if mode == "test" and not operator_email:
        raise UsageError(
            "Para --test configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    missing = missing_customers(st.engine, sociedad)
    held = holds_of(st.engine, sociedad)
    if require_complete and missing:
        _print_missing(missing)
        raise DataError(
            f"{len(missing)} clientes de {sociedad} tienen partidas abiertas y no están en el "
            "catálogo (--require-complete): agréguelos («rotomail catalog missing --sociedad "
            f"{sociedad}») o retenga los que no deben recibirlo; no se envió nada."
        )
    candidates = list_candidates(st.engine, sociedad, clientes or None)
    if not candidates:
        raise DataError(f"Todos los clientes del catálogo de {sociedad} están retenidos.")
    if retry_failed is not None:
        # Customers left partial get the statement only at the addresses still deferred.
        only = deferred_addresses(st.engine, retry_failed)
        candidates = [
            replace(c, correos=only[c.cliente]) if c.cliente in only else c for c in candidates
        ]
        candidates = without_bounced(st.engine, candidates)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not (all_ or clientes):
        if not interactive:
            raise UsageError(
                "Sin terminal no hay lista interactiva: use --all o indique --cliente."
            )
        already_sent = (
            {
                cliente
                for cliente, claim in existing_claims(
                    st.engine, sociedad, statement_date, channel_of(settings, mode)
                ).items()
                if claim.status == "sent"
            }
            if mode == "send"
            else set()
        )
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
                for m in missing
            ],
            held=[
                ChecklistItem(cliente, cliente, f"retenido: {reason}", "", "", {})
                for cliente, reason in sorted(held.items())
            ],
            already_sent=already_sent,
            mode=mode,
            transport=describe(settings, mode),
            force=force,
        )
        if chosen is None:
            typer.echo("Cancelado: no se envió nada.", err=True)
            raise typer.Exit(1)
        keep = set(chosen)
        candidates = [c for c in candidates if c.cliente in keep]
        if not candidates:
            typer.echo("Ningún cliente seleccionado: no se envió nada.", err=True)
            raise typer.Exit(1)
    elif all_ and (missing or held):  # nobody left out without a word
        typer.echo(
            f"Envío a {len(candidates)} clientes de {sociedad}; "
            f"{len(missing)} con partidas abiertas sin correo en el catálogo (no se envían); "
            f"{len(held)} retenidos.",
            err=True,
        )
        _print_left_out(missing, held)
    _check_ledger(st.engine, sociedad, statement_date)
    options = SendOptions(
        sociedad=sociedad,
        statement_date=statement_date,
        mode=mode,
        force=force,
        skip_zero=skip_zero,
        retry_of=retry_failed,
        operator=settings.operator_name,
        operator_email=operator_email,
        templates_dir=settings.templates_dir,
        logs_dir=settings.logs_dir,
        outbox_dir=settings.outbox_dir,
        keep_pdfs=not uses_smtp(settings, mode),
        stop_after_failures=settings["smtp.stop_after_failures"],
        attempts=settings["smtp.attempts"],
        retry_wait=settings["smtp.retry_wait"],
        channel=channel_of(settings, mode),
        render_nice=settings["render.nice"],
    )
    from rotomail.store.history import sent_today

    factory = transport_factory(
        settings, mode, options.run_folder, interactive, lambda: sent_today(st.engine)
    )
    rate = settings["smtp.rate_per_minute"] if uses_smtp(settings, mode) else 0
    report = _run_with_progress(
        st.engine,
        company,
        options,
        factory,
        candidates,
        describe(settings, mode),
        RunnerExtras(settings.document_types, missing, held),
        Verbosity(quiet=quiet, verbose=verbose, rate_per_minute=rate),
    )
    print_summary(report)
    if report.aborted and not report.interrupt_code:
        typer.echo(f"Corrida detenida: {report.aborted}", err=True)
    if options.keep_pdfs:
        typer.echo(f"Archivos (PDF y .eml): {options.run_folder(report.run_id)}")
    if mode == "dry-run":
        typer.echo("Simulación: no se envió nada.")
    typer.echo(f"Registro: {report.log_path}")
    _mail_log(report, settings, company, factory)
    if report.interrupt_code:
        typer.echo(f"Error: corrida {report.run_id} interrumpida: {report.aborted}", err=True)
    raise typer.Exit(report.exit_code)


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


def channel_of(settings: Settings, mode: str) -> str:
    """Where the run's messages go; exactly-once claims are kept per channel."""
    return "smtp" if uses_smtp(settings, mode) else "outbox"


def _check_ledger(engine: Engine, sociedad: str, statement_date: date) -> None:
    """Without open items every customer would get "sin saldo pendiente": refuse that."""
    from rotomail.store.ledger import snapshot_date

    snapshot = snapshot_date(engine, sociedad)
    if snapshot is None:
        raise DataError(
            f"No hay partidas abiertas importadas para la sociedad {sociedad}; "
            "impórtelas primero con «rotomail ledger import»."
        )
    if snapshot != statement_date:
        typer.echo(
            f"Aviso: las partidas abiertas de {sociedad} son al {snapshot:%d/%m/%Y} y la "
            f"fecha de corte es {statement_date:%d/%m/%Y}.",
            err=True,
        )


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
    from rotomail.delivery.runs import SendRunner

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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from rotomail.cli.progress import RemainingWithRateLimit

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


def _mail_log(
    report: RunReport,
    settings: Settings,
    company: CompanyProfile,
    factory: Callable[[int], Transport],
) -> None:
    from rotomail.delivery.runlog import mail_log

    if report.options.mode == "dry-run":
        return
    if not settings["operator.email"]:
        typer.echo(
            "Aviso: sin correo del operador ([operator] email); el registro no se envió.", err=True
        )
        return
    error = mail_log(report, company, settings["operator.email"], factory)
    if error:
        typer.echo(f"Aviso: no se pudo enviar el registro al operador: {error}", err=True)
    else:
        from rotomail.delivery.transports import uses_smtp

        where = (
            "enviado a"
            if uses_smtp(settings, report.options.mode)
            else "guardado en el buzón de salida para"
        )
        typer.echo(f"Registro {where} {settings['operator.email']}.")


@app.command("history")
def history(
    ctx: typer.Context,
    run: Annotated[
        int | None, typer.Argument(help="Número de corrida para ver su detalle.")
    ] = None,
    sociedad: Annotated[
        str | None, typer.Option("--sociedad", help="Con --cliente: sociedad del cliente.")
    ] = None,
    cliente: Annotated[
        str | None,
        typer.Option("--cliente", help="Todos los estados de cuenta enviados a este cliente."),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
    resend_log: Annotated[
        bool,
        typer.Option(
            "--resend-log", help="Con RUN: enviar otra vez al operador el registro, con rebotes."
        ),
    ] = False,
) -> None:
    """Corridas anteriores; con RUN, el resultado de cada cliente y de cada dirección; con
    --sociedad y --cliente, cada estado de cuenta enviado a ese cliente."""
    from rotomail.delivery.liveness import close_dead_runs

    engine = state(ctx).engine
    close_dead_runs(engine)  # a run whose process is gone is shown as interrupted
    if resend_log and run is None:
        raise UsageError("Indique la corrida: rotomail history RUN --resend-log.")
    if cliente or sociedad:
        if not (cliente and sociedad) or run is not None:
            raise UsageError("Use --sociedad y --cliente juntos, sin número de corrida.")
        _customer_history(engine, sociedad, cliente, format)
    elif run is None:
        _runs_history(engine, format)
    elif resend_log:
        _resend_log(ctx, run)
    else:
        _run_history(engine, run, format)


def _runs_history(engine: Engine, format: Format) -> None:
    from rotomail.delivery.report import MODE_TEXT, RUN_STATUS_TEXT
    from rotomail.store.history import list_runs

    runs = list_runs(engine)
    print_table(
        [
            "Corrida",
            "Inicio",
            "Operador",
            "Sociedad",
            "Fecha de corte",
            "Modo",
            "Correctos",  # sent, saved to the outbox or built, as the mode says
            "Fallidos",
            "Omitidos",
            "Inciertos",
            "Estado",
        ],
        [
            [
                r.id,
                f"{r.started_at:%Y-%m-%d %H:%M}",
                r.operator,
                r.sociedad,
                r.statement_date.isoformat(),
                MODE_TEXT.get(r.mode, r.mode),
                r.sent,
                r.failed,
                r.skipped,
                r.uncertain,
                RUN_STATUS_TEXT.get(r.status, r.status),
            ]
            for r in runs
        ],
        format,
        json_keys=[
            "corrida",
            "inicio",
            "operador",
            "sociedad",
            "fecha_corte",
            "modo",
            "enviados",
            "fallidos",
            "omitidos",
            "inciertos",
            "estado",
        ],
    )
    if not runs and format is Format.table:
        typer.echo("Todavía no hay corridas.", err=True)


def _run_history(engine: Engine, run: int, format: Format) -> None:
    from rotomail.delivery.report import STATUS_TEXT
    from rotomail.store.bounces import run_addresses
    from rotomail.store.history import run_deliveries

    rows = run_deliveries(engine, run)
    addresses = run_addresses(engine, run)
    per_customer = [address_outcomes(d, addresses.get(d.cliente, [])) for d in rows]
    print_table(
        [
            "Cliente",
            "Nombre",
            "Correos",
            "Archivo",
            "Idioma",
            "Estado",
            "Detalle",
            "Rechazados",
            "Message-ID",
            "Direcciones",
        ],
        [
            [
                d.cliente,
                d.nombre,
                d.correos,
                d.archivo,
                d.idioma,
                STATUS_TEXT.get(d.status, d.status),
                _detail_now(d.detail, d.sent_by),
                d.refused,
                d.message_id,
                direcciones
                if format is Format.json
                else "; ".join(
                    f"{a['correo']}: {a['estado']}" + (f" ({a['detalle']})" if a["detalle"] else "")
                    for a in direcciones
                    if a["estado"] != STATUS_TEXT.get(d.status, d.status) or a["detalle"]
                ),
            ]
            for d, direcciones in zip(rows, per_customer, strict=True)
        ],
        format,
        json_keys=[
            "cliente",
            "nombre",
            "correos",
            "archivo",
            "idioma",
            "estado",
            "detalle",
            "rechazados",
            "message_id",
            "direcciones",
        ],
    )


def address_outcomes(delivery: Row[Any], records: list[Row[Any]]) -> list[dict[str, str]]:
    """``{correo, estado, detalle}`` per address of a customer: what a report or the server
    said about it, else the customer's own status."""
    from rotomail.delivery.report import STATUS_TEXT

    by_address = {r.correo.lower(): r for r in records}
    refused = {
        address.lower(): reply
        for address, _, reply in (
            part.partition(": ") for part in delivery.refused.split("; ") if ": " in part
        )
    }
    result = []
    for correo in (a for a in delivery.correos.split(";") if a):
        record = by_address.get(correo.lower())
        if record is not None:
            estado = STATUS_TEXT.get(record.status, record.status)
            detalle = f"{record.code} {record.detail}".strip()
        elif correo.lower() in refused:
            estado, detalle = STATUS_TEXT["refused"], refused[correo.lower()]
        else:
            estado, detalle = STATUS_TEXT.get(delivery.status, delivery.status), ""
        result.append({"correo": correo, "estado": estado, "detalle": detalle})
    return result


def _resend_log(ctx: typer.Context, run: int) -> None:
    """Write the run's log again from the database (bounces included) and mail it."""
    from rotomail.delivery.runlog import report_from_history, write_log
    from rotomail.delivery.transports import transport_factory

    st = state(ctx)
    settings = st.settings
    report = report_from_history(st.engine, run, settings.logs_dir, settings.templates_dir)
    if report.options.mode == "dry-run":
        raise UsageError(f"La corrida {run} fue una simulación; su registro no se envía.")
    if not settings["operator.email"]:
        raise UsageError(
            "Configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    report.log_path = write_log(report)
    typer.echo(f"Registro: {report.log_path}")
    company = settings.company(report.options.sociedad)
    factory = transport_factory(settings, "send", report.options.run_folder, sys.stdin.isatty())
    _mail_log(report, settings, company, factory)


def _detail_now(detail: str, sent_by: int | None) -> str:
    """A customer this run left unfinished says what happened to it afterwards."""
    if sent_by is None:
        return detail
    later = f"enviado después en la corrida {sent_by}"
    return f"{detail}; {later}" if detail else later


def _customer_history(engine: Engine, sociedad: str, cliente: str, format: Format) -> None:
    from rotomail.delivery.report import STATUS_TEXT
    from rotomail.store.history import customer_statements

    rows = customer_statements(engine, sociedad, cliente)
    print_table(
        [
            "Corrida",
            "Fecha",
            "Fecha de corte",
            "Modo",
            "Estado",
            "Correos",
            "Message-ID",
            "Respuesta",
        ],
        [
            [
                r.run_id,
                f"{r.updated_at:%Y-%m-%d %H:%M}",
                r.statement_date.isoformat(),
                r.mode,
                STATUS_TEXT.get(r.status, r.status),
                r.correos,
                r.message_id,
                f"{r.detail} | rechazados: {r.refused}" if r.refused else r.detail,
            ]
            for r in rows
        ],
        format,
        json_keys=[
            "corrida",
            "fecha",
            "fecha_corte",
            "modo",
            "estado",
            "correos",
            "message_id",
            "respuesta",
        ],
    )
    if not rows and format is Format.table:
        typer.echo(
            f"No se ha enviado ningún estado de cuenta al cliente {cliente} de {sociedad}.",
            err=True,
        )


@config_app.command("set-password")
def set_password(
    ctx: typer.Context,
    imap: Annotated[
        bool, typer.Option("--imap", help="La del buzón de rebotes ([bounces]) en vez de SMTP.")
    ] = False,
) -> None:
    """Guarda la contraseña SMTP (o IMAP, con --imap) en el llavero del sistema (keyring)."""
    from rotomail.delivery.secrets import set_smtp_password

    settings = state(ctx).settings
    if imap:
        host, user, what = settings["bounces.imap_host"], settings["bounces.imap_user"], "IMAP"
        if not host or not user:
            raise UsageError("Configure primero [bounces] imap_host e imap_user en config.toml.")
    else:
        host, user, what = settings["smtp.host"], settings["smtp.user"], "SMTP"
        if not host or not user:
            raise UsageError("Configure primero smtp.host y smtp.user en config.toml.")
    if not sys.stdin.isatty():
        raise UsageError("Se necesita una terminal para escribir la contraseña.")
    password = prompt_secret_twice(f"Contraseña {what}")
    set_smtp_password(user, host, password)
    typer.echo(f"Contraseña guardada en el llavero para {user}@{host}.")


@config_app.command("test-smtp")
def test_smtp(ctx: typer.Context) -> None:
    """Envía un mensaje de prueba al correo del operador."""
    from rotomail.delivery.runlog import test_message
    from rotomail.delivery.transports import smtp_credentials, smtp_settings

    settings = state(ctx).settings
    if not settings["smtp.host"]:
        raise UsageError("No hay servidor SMTP configurado (smtp.host o ROTOMAIL_SMTP_HOST).")
    operator = settings["operator.email"]
    if not operator:
        raise UsageError(
            "Configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    from rotomail.delivery.mailer import SendError, SmtpTransport

    password, oauth_token = smtp_credentials(settings, sys.stdin.isatty())
    transport = SmtpTransport(smtp_settings(settings), password, oauth_token=oauth_token)
    try:
        delivery = transport.send(test_message(settings["smtp.user"] or operator, operator))
    except SendError as exc:
        if exc.reply[:3].isdigit():  # an SMTP reply: the server answered, and said no
            raise DataError(f"El servidor SMTP rechazó el mensaje de prueba: {exc.reply}") from None
        where = f"{settings['smtp.host']}:{settings['smtp.port']}"
        raise DataError(f"No se pudo conectar con el servidor SMTP {where}: {exc.reply}") from None
    finally:
        transport.close()
    typer.echo(f"Mensaje de prueba enviado a {operator}: {delivery.reply}")


@app.command("demo")
def demo(ctx: typer.Context) -> None:
    """Todo el trabajo sobre examples/ en una carpeta temporal: PDF, .eml y registro."""
    from rotomail.cli.demo import DEMO_SOCIEDADES, examples_dir, load_examples, make_home

    folder = examples_dir()
    home = make_home()
    # Everything below runs on the throwaway home: its own SQLite file, no SMTP server.
    ctx.find_root().obj = State(
        {"home": home, "database_url": f"sqlite:///{home / 'rotomail.db'}", "smtp.host": ""}
    )
    typer.echo(f"Carpeta de la demostración: {home}")
    for line in load_examples(state(ctx).engine, folder):
        typer.echo(line)
    exit_code = 0
    for sociedad in DEMO_SOCIEDADES:  # a Mexican company in Spanish, a Brazilian one in Portuguese
        try:
            ctx.invoke(send, ctx, sociedad=sociedad, all_=True)
        except typer.Exit as exit_:
            exit_code = max(exit_code, exit_.exit_code or 0)
    # A customer's server answers with a bounce: read back from a Maildir in the demo folder.
    from rotomail.cli.bounces import bounces
    from rotomail.cli.demo import write_demo_bounce

    maildir = write_demo_bounce(state(ctx).engine, home, 1)
    if maildir is not None:
        typer.echo(f"Llegó un rebote a {maildir}; rotomail bounces lo registra:")
        ctx.invoke(bounces, ctx, maildir=maildir, verbose=True)
    typer.echo(
        f"Demostración terminada. Para explorarla: rotomail --home {home} history "
        "(y history 1 para ver el rebote)"
    )
    raise typer.Exit(exit_code)

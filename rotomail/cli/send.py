"""Commands of the send job: ledger import, statement, send, history, demo, SMTP set-up."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rotomail.cli import State, app, busy_timeout_seconds, config_app, read_input, state
from rotomail.cli.output import Format, is_terminal, print_table, surviving_output
from rotomail.errors import DataError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from rotomail.company import CompanyProfile
    from rotomail.config import Settings
    from rotomail.delivery.mailer import Transport
    from rotomail.delivery.report import Outcome, RunReport, SendOptions
    from rotomail.delivery.runs import Candidate

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
    file: Annotated[
        str, typer.Argument(help="Exportación CSV/TSV/TXT/XLSX, o - para la entrada estándar.")
    ],
    date_: DateOption = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Importar las filas válidas aunque haya rechazadas.")
    ] = False,
) -> None:
    """Importa las partidas abiertas; reemplaza las de cada sociedad del archivo."""
    from rotomail.inputs.parsers import parse_ledger
    from rotomail.store.ledger import import_ledger

    snapshot = parse_date(date_)
    data, name = read_input(file, "partidas abiertas")
    parsed = parse_ledger(data, name)
    result = import_ledger(state(ctx).engine, parsed, snapshot, skip_bad=skip_bad, source=name)
    counts = ", ".join(f"{s}: {n}" for s, n in sorted(result.per_sociedad.items()))
    typer.echo(f"Partidas abiertas al {snapshot:%d/%m/%Y} importadas ({counts}).")
    if parsed.rejects:
        typer.echo(f"{len(parsed.rejects)} filas omitidas:", err=True)
        for reject in parsed.rejects:
            typer.echo(f"  Línea {reject.line}: {reject.reason}", err=True)


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
    from rotomail.store.customers import search_customers
    from rotomail.store.ledger import items_for

    st = state(ctx)
    found = search_customers(st.engine, sociedad=sociedad, cliente=cliente)
    if not found:
        raise DataError("Sociedad no encontrada para este cliente")
    customer = found[0]
    company = st.settings.company(customer.sociedad)
    built = build_statement(
        company,
        StatementCustomer(customer.sociedad, customer.cliente, customer.nombre, customer.rfc),
        items_for(st.engine, customer.sociedad, customer.cliente),
        parse_date(date_),
    )
    path = output or Path(built.filename)
    path.write_bytes(render_statement_pdf(built))
    typer.echo(str(path))


# --- send --------------------------------------------------------------------------------

SYMBOL = {
    "sent": "✓",
    "built": "✓",
    "failed": "✗",
    "skipped": "–",
    "uncertain": "?",
    "pending": "·",
}


def outcome_line(outcome: Outcome) -> str:
    from rotomail.delivery.report import STATUS_TEXT

    text = f"{SYMBOL.get(outcome.status, '?')} {outcome.cliente} {outcome.nombre}"
    if outcome.status in ("sent", "built"):
        text += f" → {';'.join(outcome.correos)}"
        if outcome.refused:
            refused = "; ".join(f"{a} ({r})" for a, r in outcome.refused.items())
            text += f" (rechazados: {refused})"
        return text
    return f"{text}: {STATUS_TEXT.get(outcome.status, outcome.status)} - {outcome.detail}"


def print_summary(report: RunReport) -> None:
    rows = [
        ["Enviados", report.count("sent")],
        ["Generados (simulación)", report.count("built")],
        ["Fallidos", report.count("failed")],
        ["Omitidos", report.count("skipped")],
        ["Inciertos", report.count("uncertain")],
        ["Pendientes", report.count("pending")],
    ]
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
        typer.Option("--retry-failed", help="Reenviar solo los fallidos de la corrida RUN."),
    ] = None,
) -> None:
    """Envío masivo de estados de cuenta de una sociedad."""
    with surviving_output():
        _send(ctx, sociedad, cliente, all_, date_, dry_run, test, force, skip_zero, retry_failed)


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
) -> None:
    from rotomail.delivery.report import SendOptions
    from rotomail.delivery.runs import list_candidates
    from rotomail.delivery.transports import describe, transport_factory, uses_smtp

    st = state(ctx)
    settings = st.settings
    if dry_run and test:
        raise UsageError("Use --dry-run o --test, no ambos.")
    statement_date = parse_date(date_)
    clientes = list(cliente or [])
    if retry_failed is not None:
        from rotomail.ids import normalize_sociedad
        from rotomail.store.history import retry_targets

        run_sociedad, statement_date, clientes = retry_targets(st.engine, retry_failed)
        if sociedad and normalize_sociedad(sociedad) != run_sociedad:
            raise UsageError(f"La corrida {retry_failed} es de la sociedad {run_sociedad}.")
        sociedad = run_sociedad
    if not sociedad:
        raise UsageError("Indique la sociedad con --sociedad, por ejemplo --sociedad SM02.")
    candidates = list_candidates(st.engine, sociedad, clientes or None)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not (all_ or clientes):
        if not interactive:
            raise UsageError(
                "Sin terminal no hay lista interactiva: use --all o indique --cliente."
            )
        from rotomail.cli.checklist import ChecklistItem, choose_customers

        chosen = choose_customers(
            [
                ChecklistItem(
                    c.cliente, c.cliente, c.nombre, ";".join(c.correos), c.balance_text, c.balance
                )
                for c in candidates
            ],
            f"Envío masivo de estado de cuenta - {sociedad.upper()}",
        )
        if chosen is None:
            typer.echo("Cancelado: no se envió nada.", err=True)
            raise typer.Exit(1)
        keep = set(chosen)
        candidates = [c for c in candidates if c.cliente in keep]
        if not candidates:
            typer.echo("Ningún cliente seleccionado: no se envió nada.", err=True)
            raise typer.Exit(1)
    mode = "dry-run" if dry_run else "test" if test else "send"
    operator_email = settings["operator.email"]
    if mode == "test" and not operator_email:
        raise UsageError(
            "Para --test configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    _check_ledger(st.engine, candidates[0].sociedad, statement_date)
    company = settings.company(candidates[0].sociedad)
    if not company.sender:
        raise UsageError(
            f"Falta el remitente: defina sender en [companies.{company.code}] de config.toml."
        )
    if not company.configured:
        typer.echo(
            f"Aviso: la sociedad {company.code} no tiene [companies.{company.code}] en "
            "config.toml; se usa su código como nombre.",
            err=True,
        )
    render_nice = settings["render.nice"]
    if not 0 <= render_nice <= 19:
        raise UsageError(
            f"Configuración inválida: render.nice = «{render_nice}»; use un número de 0 a 19."
        )
    busy_timeout_seconds(settings)
    options = SendOptions(
        sociedad=candidates[0].sociedad,
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
        channel="smtp" if uses_smtp(settings, mode) else "outbox",
        render_nice=render_nice,
    )
    from rotomail.store.history import sent_today

    factory = transport_factory(
        settings, mode, options.run_folder, interactive, lambda: sent_today(st.engine)
    )
    report = _run_with_progress(
        st.engine, company, options, factory, candidates, describe(settings, mode)
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


def _run_with_progress(
    engine: Engine,
    company: CompanyProfile,
    options: SendOptions,
    factory: Callable[[int], Transport],
    candidates: list[Candidate],
    transport_name: str,
) -> RunReport:
    from rotomail.delivery.runs import SendRunner

    if not is_terminal():
        runner = SendRunner(
            engine, company, options, factory, lambda o: typer.echo(outcome_line(o))
        )
        return runner.run(candidates, transport_name)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console()
    with Progress(
        TextColumn("Enviando"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("send", total=len(candidates))

        def show(outcome: Outcome) -> None:
            console.print(outcome_line(outcome), markup=False, highlight=False)
            progress.advance(task)

        return SendRunner(engine, company, options, factory, show).run(candidates, transport_name)


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
        typer.echo(f"Registro enviado a {settings['operator.email']}.")


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
) -> None:
    """Corridas anteriores; con RUN, el resultado de cada cliente; con --sociedad y
    --cliente, cada estado de cuenta enviado a ese cliente."""
    from rotomail.delivery.liveness import close_dead_runs

    engine = state(ctx).engine
    close_dead_runs(engine)  # a run whose process is gone is shown as interrupted
    if cliente or sociedad:
        if not (cliente and sociedad) or run is not None:
            raise UsageError("Use --sociedad y --cliente juntos, sin número de corrida.")
        _customer_history(engine, sociedad, cliente, format)
    elif run is None:
        _runs_history(engine, format)
    else:
        _run_history(engine, run, format)


def _runs_history(engine: Engine, format: Format) -> None:
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
            "Enviados",
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
                r.mode,
                r.sent,
                r.failed,
                r.skipped,
                r.uncertain,
                r.status,
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
    from rotomail.store.history import run_deliveries

    rows = run_deliveries(engine, run)
    print_table(
        [
            "Cliente",
            "Nombre",
            "Correos",
            "Archivo",
            "Estado",
            "Detalle",
            "Rechazados",
            "Message-ID",
        ],
        [
            [
                d.cliente,
                d.nombre,
                d.correos,
                d.archivo,
                STATUS_TEXT.get(d.status, d.status),
                _detail_now(d.detail, d.sent_by),
                d.refused,
                d.message_id,
            ]
            for d in rows
        ],
        format,
        json_keys=[
            "cliente",
            "nombre",
            "correos",
            "archivo",
            "estado",
            "detalle",
            "rechazados",
            "message_id",
        ],
    )


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
def set_password(ctx: typer.Context) -> None:
    """Guarda la contraseña SMTP en el llavero del sistema (keyring)."""
    from rotomail.delivery.secrets import set_smtp_password

    settings = state(ctx).settings
    if not settings["smtp.host"] or not settings["smtp.user"]:
        raise UsageError("Configure primero smtp.host y smtp.user en config.toml.")
    if not sys.stdin.isatty():
        raise UsageError("Se necesita una terminal para escribir la contraseña.")
    password = typer.prompt("Contraseña SMTP", hide_input=True, confirmation_prompt=True)
    set_smtp_password(settings["smtp.user"], settings["smtp.host"], password)
    typer.echo(
        f"Contraseña guardada en el llavero para {settings['smtp.user']}@{settings['smtp.host']}."
    )


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
        raise DataError(f"El servidor SMTP rechazó el mensaje de prueba: {exc.reply}") from None
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
    typer.echo(f"Demostración terminada. Para explorarla: rotomail --home {home} history")
    raise typer.Exit(exit_code)

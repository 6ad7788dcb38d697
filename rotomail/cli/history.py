"""``rotomail history``: past runs, each customer's outcome and each address's, a customer's
statements; the log sent again."""

from __future__ import annotations

import shutil
import sys
from typing import Annotated, Any

import typer
from sqlalchemy import Engine, Row

from rotomail.cli.common import (
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, is_terminal, print_table
from rotomail.cli.send import mail_log_to_operator
from rotomail.delivery.liveness import close_dead_runs
from rotomail.delivery.report import CopiesReport
from rotomail.delivery.runlog import report_from_history, write_log
from rotomail.delivery.transports import transport_factory
from rotomail.errors import UsageError
from rotomail.store.bounces import run_addresses
from rotomail.store.history import customer_statements, list_runs, run_deliveries
from rotomail.words import AddressStatus, Mode, spanish, with_code

app = command_group("Corridas anteriores; con RUN, el resultado de cada cliente.")


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


RUNS_HEADERS = [
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
]


def _runs_rows(runs: list[Any]) -> list[list[Any]]:
    return [
        [
            r.id,
            f"{r.started_at:%Y-%m-%d %H:%M}",
            r.operator,
            r.sociedad,
            r.statement_date.isoformat(),
            spanish(r.mode),
            r.sent,
            r.failed,
            r.skipped,
            r.uncertain,
            spanish(r.status),
        ]
        for r in runs
    ]


def _runs_history(engine: Engine, format: Format) -> None:
    runs = list_runs(engine)
    if runs and format is Format.table and is_terminal():
        # A terminal too narrow for the table (80 columns) gets each run as a paragraph
        # broken between its parts, instead of dates folded into pieces.
        width = shutil.get_terminal_size().columns
        widths = [len(header) for header in RUNS_HEADERS]
        for row in _runs_rows(runs):
            widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]
        if sum(widths) + 3 * len(widths) + 1 > width:
            for r in runs:
                typer.echo(_run_paragraph(r, width))
            return
    print_table(
        RUNS_HEADERS,
        _runs_rows(runs),
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


def _run_paragraph(r: Any, width: int) -> str:
    """One run as lines of at most ``width`` columns, broken only between its parts:
    "Corrida 2 · 2026-12-05 14:03 · ana · SM02 · corte 2026-11-30 · envío · …"."""
    parts = [
        f"Corrida {r.id}",
        f"{r.started_at:%Y-%m-%d %H:%M}",
        str(r.operator),
        str(r.sociedad),
        f"corte {r.statement_date.isoformat()}",
        spanish(r.mode),
        f"correctos {r.sent}",
        f"fallidos {r.failed}",
        f"omitidos {r.skipped}",
        f"inciertos {r.uncertain}",
        spanish(r.status),
    ]
    lines, current = [], ""
    for part in parts:
        joined = f"{current} · {part}" if current else part
        if not current or len(joined) < width:
            current = joined
        else:
            lines.append(f"{current} ·")
            current = f"    {part}"
    return "\n".join([*lines, current])


def _run_history(engine: Engine, run: int, format: Format) -> None:
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
            "Pagos",
            "En aclaración",
            "Copias",
            "PDF",
            "Direcciones",
        ],
        [
            [
                d.cliente,
                d.nombre,
                d.correos,
                d.archivo,
                d.idioma,
                spanish(d.status),
                _detail_now(d.detail, d.sent_by),
                d.refused,
                d.message_id,
                d.pagos,
                d.en_aclaracion,
                copias.as_dict() if format is Format.json else copias.summary(),
                d.pdf_path,
                direcciones
                if format is Format.json
                else "; ".join(
                    f"{a['correo']}: {a['estado']}" + (f" ({a['detalle']})" if a["detalle"] else "")
                    for a in direcciones
                    if a["estado"] != spanish(d.status) or a["detalle"]
                ),
            ]
            for d, direcciones, copias in zip(
                rows, per_customer, [CopiesReport.from_json(d.copias) for d in rows], strict=True
            )
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
            "pagos",
            "en_aclaracion",
            "copias",
            "pdf",
            "direcciones",
        ],
    )


def address_outcomes(delivery: Row[Any], records: list[Row[Any]]) -> list[dict[str, str]]:
    """``{correo, estado, detalle}`` per address of a customer: what a report or the server
    said about it, else the customer's own status."""
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
            estado = spanish(record.status)
            detalle = with_code(record.code, record.detail)
        elif correo.lower() in refused:
            estado, detalle = spanish(AddressStatus.REFUSED), refused[correo.lower()]
        else:
            estado, detalle = spanish(delivery.status), ""
        result.append({"correo": correo, "estado": estado, "detalle": detalle})
    return result


def _resend_log(ctx: typer.Context, run: int) -> None:
    """Write the run's log again from the database (bounces included) and mail it."""
    st = state(ctx)
    settings = st.settings
    report = report_from_history(st.engine, run, settings.logs_dir, settings.templates_dir)
    if report.options.mode == Mode.DRY_RUN:
        raise UsageError(f"La corrida {run} fue una simulación; su registro no se envía.")
    if not settings.operator.email:
        raise UsageError(
            "Configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    report.log_path = write_log(report)
    typer.echo(f"Registro: {report.log_path}")
    company = settings.company(report.options.sociedad)
    factory = transport_factory(settings, Mode.SEND, report.options.run_folder, sys.stdin.isatty())
    mail_log_to_operator(report, settings, company, factory)


def _detail_now(detail: str, sent_by: int | None) -> str:
    """A customer this run left unfinished says what happened to it afterwards."""
    if sent_by is None:
        return detail
    later = f"enviado después en la corrida {sent_by}"
    return f"{detail}; {later}" if detail else later


def _customer_history(engine: Engine, sociedad: str, cliente: str, format: Format) -> None:
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
            "Usuario",
            "PDF",
        ],
        [
            [
                r.run_id,
                f"{r.updated_at:%Y-%m-%d %H:%M}",
                r.statement_date.isoformat(),
                spanish(r.mode),
                spanish(r.status),
                r.correos,
                r.message_id,
                f"{r.detail} | rechazados: {r.refused}" if r.refused else r.detail,
                r.os_user,
                r.pdf_path,
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
            "usuario",
            "pdf",
        ],
    )
    if not rows and format is Format.table:
        typer.echo(
            f"No se ha enviado ningún estado de cuenta al cliente {cliente} de {sociedad}.",
            err=True,
        )

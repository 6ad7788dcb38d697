"""``rotomail status``: for one statement date, every customer of a sociedad and what
became of its statement (the decision is ``delivery/status.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli.common import parse_date, state
from rotomail.cli.group import command_group
from rotomail.cli.output import ListingFormat, write_listing
from rotomail.delivery.liveness import close_dead_runs
from rotomail.delivery.status import parse_state, statement_status
from rotomail.statement.labels import format_balances

HELP = "Quién recibió el estado de cuenta de una fecha y qué pasó con el de los demás."

app = command_group(HELP)


@app.command("status")
def status(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Option("--sociedad", help="Sociedad, por ejemplo SM02.")],
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Fecha de corte AAAA-MM-DD (predeterminado: la de las partidas abiertas "
            "importadas).",
            show_default=False,
        ),
    ] = None,
    estado: Annotated[
        list[str] | None,
        typer.Option(
            "--estado",
            help="Solo los clientes en este estado (repetible): enviado, parcial, incierto, "
            "rebotado, fallido, guardado, omitido, retenido, «sin correo», pendiente.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ListingFormat, typer.Option("--format", help="table, tsv, csv, json o xlsx (con -o).")
    ] = ListingFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo de salida.")
    ] = None,
) -> None:
    """Quién recibió el estado de cuenta de una fecha y qué pasó con el de los demás.

    Cada cliente con partidas abiertas o con registro en el catálogo, una vez, con el
    estado de su estado de cuenta: enviado, parcial, incierto, rebotado, fallido, guardado,
    omitido, retenido, sin correo o pendiente (el primero que aplique). Con otra fecha que
    la de las partidas abiertas, solo con los registros de envío."""
    states = {parse_state(text) for text in estado or []}
    engine = state(ctx).engine
    close_dead_runs(engine)  # a customer a dead run had in flight is uncertain
    report = statement_status(engine, sociedad, parse_date(date) if date else None, states)
    if report.from_records_only:
        loaded = (
            f"las partidas abiertas de {report.sociedad} son al {report.snapshot_date:%d/%m/%Y}"
            if report.snapshot_date
            else f"no hay partidas abiertas importadas de {report.sociedad}"
        )
        typer.echo(
            f"Aviso: {loaded}; el estado al {report.statement_date:%d/%m/%Y} se arma solo con "
            "los registros de envío (sin saldos, y solo con los clientes de alguna corrida).",
            err=True,
        )
    as_json = format is ListingFormat.json
    rows = [
        [
            c.sociedad,
            c.cliente,
            c.nombre,
            c.estado,
            None
            if report.from_records_only  # the snapshot is of another date
            else {currency: str(amount) for currency, amount in sorted(c.saldo.items())}
            if as_json
            else format_balances(c.saldo),
            c.corrida,
            f"{c.fecha:%Y-%m-%d %H:%M}" if c.fecha else None,
            c.ejecutivo,
        ]
        for c in report.customers
    ]
    counts = report.counts()
    summary = (
        " · ".join(f"{state}: {count}" for state, count in counts.items())
        + f" ({len(report.customers)} clientes)"
        if counts
        else "Ningún cliente."
    )
    write_listing(
        ["Sociedad", "Cliente", "Nombre", "Estado", "Saldo", "Corrida", "Fecha", "Ejecutivo"],
        rows,
        format,
        output,
        json_keys=[
            "sociedad",
            "cliente",
            "nombre",
            "estado",
            "saldo",
            "corrida",
            "fecha",
            "ejecutivo",
        ],
        sheet="Estado",
        footer=summary,
    )
    if format is not ListingFormat.table or output is not None:
        typer.echo(summary, err=True)

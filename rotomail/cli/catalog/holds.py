"""``rotomail catalog holds``: the held customers, with the reason, who held them and when."""

from __future__ import annotations

from typing import Annotated

import typer

from rotomail.cli.catalog import HELP
from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table
from rotomail.store.catalog import list_holds

app = command_group(HELP)


@app.command("holds")
def catalog_holds(
    ctx: typer.Context,
    sociedad: Annotated[
        str | None, typer.Option("--sociedad", help="Sociedad; sin ella, todas.")
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Clientes retenidos: motivo, quién los retuvo y cuándo."""
    holds = list_holds(state(ctx).engine, sociedad)
    print_table(
        ["Sociedad", "Cliente", "Nombre", "Motivo", "Usuario", "Fecha"],
        [
            [h.sociedad, h.cliente, h.nombre, h.reason, h.held_by, f"{h.held_at:%Y-%m-%d %H:%M}"]
            for h in holds
        ],
        format,
        json_keys=["sociedad", "cliente", "nombre", "motivo", "usuario", "fecha"],
    )
    if format is Format.table:
        typer.echo(
            f"{len(holds)} clientes retenidos." if holds else "No hay clientes retenidos.",
            err=True,
        )

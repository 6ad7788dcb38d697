"""``rotomail catalog changes|missing``: who changed what; who nobody would write to."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli.catalog import HELP
from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table, render
from rotomail.store.catalog_edits import list_changes
from rotomail.store.missing import missing_customers

app = command_group(HELP)


@app.command("changes")
def catalog_changes(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Quién cambió qué: cada alta, reemplazo, borrado, retención y liberación del cliente."""
    rows = list_changes(state(ctx).engine, sociedad, cliente)
    print_table(
        ["Fecha", "Usuario", "Cambio", "Antes", "Después"],
        [
            [f"{r.changed_at:%Y-%m-%d %H:%M:%S}", r.changed_by, r.action, r.before, r.after]
            for r in rows
        ],
        format,
        json_keys=["fecha", "usuario", "cambio", "antes", "despues"],
    )
    if not rows and format is Format.table:
        typer.echo("Sin cambios registrados para este cliente.", err=True)


@app.command("missing")
def catalog_missing(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Option("--sociedad", help="Sociedad, por ejemplo SM02.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo de salida (.tsv).")
    ] = None,
) -> None:
    """Clientes con partidas abiertas sin correo en el catálogo, como filas para «catalog
    import» (Sociedad, Cliente, Nombre, Correo: el del maestro cuando lo tiene)."""
    missing = missing_customers(state(ctx).engine, sociedad)
    text = render(
        ["Sociedad", "Cliente", "Nombre", "Correo"],
        [[m.sociedad, m.cliente, m.nombre, m.correo] for m in missing],
        Format.tsv,
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    typer.echo(
        f"{len(missing)} clientes con partidas abiertas sin correo en el catálogo.", err=True
    )

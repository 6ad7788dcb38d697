"""``rotomail catalog export``: the catalog in a file that ``catalog import`` reads back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli.catalog import HELP
from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, file_bytes, render, write_output, xlsx_bytes
from rotomail.errors import UsageError
from rotomail.store.catalog import search_entries

app = command_group(HELP)


@app.command("export")
def catalog_export(
    ctx: typer.Context,
    sociedad: Annotated[str | None, typer.Option(help="Solo esta sociedad.")] = None,
    format: Annotated[str, typer.Option("--format", help="tsv, csv o xlsx.")] = "tsv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo de salida.")
    ] = None,
) -> None:
    """Exporta el catálogo en un formato que «catalog import» vuelve a leer."""
    if format not in ("tsv", "csv", "xlsx"):
        raise UsageError(f"Formato «{format}» no válido: use tsv, csv o xlsx.")
    rows = [
        [r.sociedad, r.cliente, r.correo_text, r.idioma]
        for r in search_entries(state(ctx).engine, sociedad)
    ]
    headers = ["Sociedad", "Cliente", "Correo", "Idioma"]
    if format == "xlsx":
        if output is None:
            raise UsageError("Para xlsx indique el archivo con --output.")
        write_output(output, xlsx_bytes(headers, rows, "Catalogo"))
        typer.echo(f"{len(rows)} registros en {output}")
        return
    text = render(headers, rows, Format(format))
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, file_bytes(text, Format(format)))
        typer.echo(f"{len(rows)} registros en {output}")

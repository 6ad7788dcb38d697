"""``rotomail customers``: the customer master from SAP exports."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rotomail.cli.common import (
    ColumnOption,
    parse_columns,
    shown_name,
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table
from rotomail.config import column_map
from rotomail.errors import UsageError
from rotomail.inputs.parsers import parse_customers
from rotomail.inputs.tabular import iter_rows, open_source
from rotomail.store.customers import import_customers, search_customers

app = command_group("Maestro de clientes (exportación de SAP).")


@app.command("import")
def customers_import(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(help="Exportación CSV/TSV/XLSX del maestro, o - para la entrada estándar."),
    ],
    column: ColumnOption = None,
) -> None:
    """Importa el maestro de clientes (alta o actualización por sociedad y cliente)."""
    st = state(ctx)
    given = column_map("customers", parse_columns(column), "--column")
    if file == "-" and sys.stdin.isatty():
        raise UsageError(
            "Indique el archivo de clientes o envíelo por la entrada estándar "
            "(por ejemplo: pbpaste | rotomail ...)."
        )
    with open_source(file) as stream:
        parsed = parse_customers(
            iter_rows(stream, file),
            file,
            column_map={**st.settings.imports.get("customers", {}), **given},
            strict_columns=set(given),
        )
    typer.echo(f"Columnas de {shown_name(file)}:")
    for line in parsed.heading_lines():
        typer.echo(f"  {line}")
    summary = import_customers(st.engine, parsed)
    typer.echo(
        f"Clientes: {summary.inserted} nuevos, {summary.updated} actualizados, "
        f"{len(summary.rejects)} rechazados."
    )
    for reject in summary.rejects:
        typer.echo(f"  Línea {reject.line}: {reject.reason}")
    if summary.rejects:
        raise typer.Exit(1)


@app.command("search")
def customers_search(
    ctx: typer.Context,
    sociedad: Annotated[str | None, typer.Option(help="Sociedad, por ejemplo SM02.")] = None,
    cliente: Annotated[str | None, typer.Option(help="Número de cliente.")] = None,
    nombre: Annotated[str | None, typer.Option(help="Parte del nombre o del RFC.")] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Busca en el maestro de clientes."""
    rows = search_customers(state(ctx).engine, sociedad, cliente, nombre)
    print_table(
        ["Sociedad", "Cliente", "Nombre", "RFC", "Correo", "Idioma"],
        [[r.sociedad, r.cliente, r.nombre, r.rfc, r.correo, r.idioma] for r in rows],
        format,
        json_keys=["sociedad", "cliente", "nombre", "rfc", "correo", "idioma"],
    )
    if not rows and format is Format.table:
        typer.echo("No se encontraron clientes.", err=True)

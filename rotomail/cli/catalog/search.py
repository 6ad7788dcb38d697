"""``rotomail catalog search``: entries by sociedad, cliente, name or address; or the ones
that bounced. Imports only what a search needs (it is the catalog command run most)."""

from __future__ import annotations

from typing import Annotated

import typer

from rotomail.cli.catalog import HELP
from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table
from rotomail.store.bounces import bounced_entries
from rotomail.store.catalog import search_entries

app = command_group(HELP)


@app.command("search")
def catalog_search(
    ctx: typer.Context,
    sociedad: Annotated[str | None, typer.Option(help="Sociedad, por ejemplo SM02.")] = None,
    cliente: Annotated[str | None, typer.Option(help="Número de cliente.")] = None,
    correo: Annotated[str | None, typer.Option(help="Parte de un correo o del nombre.")] = None,
    nombre: Annotated[str | None, typer.Option(help="Parte del nombre del cliente.")] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
    bounced: Annotated[
        bool,
        typer.Option("--bounced", help="Solo entradas con correos que rebotaron, y el motivo."),
    ] = False,
) -> None:
    """Búsqueda en el catálogo por sociedad, cliente, nombre o correo (sin distinguir
    acentos ni mayúsculas).

    Cada registro con el idioma de su estado de cuenta y, si está retenido, el motivo."""
    if bounced:
        _catalog_bounced(ctx, sociedad, format)
        return

    settings = state(ctx).settings
    rows = search_entries(state(ctx).engine, sociedad, cliente, correo, nombre)
    company_language = {code: company.language for code, company in settings.companies.items()}
    print_table(
        ["Sociedad", "Cliente", "Nombre", "Correo", "Idioma", "Retenido"],
        [
            [
                r.sociedad,
                r.cliente,
                r.nombre,
                r.correos if format is Format.json else r.correo_text,
                # the statement's language: the entry's, else the master's, else the company's
                r.idioma or r.master_idioma or company_language.get(r.sociedad, ""),
                r.retenido,
            ]
            for r in rows
        ],
        format,
        json_keys=["sociedad", "cliente", "nombre", "correos", "idioma", "retenido"],
    )
    if not rows and format is Format.table:
        typer.echo("No se encontraron registros.", err=True)


def _catalog_bounced(ctx: typer.Context, sociedad: str | None, format: Format) -> None:
    rows = bounced_entries(state(ctx).engine, sociedad)
    print_table(
        ["Sociedad", "Cliente", "Nombre", "Correos", "Rebotados", "Último diagnóstico", "Fecha"],
        [
            [
                r.sociedad,
                r.cliente,
                r.nombre,
                r.correos.split(";") if format is Format.json else r.correos,
                r.rebotados,
                r.diagnostico,
                f"{r.fecha:%Y-%m-%d %H:%M}",
            ]
            for r in rows
        ],
        format,
        json_keys=["sociedad", "cliente", "nombre", "correos", "rebotados", "diagnostico", "fecha"],
    )
    if not rows and format is Format.table:
        typer.echo("Ningún correo del catálogo ha rebotado.", err=True)

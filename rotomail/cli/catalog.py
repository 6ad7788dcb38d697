"""``rotomail catalog``: who receives each customer's statement; holds, changes, missing."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli import common
from rotomail.cli.common import (
    ask,
    read_input,
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import (
    Format,
    print_table,
    render,
    write_output,
)
from rotomail.cli.spanish import confirm
from rotomail.errors import DataError, UsageError
from rotomail.inputs.addresses import needs_smtputf8
from rotomail.inputs.parsers import parse_catalog_paste
from rotomail.store.bounces import bounced_entries
from rotomail.store.catalog import (
    SAVED,
    ImportRow,
    add_entry,
    apply_import,
    delete_entry,
    get_entry,
    hold_customer,
    list_changes,
    missing_customers,
    plan_import,
    release_customer,
    search_entries,
)

app = command_group("Catálogo de envío: a qué correos va el estado de cuenta de cada cliente.")


@app.command("add")
def catalog_add(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad, por ejemplo SM02.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente, por ejemplo 1006210.")],
    correos: Annotated[str, typer.Argument(help='Uno o varios correos separados por ";".')],
    idioma: Annotated[
        str,
        typer.Option(
            "--idioma",
            help="Idioma del estado de cuenta y del correo (S/E/P o es/en/pt); "
            "sin él, el del maestro o el de la empresa.",
        ),
    ] = "",
) -> None:
    """Alta individual: guarda (o reemplaza) los correos de un cliente."""
    row = add_entry(state(ctx).engine, sociedad, cliente, correos, idioma)
    typer.echo(SAVED)
    warn_smtputf8(row.correos)


def warn_smtputf8(addresses: list[str]) -> None:
    """Accents before the @ are valid, but only a server offering SMTPUTF8 delivers them."""
    for address in addresses:
        if needs_smtputf8(address):
            typer.echo(
                f"Aviso: {address} lleva caracteres no ASCII antes de la @: solo se entrega "
                "por un servidor SMTP que ofrezca SMTPUTF8.",
                err=True,
            )


@app.command("hold")
def catalog_hold(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    reason: Annotated[str, typer.Option("--reason", help="Motivo, por ejemplo «disputa».")],
) -> None:
    """Retiene a un cliente: no se le envía su estado de cuenta hasta liberarlo."""
    hold_customer(state(ctx).engine, sociedad, cliente, reason)
    typer.echo("Cliente retenido: no recibirá su estado de cuenta hasta «catalog release».")


@app.command("release")
def catalog_release(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
) -> None:
    """Libera a un cliente retenido."""
    release_customer(state(ctx).engine, sociedad, cliente)
    typer.echo("Cliente liberado.")


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
    acentos ni mayúsculas)."""
    if bounced:
        _catalog_bounced(ctx, sociedad, format)
        return

    rows = search_entries(state(ctx).engine, sociedad, cliente, correo, nombre)
    print_table(
        ["Sociedad", "Cliente", "Nombre", "Correo"],
        [
            [r.sociedad, r.cliente, r.nombre, r.correos if format is Format.json else r.correo_text]
            for r in rows
        ],
        format,
        json_keys=["sociedad", "cliente", "nombre", "correos"],
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


@app.command("delete")
def catalog_delete(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No pedir confirmación.")] = False,
) -> None:
    """Borrado: quita un cliente del catálogo."""
    engine = state(ctx).engine
    if not yes:
        row = get_entry(engine, sociedad, cliente)
        if not sys.stdin.isatty():
            raise UsageError("Sin terminal para confirmar: repita el comando con --yes.")
        if not confirm(
            f"¿Borrar {row.sociedad} {row.cliente} {row.nombre} ({row.correo_text})?", default=False
        ):
            typer.echo("Cancelado: no se borró nada.")
            raise typer.Exit(1)
    delete_entry(engine, sociedad, cliente)
    typer.echo("Registro borrado.")


def _print_import(rows: list[ImportRow], fmt: Format) -> None:
    print_table(
        ["Línea", "Sociedad", "Cliente", "Nombre", "Correo", "Mensaje"],
        [[r.line, r.sociedad, r.cliente, r.nombre, r.correo_text, r.message] for r in rows],
        fmt,
        json_keys=["linea", "sociedad", "cliente", "nombre", "correo", "mensaje"],
    )


def _confirmed() -> bool:
    """Grabar / Cancelar, asked on the terminal (stdin carries the rows)."""
    terminal = common.open_terminal()
    if terminal is None:
        typer.echo(
            "Vista previa: no se grabó nada. Para grabar, repita el comando con --yes.", err=True
        )
        raise typer.Exit(2)
    try:
        while True:
            answer = ask(terminal, "¿Grabar o Cancelar? [g/c]: ")
            if answer in SAVE_ANSWERS:
                return True
            if answer is None or answer in CANCEL_ANSWERS:
                return False
            ask_again = "Responda g (grabar) o c (cancelar).\n"
            if terminal is sys.stdin:
                typer.echo(ask_again, nl=False)
            else:
                terminal.write(ask_again)
    finally:
        if terminal is not sys.stdin:
            terminal.close()


SAVE_ANSWERS = frozenset({"g", "grabar", "s", "si", "sí"})
CANCEL_ANSWERS = frozenset({"c", "cancelar", "n", "no"})


@app.command("import")
@app.command("import-tsv")
def catalog_import(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(help="Archivo .tsv/.csv/.xlsx; sin archivo (o -) lee la entrada estándar."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Grabar sin preguntar.")] = False,
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Alta masiva: filas pegadas desde Excel (Sociedad, Cliente y/o Correo)."""
    data, name = read_input(file, "filas del catálogo")
    records = parse_catalog_paste(data, name)
    if not records:
        raise DataError("No se encontraron filas para importar.")
    engine = state(ctx).engine
    plan = plan_import(engine, records)
    if not yes:  # with --yes the outcome table below says it all
        _print_import(plan, format)
    ready = sum(row.ok for row in plan)
    typer.echo(
        f"{len(plan)} filas: {ready} listas para grabar, {len(plan) - ready} con errores.", err=True
    )
    if ready == 0:
        raise DataError("Ninguna fila se puede grabar; no se grabó nada.")
    if not yes and not _confirmed():
        typer.echo("Cancelado: no se grabó nada.", err=True)
        raise typer.Exit(1)
    _print_import(apply_import(engine, plan), format)
    warn_smtputf8([address for row in plan if row.ok for address in row.correos])
    typer.echo(f"Grabadas {ready} de {len(plan)} filas.", err=True)
    if ready != len(plan):
        raise typer.Exit(1)


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
        from openpyxl import Workbook  # deferred: 0.2 s, only for xlsx

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Catalogo")
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        data = io.BytesIO()
        book.save(data)
        write_output(output, data.getvalue())
        typer.echo(f"{len(rows)} registros en {output}")
        return
    text = render(headers, rows, Format(format))
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text.encode("utf-8"))
        typer.echo(f"{len(rows)} registros en {output}")

"""``rotomail catalog import``: Alta masiva, rows pasted from Excel, shown, then saved."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli import common
from rotomail.cli.catalog import HELP
from rotomail.cli.catalog.edit import warn_smtputf8
from rotomail.cli.common import ask, state
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table
from rotomail.errors import DataError
from rotomail.inputs.parsers import parse_catalog_paste
from rotomail.inputs.tabular import read_bytes
from rotomail.store.catalog_edits import UNCHANGED, ImportRow, apply_import, plan_import

app = command_group(HELP)


def read_input(source: str | None, what: str) -> tuple[bytes, str]:
    """Bytes of FILE, or of standard input for ``-`` / no FILE when something is piped."""
    if source in (None, "-"):
        if sys.stdin.isatty():  # nothing piped: the rows are pasted here, at the terminal
            typer.echo(
                f"Pegue las {what} (copiadas de Excel) y termine con Ctrl-D al inicio de una "
                "línea (Ctrl-C cancela):",
                err=True,
            )
            return _read_terminal(), "-"
        return read_bytes(sys.stdin.buffer), "-"
    return read_bytes(Path(source)), source


def _read_terminal() -> bytes:
    """What is pasted at the terminal, up to the first Ctrl-D (``read1``: a terminal's
    end of input is one empty read, which a buffered ``read(n)`` would need twice)."""
    parts = []
    stream = sys.stdin.buffer
    read = stream.read1 if isinstance(stream, io.BufferedReader) else stream.read
    while chunk := read(65536):
        parts.append(chunk)
    return b"".join(parts)


# A paste of more rows than this shows, at the terminal, only the rows with errors and a
# summary (an 18,000-row paste is not printed, twice).
LISTED_ROWS = 50


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
    try:
        plan = plan_import(engine, records)
    except KeyboardInterrupt:  # a big paste's domains take seconds to judge
        typer.echo("Cancelado: no se grabó nada.", err=True)
        raise typer.Exit(130) from None
    # The table format lists every row of a short paste; of a long one, the rows with errors.
    # tsv, csv and json always list every row (a script reads them).
    short = format is not Format.table or len(plan) <= LISTED_ROWS
    if not yes:  # with --yes the outcome table below says it all
        errors = [row for row in plan if not row.ok]
        if short:
            _print_import(plan, format)
        elif errors:
            typer.echo(f"Filas con errores ({len(errors)}):", err=True)
            _print_import(errors, format)
    ready = sum(row.ok for row in plan)
    typer.echo(
        f"{len(plan)} filas: {ready} listas para grabar, {len(plan) - ready} con errores.", err=True
    )
    if ready == 0:
        raise DataError("Ninguna fila se puede grabar; no se grabó nada.")
    if not yes and not _confirmed():
        typer.echo("Cancelado: no se grabó nada.", err=True)
        raise typer.Exit(1)
    outcome = apply_import(engine, plan)
    if yes and short:
        _print_import(outcome, format)
    elif yes:  # a long paste: the rows not saved
        _print_import([row for row in outcome if not row.ok], format)
    warn_smtputf8([address for row in plan if row.ok for address in row.correos])
    unchanged = sum(row.message == UNCHANGED for row in outcome)
    same = f" ({unchanged} sin cambios: el catálogo ya las tenía así)" if unchanged else ""
    typer.echo(f"Grabadas {ready} de {len(plan)} filas{same}.", err=True)
    if ready != len(plan):
        raise typer.Exit(1)

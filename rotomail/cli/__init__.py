"""The command line: parses options, calls the library, prints. Only this package prints.

``rotomail --help`` imports no command module: the root group knows each command's name
and help line, and imports ``rotomail/cli/<command>.py`` only when that command runs
(``LazyGroup`` in ``cli/group.py``; ``catalog`` does the same for its subcommands).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from rotomail import __version__
from rotomail.cli.group import LazyGroup, command_group, start_up_without_collecting

# name -> (module, help line for ``rotomail --help``). Each module defines ``app``: a group
# of subcommands for the names in GROUPS, a single command for the others.
COMMANDS: dict[str, tuple[str, str]] = {
    "customers": ("rotomail.cli.customers", "Maestro de clientes (exportación de SAP)."),
    "catalog": (
        "rotomail.cli.catalog",
        "Catálogo de envío: a qué correos va el estado de cuenta de cada cliente.",
    ),
    "ledger": ("rotomail.cli.ledger", "Partidas abiertas (exportación FBL5N de SAP)."),
    "statement": (
        "rotomail.cli.statement",
        "Genera el estado de cuenta de un cliente en PDF, para revisarlo.",
    ),
    "send": ("rotomail.cli.send", "Envío masivo de estados de cuenta de una sociedad."),
    "history": (
        "rotomail.cli.history",
        "Corridas anteriores; con RUN, el resultado de cada cliente.",
    ),
    "status": (
        "rotomail.cli.status",
        "Quién recibió el estado de cuenta de una fecha y qué pasó con el de los demás.",
    ),
    "bounces": (
        "rotomail.cli.bounces",
        "Lee los informes de rebote del buzón y los registra en el historial.",
    ),
    "config": ("rotomail.cli.config", "Configuración efectiva y contraseñas (SMTP, IMAP)."),
    "db": ("rotomail.cli.db", "Base de datos: esquema y actualizaciones."),
    "demo": (
        "rotomail.cli.demo",
        "Todo el trabajo sobre examples/ en una carpeta temporal: PDF, .eml y registro.",
    ),
}
GROUPS = frozenset({"customers", "catalog", "ledger", "config", "db"})


class RootGroup(LazyGroup):
    """``rotomail``: each command's module is imported when that command runs."""

    table = COMMANDS
    groups = GROUPS


app = command_group(
    "rotomail: envío de estados de cuenta a clientes por correo electrónico.", cls=RootGroup
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rotomail {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Carpeta de datos (en lugar de ROTOMAIL_HOME).", show_default=False
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="URL de SQLAlchemy (en lugar de ROTOMAIL_DATABASE_URL)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Muestra la versión y termina.",
            is_eager=True,
            callback=_show_version,
        ),
    ] = False,
) -> None:
    """rotomail: envío de estados de cuenta a clientes por correo electrónico."""
    ctx.obj = {"home": home, "database_url": database_url}  # made a State by common.state


def main() -> None:
    os.umask(0o077)  # database, logs and outbox readable by their owner only
    start_up_without_collecting()  # on again when the command runs (CommandContext)
    app(prog_name="rotomail")

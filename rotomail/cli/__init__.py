"""The command line: parses options, calls the library, prints. Only this package prints.

``rotomail --help`` imports no command module: the root group knows each command's name
and help line, and imports ``rotomail/cli/<command>.py`` only when that command runs
(Click's lazy-loading pattern). This is the package's one lazy import boundary.
"""

from __future__ import annotations

import importlib
import os
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.exceptions import UsageError

from rotomail import __version__
from rotomail.cli.group import CommandGroup, command_group
from rotomail.cli.spanish import use_spanish

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
GROUPS = {"customers", "catalog", "ledger", "config", "db"}


class LazyGroup(CommandGroup):
    """The root group: a command's module is imported when that command runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        build = typer.main.get_group if cmd_name in GROUPS else typer.main.get_command
        command = build(module.app)
        command.name = cmd_name
        use_spanish(command)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # Typer suggests from loaded commands only: none here
            close = get_close_matches(args[0], list(COMMANDS)) if args else []
            if close and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean '{close[0]}'?"
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, line) in COMMANDS.items()])


app = command_group(
    "rotomail: envío de estados de cuenta a clientes por correo electrónico.", cls=LazyGroup
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
    app(prog_name="rotomail")

"""The group every rotomail command runs under: library errors become one Spanish line and
an exit code, never a traceback; Click's own words in Spanish. The lazy group on top of it
imports a subcommand's module only when that subcommand runs. Light on purpose: ``rotomail
--help`` loads it."""

from __future__ import annotations

import gc
import importlib
import sys
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup

from rotomail.cli.spanish import (
    SpanishContext,
    UsageError,
    make_default_short_help,
    run_in_spanish,
    use_spanish,
)
from rotomail.errors import RotomailError
from rotomail.files import storage_problem, write_exit_code


def start_up_without_collecting() -> None:
    """The program starts with Python's cyclic garbage collector off (called by ``main``).

    Starting a command imports SQLAlchemy, Typer and pydantic and builds the command: some
    80,000 objects the collector tracks, that stay for the whole run, and no garbage worth
    collecting, yet the collector walked them again and again while they were made, and once
    more at exit (about 60-100 ms of CPU in a 0.35 s ``catalog search``). ``CommandContext``
    turns it back on when the command's own code starts.
    """
    gc.disable()


class CommandContext(SpanishContext):
    """The context of every rotomail command: Spanish help, and the garbage collector back on
    (after a start-up without it) as the command's own code starts. What start-up made is
    frozen first (``gc.freeze``): never walked again, so neither the first collection
    (which would walk all of it at once), nor the later ones of a long send, nor the
    interpreter's last ones at exit pay for it. Nothing the command needs closed may
    therefore wait for the collector at exit: the database is closed when the command ends
    (``common.state``)."""

    def invoke(self, callback: Any, /, *args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled() and not isinstance(self.command, TyperGroup):
            gc.freeze()
            gc.enable()
        return super().invoke(callback, *args, **kwargs)


class CommandGroup(TyperGroup):
    """Turns library errors into a Spanish message and an exit code, never a traceback;
    Click's own words (help frame, usage errors) in Spanish for every command."""

    def main(self, args: Any = None, *main_args: Any, **kwargs: Any) -> Any:
        use_spanish(self, CommandContext)
        return run_in_spanish(
            lambda a, **k: super(CommandGroup, self).main(a, *main_args, **k), args, kwargs
        )

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RotomailError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a storage fault no command foresaw: one line, never a traceback
            where = f" {exc.filename}" if exc.filename else ""
            typer.echo(
                f"Error: no se pudo leer o escribir{where}: {storage_problem(exc)}.", err=True
            )
            raise typer.Exit(write_exit_code(exc)) from None
        except Exception as exc:
            # A database error no command foresaw: one line. SQLAlchemy is looked up, not
            # imported: a command that never loaded it (``--help``) cannot raise its errors.
            errors = sys.modules.get("sqlalchemy.exc")
            if errors is None or not isinstance(exc, errors.SQLAlchemyError):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            typer.echo(f"Error de la base de datos: {reason[0] if reason else exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("Cancelado.", err=True)
            raise typer.Exit(130) from None


def command_group(help_text: str, cls: type[CommandGroup] = CommandGroup) -> typer.Typer:
    """A Typer app for one command group (or one command) under rotomail's rules."""
    return typer.Typer(
        cls=cls,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


class LazyGroup(CommandGroup):
    """A group whose subcommands' modules are imported only when one runs (Click's
    lazy-loading pattern): ``--help`` lists the names and help lines from ``table``, a
    typo is matched against the names, and only the module of the subcommand that runs is
    imported. A subclass per group sets the table; this is rotomail's one lazy import
    boundary, used by the root group and by ``catalog``.

    ``table`` maps a name to (module, help). Each module defines ``app``: for a name in
    ``groups``, a group of its own (``rotomail customers``); otherwise a single command, or
    a group of several sibling subcommands, of which the one called ``name`` is taken.
    """

    table: ClassVar[dict[str, tuple[str, str]]] = {}
    groups: ClassVar[frozenset[str]] = frozenset()
    # False: each help line is listed whole, like a Click short_help (the root's). True:
    # the help text is shortened to the width, as Click does for a command's own help.
    shorten_help: ClassVar[bool] = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.table)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.table:
            return None
        app = importlib.import_module(self.table[cmd_name][0]).app
        command: Any
        if cmd_name in self.groups:
            command = typer.main.get_group(app)
        else:
            command = typer.main.get_command(app)
            if isinstance(command, TyperGroup):  # a module of several sibling subcommands
                command = command.commands[cmd_name]
        command.name = cmd_name
        use_spanish(command, CommandContext)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # Typer suggests from loaded commands only: none here
            close = get_close_matches(args[0], list(self.table)) if args else []
            if not close or "Did you mean" in exc.message:
                raise
            suggestions = ", ".join(repr(name) for name in close)
            message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise UsageError(message, exc.ctx) from None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.table)
        with formatter.section("Commands"):
            formatter.write_dl(
                [
                    (name, make_default_short_help(text, limit) if self.shorten_help else text)
                    for name, (_, text) in self.table.items()
                ]
            )

"""The group every rotomail command runs under: library errors become one Spanish line and
an exit code, never a traceback; Click's own words in Spanish. Light on purpose: ``rotomail
--help`` loads it."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from rotomail.cli.spanish import run_in_spanish, use_spanish
from rotomail.errors import RotomailError


class CommandGroup(TyperGroup):
    """Turns library errors into a Spanish message and an exit code, never a traceback;
    Click's own words (help frame, usage errors) in Spanish for every command."""

    def main(self, args: Any = None, *main_args: Any, **kwargs: Any) -> Any:
        use_spanish(self)
        return run_in_spanish(
            lambda a, **k: super(CommandGroup, self).main(a, *main_args, **k), args, kwargs
        )

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RotomailError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
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

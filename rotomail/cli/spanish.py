"""Click/Typer's own words in Spanish, once for every command: the help frame (Uso, Opciones,
Comandos), usage errors and the yes/no question.

Typer vendors Click without gettext, so the words are replaced where they are written: a help
formatter for the frame, and one function that turns Click's usage errors into a Spanish line.

This is the one module that touches the Click Typer vendors (``typer._click``, a private
module): the rest of rotomail imports what it needs of it from here. pyproject.toml declares
the Typer versions this is tested with; tests/test_english_leaks.py fails when a Click or
pydantic message in English reaches a user.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
from typer import _click as click

UsageError = click.exceptions.UsageError
make_default_short_help = click.utils.make_default_short_help

HELP_HEADINGS = {"Options": "Opciones", "Commands": "Comandos", "Arguments": "Argumentos"}
# Help text and markers Click/Typer write next to options.
HELP_WORDS = [
    ("Show this message and exit.", "Muestra esta ayuda y termina."),
    ("[default: ", "[predeterminado: "),
    ("[required]", "[obligatorio]"),
    ("[env var: ", "[variable de entorno: "),
    ("(dynamic)", "(dinámico)"),
]
# Metavars: the kind of value an option takes (<str> in Typer, TEXT in older Click).
METAVARS = {
    "str": "texto",
    "list[str]": "texto",
    "int": "entero",
    "path": "ruta",
    "float": "número",
    "TEXT": "TEXTO",
    "INTEGER": "ENTERO",
    "PATH": "RUTA",
    "FLOAT": "NÚMERO",
}
_METAVAR = re.compile(r"(?<=<)(str|int|path|float|list\[str\])(?=>)|\b(TEXT|INTEGER|PATH|FLOAT)\b")
USAGE_WORDS = [("[OPTIONS]", "[OPCIONES]"), ("COMMAND [ARGS]...", "COMANDO [ARGUMENTOS]...")]


def _metavars(text: str) -> str:
    return _METAVAR.sub(lambda m: METAVARS[m.group(0)], text)


class SpanishHelpFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        for english, spanish in USAGE_WORDS:
            args = args.replace(english, spanish)
        super().write_usage(prog, args, "Uso: " if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        super().write_heading(HELP_HEADINGS.get(heading, heading))

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        translated = []
        for term, text in rows:
            for english, spanish in HELP_WORDS:
                text = text.replace(english, spanish)
            translated.append((_metavars(term), text))
        super().write_dl(translated, col_max, col_spacing)


class SpanishContext(click.Context):
    formatter_class = SpanishHelpFormatter


def use_spanish(command: Any, context_class: type[SpanishContext] = SpanishContext) -> None:
    """Every command of the tree builds its help and usage line with the Spanish formatter
    (its contexts are ``context_class``, SpanishContext or a subclass)."""
    command.context_class = context_class
    for sub in getattr(command, "commands", {}).values():
        use_spanish(sub, context_class)


# --- usage errors ------------------------------------------------------------------------

_NO_SUCH_COMMAND = re.compile(r"No such command '(.+?)'\.(?: Did you mean (.+)\?)?")
_EXTRA_ARGS = re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)")
_REQUIRES_VALUE = re.compile(r"Option '(.+?)' requires an argument\.")
_NO_VALUE = re.compile(r"Option '(.+?)' does not take a value\.")
_NOT_ONE_OF = re.compile(r"(?:Value error, )?'(.*)' is not one of (.*)\.")
_NOT_INTEGER = re.compile(r"'(.*)' is not a valid integer(?: range)?\.")
_INPUT_SHOULD_BE = re.compile(r"Input should be a valid (integer|number|boolean)\b.*")
_KINDS = {"integer": "un número entero", "number": "un número", "boolean": "sí o no"}


def _hint(exc: click.exceptions.BadParameter) -> str:
    if exc.param_hint is not None:
        hint = exc.param_hint
        return " / ".join(hint) if isinstance(hint, list | tuple) else str(hint)
    return exc.param.get_error_hint() if exc.param is not None else ""


def _value_problem(message: str) -> str:
    if match := _NOT_ONE_OF.fullmatch(message):
        choices = ", ".join(c.strip(" '") for c in match.group(2).split(","))
        return f"«{match.group(1)}» no es válido; use uno de: {choices}."
    if match := _NOT_INTEGER.fullmatch(message):
        return f"«{match.group(1)}» no es un número entero."
    if match := _INPUT_SHOULD_BE.fullmatch(message):
        return f"debe ser {_KINDS[match.group(1)]}."
    return message


def usage_message(exc: click.exceptions.UsageError) -> str:
    """The Spanish line for one of Click's usage errors."""
    quoted = lambda text: "«" + text.strip("'") + "»"  # noqa: E731
    if isinstance(exc, click.exceptions.MissingParameter):
        hint = quoted(_hint(exc))
        if exc.param is not None and exc.param.param_type_name == "argument":
            return f"Falta el argumento {hint}."
        return f"Falta la opción {hint}."
    if isinstance(exc, click.exceptions.NoSuchOption):
        text = f"No existe la opción «{exc.option_name}»."
        if exc.possibilities:
            text += f" ¿Quiso decir {' o '.join(sorted(exc.possibilities))}?"
        return text
    if isinstance(exc, click.exceptions.BadParameter):
        return f"Valor inválido para {quoted(_hint(exc))}: {_value_problem(exc.message)}"
    message = exc.message
    if match := _NO_SUCH_COMMAND.fullmatch(message):
        text = f"No existe el comando «{match.group(1)}»."
        close = re.findall(r"'(.+?)'", match.group(2) or "")  # Typer: 'a', 'b'
        return text + (f" ¿Quiso decir {' o '.join(f'«{c}»' for c in close)}?" if close else "")
    if match := _EXTRA_ARGS.fullmatch(message):
        return f"Sobran argumentos: {match.group(1)}."
    if match := _REQUIRES_VALUE.fullmatch(message):
        return f"La opción «{match.group(1)}» necesita un valor."
    if match := _NO_VALUE.fullmatch(message):
        return f"La opción «{match.group(1)}» no lleva valor."
    if message == "Missing command.":
        return "Falta el comando."
    return message


def show_usage_error(exc: click.exceptions.UsageError) -> None:
    """Usage line, where to find help and the error, as Click shows them, in Spanish."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        typer.echo(exc.format_message(), err=True)
        return
    if exc.ctx is not None:
        help_name = exc.ctx.help_option_names[-1]
        typer.echo(exc.ctx.get_usage(), err=True)
        typer.echo(f"Ayuda: {exc.ctx.command_path} {help_name}\n", err=True)
    typer.echo(f"Error: {usage_message(exc)}", err=True)


def run_in_spanish(main: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Run Click's ``main`` and show its usage errors in Spanish (exit 2)."""
    standalone = kwargs.pop("standalone_mode", True)
    try:
        result = main(args, standalone_mode=False, **kwargs)
    except click.exceptions.UsageError as exc:
        if not standalone:
            raise
        show_usage_error(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        if not standalone:
            raise
        typer.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        if not standalone:
            raise
        typer.echo("Cancelado.", err=True)
        sys.exit(1)
    if standalone:
        sys.exit(result if isinstance(result, int) else 0)
    return result


# --- questions ---------------------------------------------------------------------------

YES = frozenset({"s", "si", "sí"})
NO = frozenset({"n", "no"})


def confirm(question: str, default: bool = False) -> bool:
    """A yes/no question answered s/si/sí or n/no; anything else asks again."""
    suffix = " [S/n]: " if default else " [s/N]: "
    while True:
        answer = typer.prompt(question + suffix, default="", show_default=False, prompt_suffix="")
        answer = answer.strip().lower()
        if not answer:
            return default
        if answer in YES:
            return True
        if answer in NO:
            return False
        typer.echo("Responda s (sí) o n (no).", err=True)


def prompt_secret_twice(label: str) -> str:
    """A secret typed twice without echo; asked again until both agree and it is not empty."""
    while True:
        first = typer.prompt(label, hide_input=True)
        second = typer.prompt("Repita para confirmar", hide_input=True)
        if first == second and first:
            return str(first)
        typer.echo("Los dos valores no coinciden; escríbalo de nuevo.", err=True)

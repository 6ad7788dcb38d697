"""What the command modules share: the invocation's state (settings and database engine,
opened on first use), questions on the controlling terminal, the --date and --column
options."""

from __future__ import annotations

import sys
from datetime import date
from typing import IO, Annotated, Any

import typer
from sqlalchemy import Engine

from rotomail.config import Settings, load_settings
from rotomail.errors import UsageError
from rotomail.store.db import open_engine


class State:
    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.overrides)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_engine(
                self.settings.database_url,
                self.settings.busy_timeout,
                lambda notice: typer.echo(notice, err=True),
            )
        return self._engine

    def close(self) -> None:
        """Close the database connections: on SQLite the last one to close moves the WAL into
        the database file, so ``rotomail.db`` alone holds everything (a copy of it too)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def state(ctx: typer.Context) -> State:
    """The invocation's state, made from the root options on first use; closed when the
    command ends (not left to the garbage collector: see ``group.CommandContext``)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(root.obj or {})
        root.call_on_close(root.obj.close)
    return root.obj


class _ControllingTerminal:
    """/dev/tty as two handles: ``open("/dev/tty", "r+")`` is not seekable and Python
    refuses it with io.UnsupportedOperation, so reading and writing are opened apart."""

    def __init__(self) -> None:
        self._reader = open("/dev/tty", encoding="utf-8")  # noqa: SIM115 - closed by close()
        try:
            self._writer = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115
        except OSError:
            self._reader.close()
            raise

    def write(self, text: str) -> int:
        return self._writer.write(text)

    def flush(self) -> None:
        self._writer.flush()

    def readline(self) -> str:
        return self._reader.readline()

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


def open_terminal() -> IO[str] | _ControllingTerminal | None:
    """The user's terminal for a question when stdin carries data, or None (cron, CI)."""
    if sys.stdin.isatty():
        return sys.stdin
    try:
        return _ControllingTerminal()
    except OSError:
        return None


def ask(terminal: IO[str] | _ControllingTerminal, prompt: str) -> str | None:
    """The answer, lower-case; None at end of input (nobody left to answer)."""
    if terminal is sys.stdin:
        typer.echo(prompt, nl=False)
    else:
        terminal.write(prompt)
        terminal.flush()
    line = terminal.readline()
    return line.strip().lower() if line else None


def shown_name(source: str) -> str:
    return "la entrada estándar" if source == "-" else source


ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help='Encabezado del archivo para un campo: campo="Encabezado" (repetible), '
        'p. ej. vencimiento="Venc.neto".',
        show_default=False,
    ),
]

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Fecha de corte AAAA-MM-DD (predeterminado: la de las partidas abiertas "
        "importadas de la sociedad).",
        show_default=False,
    ),
]


def parse_date(value: str | None) -> date | None:
    """``--date`` as a date; None when not given."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"Fecha inválida «{value}»: use AAAA-MM-DD, por ejemplo 2026-11-30."
        ) from None


def parse_columns(values: list[str] | None) -> dict[str, str]:
    """``--column vencimiento="Venc.neto"`` (repeatable) as a ``field -> heading`` map."""
    result: dict[str, str] = {}
    for value in values or []:
        name, sep, heading = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f'--column «{value}»: use campo="Encabezado", p. ej. vencimiento="Venc.neto".'
            )
        result[name.strip()] = heading.strip().strip('"')
    return result

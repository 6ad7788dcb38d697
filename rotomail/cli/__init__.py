"""The command line: parses options, calls the library, prints. Nothing else lives here.

Heavy libraries (SQLAlchemy/SQLModel, fpdf2, keyring, Textual) are imported inside the
commands that need them so that ``rotomail --help`` stays fast.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from rotomail.cli.output import Format, print_table, write_output
from rotomail.cli.spanish import confirm, run_in_spanish, use_spanish
from rotomail.errors import DataError, RotomailError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from rotomail.config import Settings
    from rotomail.store.catalog import ImportRow


class _Group(TyperGroup):
    """Turns library errors into a Spanish message and an exit code, never a traceback;
    Click's own words (help frame, usage errors) in Spanish for every command."""

    def main(self, args: Any = None, *main_args: Any, **kwargs: Any) -> Any:
        use_spanish(self)
        return run_in_spanish(
            lambda a, **k: super(_Group, self).main(a, *main_args, **k), args, kwargs
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


def _app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = _app("rotomail: envío de estados de cuenta a clientes por correo electrónico.")
customers_app = _app("Maestro de clientes (exportación de SAP).")
catalog_app = _app("Catálogo de envío: a qué correos va el estado de cuenta de cada cliente.")
config_app = _app("Configuración efectiva y contraseña SMTP.")
app.add_typer(customers_app, name="customers")
app.add_typer(catalog_app, name="catalog")
app.add_typer(config_app, name="config")
db_app = _app("Base de datos: esquema y actualizaciones.")
app.add_typer(db_app, name="db")


class State:
    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from rotomail.config import load_settings

            self._settings = load_settings(self.overrides)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from rotomail.store.db import open_engine

            self._engine = open_engine(
                self.settings.database_url,
                self.settings["busy_timeout"],
                lambda notice: typer.echo(notice, err=True),
            )
        return self._engine


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"rotomail {version('rotomail')}")
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
    ctx.obj = State({"home": home, "database_url": database_url})


# --- input helpers -----------------------------------------------------------------------


def read_input(source: str | None, what: str) -> tuple[bytes, str]:
    """Bytes of FILE, or of standard input for ``-`` / no FILE when something is piped."""
    from rotomail.inputs.tabular import read_bytes

    if source in (None, "-"):
        if sys.stdin.isatty():
            raise UsageError(
                f"Indique el archivo de {what} o envíelo por la entrada estándar "
                f"(por ejemplo: pbpaste | rotomail ...)."
            )
        return read_bytes(sys.stdin.buffer), "-"
    return read_bytes(Path(source)), source


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


# --- customers ---------------------------------------------------------------------------


@customers_app.command("import")
def customers_import(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(help="Exportación CSV/TSV/XLSX del maestro, o - para la entrada estándar."),
    ],
    column: ColumnOption = None,
) -> None:
    """Importa el maestro de clientes (alta o actualización por sociedad y cliente)."""
    from rotomail.cli.send import parse_columns
    from rotomail.config import column_map
    from rotomail.inputs.parsers import parse_customers
    from rotomail.inputs.tabular import iter_rows, open_source
    from rotomail.store.customers import import_customers

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


@customers_app.command("search")
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
    from rotomail.store.customers import search_customers

    rows = search_customers(state(ctx).engine, sociedad, cliente, nombre)
    print_table(
        ["Sociedad", "Cliente", "Nombre", "RFC", "Correo", "Idioma"],
        [[r.sociedad, r.cliente, r.nombre, r.rfc, r.correo, r.idioma] for r in rows],
        format,
        json_keys=["sociedad", "cliente", "nombre", "rfc", "correo", "idioma"],
    )
    if not rows and format is Format.table:
        typer.echo("No se encontraron clientes.", err=True)


# --- catalog -----------------------------------------------------------------------------


@catalog_app.command("add")
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
    from rotomail.store.catalog import SAVED, add_entry

    row = add_entry(state(ctx).engine, sociedad, cliente, correos, idioma)
    typer.echo(SAVED)
    warn_smtputf8(row.correos)


def warn_smtputf8(addresses: list[str]) -> None:
    """Accents before the @ are valid, but only a server offering SMTPUTF8 delivers them."""
    from rotomail.inputs.addresses import needs_smtputf8

    for address in addresses:
        if needs_smtputf8(address):
            typer.echo(
                f"Aviso: {address} lleva caracteres no ASCII antes de la @: solo se entrega "
                "por un servidor SMTP que ofrezca SMTPUTF8.",
                err=True,
            )


@catalog_app.command("hold")
def catalog_hold(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    reason: Annotated[str, typer.Option("--reason", help="Motivo, por ejemplo «disputa».")],
) -> None:
    """Retiene a un cliente: no se le envía su estado de cuenta hasta liberarlo."""
    from rotomail.store.catalog import hold_customer

    hold_customer(state(ctx).engine, sociedad, cliente, reason)
    typer.echo("Cliente retenido: no recibirá su estado de cuenta hasta «catalog release».")


@catalog_app.command("release")
def catalog_release(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
) -> None:
    """Libera a un cliente retenido."""
    from rotomail.store.catalog import release_customer

    release_customer(state(ctx).engine, sociedad, cliente)
    typer.echo("Cliente liberado.")


@catalog_app.command("changes")
def catalog_changes(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Quién cambió qué: cada alta, reemplazo, borrado, retención y liberación del cliente."""
    from rotomail.store.catalog import list_changes

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


@catalog_app.command("missing")
def catalog_missing(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Option("--sociedad", help="Sociedad, por ejemplo SM02.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo de salida (.tsv).")
    ] = None,
) -> None:
    """Clientes con partidas abiertas sin correo en el catálogo, como filas para «catalog
    import» (Sociedad, Cliente, Nombre, Correo: el del maestro cuando lo tiene)."""
    from rotomail.cli.output import render
    from rotomail.store.catalog import missing_customers

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


@catalog_app.command("search")
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
    from rotomail.store.catalog import search_entries

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
    from rotomail.store.bounces import bounced_entries

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


@catalog_app.command("delete")
def catalog_delete(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No pedir confirmación.")] = False,
) -> None:
    """Borrado: quita un cliente del catálogo."""
    from rotomail.store.catalog import delete_entry, get_entry

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
    terminal = open_terminal()
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


@catalog_app.command("import")
@catalog_app.command("import-tsv")
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
    from rotomail.inputs.parsers import parse_catalog_paste
    from rotomail.store.catalog import apply_import, plan_import

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


@catalog_app.command("export")
def catalog_export(
    ctx: typer.Context,
    sociedad: Annotated[str | None, typer.Option(help="Solo esta sociedad.")] = None,
    format: Annotated[str, typer.Option("--format", help="tsv, csv o xlsx.")] = "tsv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo de salida.")
    ] = None,
) -> None:
    """Exporta el catálogo en un formato que «catalog import» vuelve a leer."""
    from rotomail.store.catalog import search_entries

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
        from openpyxl import Workbook

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
    from rotomail.cli.output import render

    text = render(headers, rows, Format(format))
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text.encode("utf-8"))
        typer.echo(f"{len(rows)} registros en {output}")


# --- config ------------------------------------------------------------------------------


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Muestra la configuración efectiva y de dónde viene cada valor (nunca la contraseña)."""
    from rotomail.store.db import redacted

    settings = state(ctx).settings
    rows: list[list[str]] = [["home", str(settings.home), settings.home_source]]
    rows.append(
        [
            "config.toml",
            str(settings.config_path),
            "existe" if settings.config_path.exists() else "no existe",
        ]
    )
    for key, value in settings.values.items():
        shown = redacted(settings.database_url) if key == "database_url" else str(value)
        rows.append([key, shown, settings.sources[key]])
    password_source = (
        "ROTOMAIL_SMTP_PASSWORD"
        if os.environ.get("ROTOMAIL_SMTP_PASSWORD")
        else "llavero del sistema o se pide al enviar"
    )
    rows.append(["smtp.password", "(oculta)", password_source])
    for code, company in sorted(settings.companies.items()):
        rows.append([f"companies.{code}", f"{company.name} ({company.language})", "config.toml"])
    print_table(["Clave", "Valor", "Origen"], rows)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Actualiza el esquema de la base de datos a esta versión de rotomail.

    Con PostgreSQL (base compartida) es el único camino: los demás comandos no cambian el
    esquema, para que la versión nueva de un operador no deje sin servicio a los demás.
    """
    from rotomail.store.db import redacted, upgrade_schema

    settings = state(ctx).settings
    before, after = upgrade_schema(settings.database_url, settings["busy_timeout"])
    where = redacted(settings.database_url)
    if before == after:
        typer.echo(f"El esquema de {where} ya está al día ({after}).")
    else:
        typer.echo(f"Esquema de {where} actualizado: {before or 'vacío'} → {after}.")


def main() -> None:
    os.umask(0o077)  # database, logs and outbox readable by their owner only
    app(prog_name="rotomail")


# The send job's commands register themselves on ``app``.
from rotomail.cli import bounces, send  # noqa: E402, F401

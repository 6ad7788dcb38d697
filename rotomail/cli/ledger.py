"""``rotomail ledger``: open items from FBL5N exports."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rotomail.cli import common
from rotomail.cli.common import (
    ColumnOption,
    ask,
    parse_columns,
    parse_date,
    shown_name,
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import Format, print_table
from rotomail.config import column_map
from rotomail.delivery.liveness import runs_under_way
from rotomail.errors import DataError, UsageError
from rotomail.inputs.parsers import DUE_DATE_STANDINS, LedgerLayout
from rotomail.store.disputes import dispute_item, list_disputes, resolve_item
from rotomail.store.ledger import (
    Clearing,
    ImportOptions,
    import_ledger_files,
    not_in_master_summary,
)

app = command_group("Partidas abiertas (exportación FBL5N de SAP).")


@app.command("import")
def ledger_import(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="Exportaciones FBL5N (CSV/TSV/TXT/XLS/XLSX) leídas como una sola; - para la "
            "entrada estándar."
        ),
    ],
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Fecha de corte AAAA-MM-DD (predeterminado: la fecha de clave del archivo).",
            show_default=False,
        ),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Importar las filas válidas aunque haya rechazadas.")
    ] = False,
    column: ColumnOption = None,
    due_date_from: Annotated[
        str | None,
        typer.Option(
            "--due-date-from",
            help="Sin vencimiento neto en el archivo: calcular la antigüedad con fecha_base o "
            "fecha_documento (el estado de cuenta lo dice).",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="No preguntar si la importación deja sin partidas a muchos."),
    ] = False,
) -> None:
    """Importa las partidas abiertas; reemplaza las de cada sociedad de los archivos."""
    if due_date_from is not None and due_date_from not in DUE_DATE_STANDINS:
        raise UsageError(f"--due-date-from «{due_date_from}»: use {' o '.join(DUE_DATE_STANDINS)}.")
    if files.count("-") and sys.stdin.isatty():
        raise UsageError(
            "Indique el archivo de partidas abiertas o envíelo por la entrada estándar."
        )
    st = state(ctx)
    given = column_map("ledger", parse_columns(column), "--column")
    options = ImportOptions(
        snapshot_date=parse_date(date_),
        skip_bad=skip_bad,
        column_map={**st.settings.imports.get("ledger", {}), **given},
        strict_columns=frozenset(given),
        due_date_from=due_date_from,
    )

    def show_layout(layout: LedgerLayout) -> None:
        typer.echo(f"Columnas de {shown_name(layout.name)}:")
        for line in layout.heading_lines():
            typer.echo(f"  {line}")

    def confirm(clearings: list[Clearing]) -> bool:
        worst = [c for c in clearings if c.suspicious]
        named = "; ".join(f"{c.sociedad}: {c.cleared} de {c.before}" for c in worst)
        if yes:
            return True
        terminal = common.open_terminal()  # looked up on call: tests replace it
        if terminal is None:
            raise DataError(
                f"La importación dejaría sin partidas abiertas a más de la quinta parte de los "
                f"clientes ({named}); ¿falta parte de la exportación? No se importó nada; si es "
                "correcto (p. ej. un cierre en que casi todos pagaron), repita con --yes."
            )
        who = "; ".join(f"{c.cleared} de los {c.before} clientes de {c.sociedad}" for c in worst)
        answer = ask(
            terminal,
            f"La importación deja sin partidas abiertas a {who}. "
            "¿Es la exportación completa? [s/N] ",
        )
        return answer in ("s", "si", "sí", "y", "yes")

    def waiting(busy: list[str]) -> None:
        typer.echo(
            f"Esperando a que termine {'; '.join(busy)} para reemplazar las partidas abiertas "
            "(cada corrida usa las partidas con que empezó)…",
            err=True,
        )

    result = import_ledger_files(
        st.engine,
        files,
        options,
        on_layout=show_layout,
        confirm=confirm,
        readers=runs_under_way,
        on_wait=waiting,
    )
    counts = ", ".join(f"{s}: {n}" for s, n in sorted(result.per_sociedad.items()))
    snapshot = result.snapshot_date
    typer.echo(f"Partidas abiertas al {snapshot:%d/%m/%Y} importadas ({counts}).")
    if result.has_clearing:
        cleared = ", ".join(f"{s}: {n}" for s, n in sorted(result.cleared.items()))
        typer.echo(
            f"Partidas compensadas ({cleared}): no son abiertas; los pagos y abonos "
            "entre ellas van al estado de cuenta."
        )
        if result.cleared_not_in_master:
            typer.echo(
                f"{result.cleared_not_in_master} partidas compensadas de clientes que no "
                "están en el maestro no se guardaron."
            )
    if result.blocked:
        typer.echo(
            f"{result.blocked} partidas con bloqueo de reclamación (bloqueo): en aclaración, "
            "fuera de lo vencido."
        )
    if result.disputes_ended:
        typer.echo(
            f"{result.disputes_ended} aclaraciones terminadas: sus documentos ya no están "
            "abiertos (compensados)."
        )
    if result.date_source == "hoy":
        typer.echo(
            "Aviso: el archivo no imprime la fecha de clave; se usó la de hoy "
            f"({snapshot:%d/%m/%Y}). Indíquela con --date si no es la correcta.",
            err=True,
        )
    for clearing in result.clearings:
        typer.echo(clearing.message)
    if result.skipped:
        typer.echo(f"{result.skipped} filas omitidas:", err=True)
        for reject in result.rejects:
            typer.echo(f"  Línea {reject.line}: {reject.reason}", err=True)
        listed = len(result.rejects) + sum(result.not_in_master.values())
        if result.skipped > listed:
            typer.echo(f"  ... y {result.skipped - listed} más", err=True)
        if result.not_in_master:
            typer.echo(f"  {not_in_master_summary(result.not_in_master)}", err=True)


@app.command("dispute")
def ledger_dispute(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    documento: Annotated[str, typer.Argument(help="Número de documento.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Motivo de la aclaración (queda en el historial).")
    ],
) -> None:
    """Pone en aclaración las partidas abiertas de un documento: siguen en el estado de
    cuenta y en el saldo, fuera de lo vencido."""
    count = dispute_item(state(ctx).engine, sociedad, cliente, documento, reason)
    typer.echo(
        f"Documento {documento.strip()} en aclaración ({count} partidas): sigue en el estado de "
        "cuenta y en el saldo, fuera de lo vencido, hasta «ledger resolve» o su compensación."
    )


@app.command("resolve")
def ledger_resolve(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    documento: Annotated[str, typer.Argument(help="Número de documento.")],
) -> None:
    """Quita la aclaración de un documento: vuelve a contar como vencido."""
    resolve_item(state(ctx).engine, sociedad, cliente, documento)
    typer.echo(f"Aclaración del documento {documento.strip()} resuelta.")


@app.command("disputes")
def ledger_disputes(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Option("--sociedad", help="Sociedad, por ejemplo SM02.")],
    format: Annotated[
        Format, typer.Option("--format", help="table, tsv, csv o json.")
    ] = Format.table,
) -> None:
    """Documentos en aclaración: cliente, importe, motivo, quién y cuándo."""
    rows = list_disputes(state(ctx).engine, sociedad)
    print_table(
        ["Cliente", "Nombre", "Documento", "Importe", "Moneda", "Motivo", "Usuario", "Fecha"],
        [
            [
                r.cliente,
                r.nombre,
                r.documento,
                f"{r.importe:,.2f}",
                r.moneda,
                r.reason,
                r.by,
                f"{r.at:%Y-%m-%d %H:%M:%S}" if r.at else "",
            ]
            for r in rows
        ],
        format,
        json_keys=[
            "cliente",
            "nombre",
            "documento",
            "importe",
            "moneda",
            "motivo",
            "usuario",
            "fecha",
        ],
    )
    if format is Format.table:
        typer.echo(
            f"{len(rows)} documentos en aclaración."
            if rows
            else "No hay documentos en aclaración.",
            err=True,
        )

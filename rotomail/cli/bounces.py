"""``rotomail bounces``: read the bounce mailbox into the record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.output import print_table
from rotomail.delivery.bounces import ReportOutcome, open_source, process

app = command_group("Lee los informes de rebote del buzón y los registra en el historial.")


def _report_line(outcome: ReportOutcome) -> str:
    if not outcome.matched:
        return f"· {outcome.key}: sin identificar - {outcome.reason}"
    parts = [f"rebotada {a}" for a in outcome.bounced]
    parts += [f"con retraso {a}" for a in outcome.delayed]
    parts += [f"cliente {c} rebotado" for c in outcome.customers_bounced]
    return f"✓ {outcome.key}: " + (", ".join(parts) or "ya registrado")


@app.command("bounces")
def bounces(
    ctx: typer.Context,
    maildir: Annotated[
        Path | None,
        typer.Option("--maildir", help="Leer una carpeta Maildir local en lugar del buzón IMAP."),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Una línea por informe; dice por qué no se identificó."
        ),
    ] = False,
) -> None:
    """Lee los informes de rebote del buzón y los registra en el historial."""
    st = state(ctx)
    source = open_source(st.settings, maildir, sys.stdin.isatty())
    try:
        summary = process(
            st.engine,
            source,
            (lambda o: typer.echo(_report_line(o))) if verbose else (lambda o: None),
        )
    finally:
        source.close()
    typer.echo(f"Informes leídos: {summary.read} ({summary.source})")
    print_table(
        ["Resultado", "Cantidad"],
        [
            ["Direcciones rebotadas", summary.bounced],
            ["Clientes rebotados", summary.customers_bounced],
            ["Con retraso", summary.delayed],
            ["Sin identificar", len(summary.unmatched)],
        ],
    )

"""``rotomail statement``: one customer's statement as a PDF, to review it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from rotomail.cli.common import (
    DateOption,
    parse_date,
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import write_output
from rotomail.delivery.report import date_warning, unprintable_line
from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.statement.model import StatementCustomer, build_statement
from rotomail.statement.pdf import render_statement_pdf, uncovered
from rotomail.store.catalog import search_entries
from rotomail.store.catalog_edits import customer_not_found
from rotomail.store.customers import search_customers, sociedad_known
from rotomail.store.ledger import due_date_source, items_for, payments_for, snapshot_of

app = command_group("Genera el estado de cuenta de un cliente en PDF, para revisarlo.")


@app.command("statement")
def statement(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad, por ejemplo SM02.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    date_: DateOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archivo PDF de salida.")
    ] = None,
) -> None:
    """Genera el estado de cuenta de un cliente en PDF, para revisarlo."""
    st = state(ctx)
    found = search_customers(st.engine, sociedad=sociedad, cliente=cliente)
    if not found:
        known = sociedad_known(st.engine, sociedad)
        raise DataError(
            customer_not_found(normalize_sociedad(sociedad), normalize_cliente(cliente), known)
        )
    customer = found[0]
    company = st.settings.company(customer.sociedad)
    entry = search_entries(st.engine, customer.sociedad, customer.cliente)
    snapshot = snapshot_of(st.engine, customer.sociedad)
    ledger_date = snapshot.snapshot_date if snapshot else None
    # As of its open items' date unless --date says otherwise (then a warning names both).
    statement_date = parse_date(date_) or ledger_date or date.today()
    payments = payments_for(st.engine, customer.sociedad, {customer.cliente}, statement_date)
    built = build_statement(
        company,
        StatementCustomer(customer.sociedad, customer.cliente, customer.nombre, customer.rfc),
        items_for(st.engine, customer.sociedad, customer.cliente),
        statement_date,
        language=(entry[0].idioma if entry else "") or customer.idioma,
        document_types=st.settings.document_types,
        due_date_source=due_date_source(st.engine, customer.sociedad),
        aging=st.settings.aging,
        payments=payments.get(customer.cliente),
    )
    path = output or Path(built.filename)
    write_output(path, render_statement_pdf(built))
    if warning := date_warning(customer.sociedad, ledger_date, statement_date):
        typer.echo(warning, err=True)
    if warning := unprintable_line(customer.cliente, customer.nombre, uncovered(built)):
        typer.echo(warning, err=True)
    typer.echo(str(path))

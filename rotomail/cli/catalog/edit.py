"""``rotomail catalog add|hold|release|delete``: one entry or one hold at a time."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rotomail.cli.catalog import HELP
from rotomail.cli.common import state
from rotomail.cli.group import command_group
from rotomail.cli.spanish import confirm
from rotomail.errors import UsageError
from rotomail.inputs.addresses import needs_smtputf8
from rotomail.store.catalog import get_entry
from rotomail.store.catalog_edits import (
    SAVED,
    add_entry,
    delete_entry,
    hold_customer,
    release_customer,
)

app = command_group(HELP)


@app.command("add")
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
    row = add_entry(state(ctx).engine, sociedad, cliente, correos, idioma)
    typer.echo(SAVED)
    warn_smtputf8(row.correos)


def warn_smtputf8(addresses: list[str]) -> None:
    """Accents before the @ are valid, but only a server offering SMTPUTF8 delivers them."""
    for address in addresses:
        if needs_smtputf8(address):
            typer.echo(
                f"Aviso: {address} lleva caracteres no ASCII antes de la @: solo se entrega "
                "por un servidor SMTP que ofrezca SMTPUTF8.",
                err=True,
            )


@app.command("hold")
def catalog_hold(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    reason: Annotated[str, typer.Option("--reason", help="Motivo, por ejemplo «disputa».")],
) -> None:
    """Retiene a un cliente: no se le envía su estado de cuenta hasta liberarlo."""
    hold_customer(state(ctx).engine, sociedad, cliente, reason)
    typer.echo("Cliente retenido: no recibirá su estado de cuenta hasta «catalog release».")


@app.command("release")
def catalog_release(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
) -> None:
    """Libera a un cliente retenido."""
    release_customer(state(ctx).engine, sociedad, cliente)
    typer.echo("Cliente liberado.")


@app.command("delete")
def catalog_delete(
    ctx: typer.Context,
    sociedad: Annotated[str, typer.Argument(help="Sociedad.")],
    cliente: Annotated[str, typer.Argument(help="Número de cliente.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No pedir confirmación.")] = False,
) -> None:
    """Borrado: quita un cliente del catálogo."""
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

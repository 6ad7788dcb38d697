"""``rotomail db``: the database schema."""

from __future__ import annotations

import typer

from rotomail.cli.common import (
    state,
)
from rotomail.cli.group import command_group
from rotomail.store.db import redacted, upgrade_schema

app = command_group("Base de datos: esquema y actualizaciones.")


@app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Actualiza el esquema de la base de datos a esta versión de rotomail.

    Con PostgreSQL (base compartida) es el único camino: los demás comandos no cambian el
    esquema, para que la versión nueva de un operador no deje sin servicio a los demás.
    """
    settings = state(ctx).settings
    before, after = upgrade_schema(settings.database_url, settings.busy_timeout)
    where = redacted(settings.database_url)
    if before == after:
        typer.echo(f"El esquema de {where} ya está al día ({after}).")
    else:
        typer.echo(f"Esquema de {where} actualizado: {before or 'vacío'} → {after}.")

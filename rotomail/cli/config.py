"""``rotomail config``: the effective settings, passwords in the keyring, a test message."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from rotomail.cli.common import (
    state,
)
from rotomail.cli.group import command_group
from rotomail.cli.output import print_table
from rotomail.cli.spanish import prompt_secret_twice
from rotomail.config import AGING_KEY
from rotomail.delivery.mailer import SendError, SmtpTransport, smtp_credentials, smtp_settings
from rotomail.delivery.runlog import test_message
from rotomail.delivery.secrets import set_smtp_password
from rotomail.errors import DataError, UsageError
from rotomail.store.db import redacted

app = command_group("Configuración efectiva y contraseñas (SMTP, IMAP).")


@app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Muestra la configuración efectiva y de dónde viene cada valor (nunca la contraseña)."""
    settings = state(ctx).settings
    rows: list[list[str]] = [["home", str(settings.home), settings.home_source]]
    rows.append(
        [
            "config.toml",
            str(settings.config_path),
            "existe" if settings.config_path.exists() else "no existe",
        ]
    )
    for key, value in settings.options.flat().items():
        shown = redacted(settings.database_url) if key == "database_url" else str(value)
        rows.append([key, shown, settings.sources[key]])
    password_source = (
        "ROTOMAIL_SMTP_PASSWORD"
        if os.environ.get("ROTOMAIL_SMTP_PASSWORD")
        else "llavero del sistema o se pide al enviar"
    )
    rows.append(["smtp.password", "(oculta)", password_source])
    aging = ", ".join(str(days) for days in settings.aging)
    rows.append([AGING_KEY, f"[{aging}]", settings.sources[AGING_KEY]])
    for code, company in sorted(settings.companies.items()):
        rows.append([f"companies.{code}", f"{company.name} ({company.language})", "config.toml"])
        minimum = company.min_balance
        for key, value in (
            ("invoice_copies", company.invoice_copies or "(sin copias de facturas)"),
            ("invoice_copies_max_mb", f"{company.invoice_copies_max_mb:g}"),
            ("min_balance", "(ninguno)" if minimum is None else f"{minimum:,.2f}"),
            ("skip_credit", "true" if company.skip_credit else "false"),
        ):
            rows.append([f"companies.{code}.{key}", value, "config.toml"])
    print_table(["Clave", "Valor", "Origen"], rows)


@app.command("set-password")
def set_password(
    ctx: typer.Context,
    imap: Annotated[
        bool, typer.Option("--imap", help="La del buzón de rebotes ([bounces]) en vez de SMTP.")
    ] = False,
) -> None:
    """Guarda la contraseña SMTP (o IMAP, con --imap) en el llavero del sistema (keyring)."""
    settings = state(ctx).settings
    if imap:
        host, user, what = settings.bounces.imap_host, settings.bounces.imap_user, "IMAP"
        if not host or not user:
            raise UsageError("Configure primero [bounces] imap_host e imap_user en config.toml.")
    else:
        host, user, what = settings.smtp.host, settings.smtp.user, "SMTP"
        if not host or not user:
            raise UsageError("Configure primero smtp.host y smtp.user en config.toml.")
    if not sys.stdin.isatty():
        raise UsageError("Se necesita una terminal para escribir la contraseña.")
    password = prompt_secret_twice(f"Contraseña {what}")
    set_smtp_password(user, host, password)
    typer.echo(f"Contraseña guardada en el llavero para {user}@{host}.")


@app.command("test-smtp")
def test_smtp(ctx: typer.Context) -> None:
    """Envía un mensaje de prueba al correo del operador."""
    settings = state(ctx).settings
    if not settings.smtp.host:
        raise UsageError("No hay servidor SMTP configurado (smtp.host o ROTOMAIL_SMTP_HOST).")
    operator = settings.operator.email
    if not operator:
        raise UsageError(
            "Configure el correo del operador ([operator] email o ROTOMAIL_OPERATOR_EMAIL)."
        )
    password, oauth_token = smtp_credentials(settings, sys.stdin.isatty())
    transport = SmtpTransport(smtp_settings(settings), password, oauth_token=oauth_token)
    try:
        delivery = transport.deliver(test_message(settings.smtp.user or operator, operator))
    except SendError as exc:
        if exc.reply[:3].isdigit():  # an SMTP reply: the server answered, and said no
            raise DataError(f"El servidor SMTP rechazó el mensaje de prueba: {exc.reply}") from None
        where = f"{settings.smtp.host}:{settings.smtp.port}"
        raise DataError(f"No se pudo conectar con el servidor SMTP {where}: {exc.reply}") from None
    finally:
        transport.close()
    typer.echo(f"Mensaje de prueba enviado a {operator}: {delivery.reply}")

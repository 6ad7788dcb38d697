"""Choosing the transport for a run from the settings: SMTP, or the outbox when no SMTP
host is configured (the embedded default: a new user sees real messages without a server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rotomail.config import Settings
from rotomail.delivery.mailer import OutboxTransport, SmtpSettings, SmtpTransport, Transport
from rotomail.delivery.secrets import checked_token_command, get_smtp_password
from rotomail.errors import UsageError
from rotomail.words import Mode


def uses_smtp(settings: Settings, mode: Mode) -> bool:
    return mode != Mode.DRY_RUN and bool(settings.smtp.host)


def describe(settings: Settings, mode: Mode) -> str:
    if uses_smtp(settings, mode):
        return f"smtp {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security})"
    return f"buzón de salida {settings.outbox_dir}"


def smtp_settings(settings: Settings) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp.host,
        port=settings.smtp.port,
        security=settings.smtp.security,
        user=settings.smtp.user,
        auth=settings.smtp.auth,
        timeout=settings.smtp.timeout,
        rate_per_minute=settings.smtp.rate_per_minute,
        max_per_connection=settings.smtp.max_per_connection,
        attempts=settings.smtp.attempts,
        backoff=tuple(settings.smtp.retry_wait * 2**i for i in range(settings.smtp.attempts)),
        daily_cap=settings.smtp.daily_cap,
    )


def password_for(settings: Settings, interactive: bool) -> str | None:
    """The SMTP password (environment, keyring, prompt), asked once before a run starts."""
    if not settings.smtp.user:
        return None
    password = get_smtp_password(settings.smtp.user, settings.smtp.host, interactive=interactive)
    if password is None:
        raise UsageError(
            "Falta la contraseña SMTP: defina ROTOMAIL_SMTP_PASSWORD o guárdela con "
            "«rotomail config set-password»."
        )
    return password


def smtp_credentials(
    settings: Settings, interactive: bool
) -> tuple[str | None, Callable[[], str] | None]:
    """(password, token source) for the configured ``smtp.auth``, obtained and checked
    before anything is sent: a missing password or a failing token command is exit 2."""
    if settings.smtp.auth != "xoauth2":
        return password_for(settings, interactive), None
    if not settings.smtp.user:
        raise UsageError("smtp.auth = xoauth2 necesita smtp.user: el buzón que envía.")
    return None, checked_token_command(settings.smtp.oauth_token_command)


def transport_factory(
    settings: Settings,
    mode: Mode,
    folder_for: Callable[[int], Path],
    interactive: bool,
    sent_today: Callable[[], int] = lambda: 0,
) -> Callable[[int], Transport]:
    """A function run_id -> Transport; the password is obtained now, before the run.

    ``sent_today`` counts what earlier runs sent today, so a daily cap holds across runs.
    """
    if not uses_smtp(settings, mode):
        return lambda run_id: OutboxTransport(folder_for(run_id))
    smtp = smtp_settings(settings)
    password, oauth_token = smtp_credentials(settings, interactive)
    return lambda run_id: SmtpTransport(
        smtp,
        password,
        oauth_token=oauth_token,
        sent_today=sent_today() if smtp.daily_cap else 0,
    )

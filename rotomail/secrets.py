"""The SMTP password: environment, then the OS keyring, then a prompt. Never a file.

Order (../shared/reference/delivery.md): ``ROTOMAIL_SMTP_PASSWORD`` first (cron), then the
keyring (service ``rotomail``, user ``<user>@<host>``; a missing or broken backend, as on
a headless server, just means "not there"), then ``getpass`` when on a terminal.

``keyring`` is imported lazily: importing it costs noticeable start-up time.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping

from rotomail.errors import UsageError

SERVICE = "rotomail"
ENV_VAR = "ROTOMAIL_SMTP_PASSWORD"
NO_KEYRING = (
    "No hay un llavero (keyring) disponible en este equipo; use la variable ROTOMAIL_SMTP_PASSWORD."
)


def keyring_username(user: str, host: str) -> str:
    return f"{user}@{host}"


def _from_keyring(user: str, host: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(SERVICE, keyring_username(user, host))
    except Exception:
        # keyring.errors.KeyringError (NoKeyringError on a headless server) or any
        # backend failure (D-Bus, locked collection, ...): no keyring, not an error.
        return None


def get_smtp_password(
    user: str, host: str, *, env: Mapping[str, str] = os.environ, interactive: bool
) -> str | None:
    """The password, or None when there is none and no terminal to ask on."""
    value = env.get(ENV_VAR)
    if value:
        return value
    stored = _from_keyring(user, host)
    if stored:
        return stored
    if not interactive:
        return None
    try:
        typed = getpass.getpass(f"Contraseña SMTP de {keyring_username(user, host)}: ")
    except EOFError:
        return None
    return typed or None


def _is_fail_backend(backend: object) -> bool:
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return True
    chained = getattr(backend, "backends", None)  # ChainerBackend with nothing inside
    return chained is not None and not list(chained)


def set_smtp_password(user: str, host: str, password: str) -> None:
    """Store the password in the OS keyring; UsageError when there is no usable keyring."""
    if not password:
        raise UsageError("La contraseña está vacía; no se guardó nada.")
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise UsageError(NO_KEYRING) from None
    try:
        if _is_fail_backend(keyring.get_keyring()):
            raise UsageError(NO_KEYRING)
        keyring.set_password(SERVICE, keyring_username(user, host), password)
    except UsageError:
        raise
    except KeyringError:
        raise UsageError(NO_KEYRING) from None
    except Exception as exc:
        # Only the type: a backend's message is not ours to vouch for.
        raise UsageError(
            f"No se pudo guardar la contraseña en el llavero ({type(exc).__name__}); "
            "use la variable ROTOMAIL_SMTP_PASSWORD."
        ) from None

"""SMTP credentials: the password (environment, then the OS keyring, then a prompt; never
a file), or an OAuth2 access token from an administrator's command (XOAUTH2).

Order (../shared/reference/delivery.md): ``ROTOMAIL_SMTP_PASSWORD`` first (cron), then the
keyring (service ``rotomail``, user ``<user>@<host>``; a missing or broken backend, as on
a headless server, just means "not there"), then ``getpass`` when on a terminal.

``keyring`` is imported lazily: importing it costs noticeable start-up time.
"""

from __future__ import annotations

import base64
import getpass
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping

from rotomail.delivery.messages import clean_line
from rotomail.errors import UsageError

SERVICE = "rotomail"
ENV_VAR = "ROTOMAIL_SMTP_PASSWORD"
IMAP_ENV_VAR = "ROTOMAIL_IMAP_PASSWORD"
NO_KEYRING = (
    "No hay un llavero (keyring) disponible en este equipo; use la variable ROTOMAIL_SMTP_PASSWORD."
)


# What may stand between the words of a secret once something rewrote it: whitespace or a
# control character (changed, doubled, collapsed, removed) or its escape (repr: "\\t").
_GAP = r"(?:[\s\x00-\x1f\x7f]|\\[tnrfvab0]|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4})*"
_BREAK = re.compile(r"[\s\x00-\x1f\x7f]+")
HIDDEN = "***"


def _b64(text: str) -> list[str]:
    # With and without its "=" padding (a server may quote either).
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return [encoded, encoded.rstrip("=")]


def password_forms(user: str, password: str) -> list[str]:
    """The password as given and as AUTH PLAIN (with and without an authzid) and LOGIN
    send it, base64-encoded."""
    return [
        password,
        *_b64(password),
        *_b64(f"\0{user}\0{password}"),
        *_b64(f"{user}\0{user}\0{password}"),
    ]


def imap_password_forms(user: str, password: str) -> list[str]:
    """The forms of an IMAP password: those of :func:`password_forms` (AUTHENTICATE PLAIN
    is the same base64) and the quoted string LOGIN sends (``\\`` and ``"`` escaped)."""
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    return [*password_forms(user, password), quoted]


def scrubbed_reply(pattern: re.Pattern[str] | None, text: str) -> str:
    """A server's text as one clean line: the secret hidden first (in every rendering),
    then cleaned (whitespace collapsed, controls removed), then hidden again."""
    return hide(pattern, clean_line(hide(pattern, text)))


def token_forms(user: str, token: str) -> list[str]:
    """An OAuth2 token as given and inside XOAUTH2's base64 initial response."""
    return [token, *_b64(f"user={user}\x01auth=Bearer {token}\x01\x01")]


def secret_pattern(forms: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for every rendering of ``forms``: as given, with the whitespace or control
    characters inside changed, collapsed, removed or escaped, and without the blanks around
    them. None when there is nothing to hide."""
    alternatives = set()
    for form in forms:
        words = [w for w in _BREAK.split(form) if w]
        if words:
            alternatives.add(_GAP.join(re.escape(w) for w in words))
    if not alternatives:
        return None
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True)))


def hide(pattern: re.Pattern[str] | None, text: str) -> str:
    """``text`` with every rendering of the secret replaced by ``***``."""
    return text if pattern is None else pattern.sub(HIDDEN, text)


def keyring_username(user: str, host: str) -> str:
    return f"{user}@{host}"


def _from_keyring(user: str, host: str) -> str | None:
    try:
        import keyring  # deferred: 0.07 s, only when a password is needed

        return keyring.get_password(SERVICE, keyring_username(user, host))
    except Exception:
        # keyring.errors.KeyringError (NoKeyringError on a headless server) or any
        # backend failure (D-Bus, locked collection, ...): no keyring, not an error.
        return None


def get_smtp_password(
    user: str, host: str, *, env: Mapping[str, str] = os.environ, interactive: bool
) -> str | None:
    """The password, or None when there is none and no terminal to ask on."""
    return _get_password(user, host, env, interactive, ENV_VAR, "SMTP")


def get_imap_password(
    user: str, host: str, *, env: Mapping[str, str] = os.environ, interactive: bool
) -> str | None:
    """The bounce mailbox's password: ROTOMAIL_IMAP_PASSWORD, the keyring, a prompt."""
    return _get_password(user, host, env, interactive, IMAP_ENV_VAR, "IMAP")


def _get_password(
    user: str, host: str, env: Mapping[str, str], interactive: bool, env_var: str, what: str
) -> str | None:
    value = env.get(env_var)
    if value:
        return value
    stored = _from_keyring(user, host)
    if stored:
        return stored
    if not interactive:
        return None
    try:
        typed = getpass.getpass(f"Contraseña {what} de {keyring_username(user, host)}: ")
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


class OAuthTokenError(Exception):
    """The token command could not give an access token; the message is Spanish."""


TOKEN_COMMAND_TIMEOUT = 60.0


def oauth_token_command(command: str) -> Callable[[], str]:
    """A function that runs ``command`` (no shell) and returns the access token it prints.

    SMTP XOAUTH2 (Microsoft 365, Google Workspace) takes short-lived tokens: the command,
    an administrator's helper such as ``mutt_oauth2.py`` or a script around MSAL, keeps and
    refreshes them. rotomail calls it again for every new SMTP connection, so a run of
    many hours never presents an expired token. The token never reaches a file, the
    database, a log or a command line.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"smtp.oauth_token_command no se puede leer: {exc}.") from None
    if not argv:
        raise UsageError(
            "smtp.auth = xoauth2 necesita smtp.oauth_token_command: el comando que imprime "
            "el token de acceso."
        )

    def fetch() -> str:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,  # a helper that wants to ask must fail, not hang
                capture_output=True,
                text=True,
                timeout=TOKEN_COMMAND_TIMEOUT,
                check=False,
            )
        except OSError as exc:
            raise OAuthTokenError(
                f"No se pudo ejecutar smtp.oauth_token_command ({argv[0]}): {exc.strerror}."
            ) from None
        except subprocess.TimeoutExpired:
            raise OAuthTokenError(
                f"smtp.oauth_token_command no respondió en {TOKEN_COMMAND_TIMEOUT:.0f} s."
            ) from None
        token = done.stdout.strip()
        if done.returncode != 0:
            # Its last line of errors helps the administrator; its output may be a token.
            errors = done.stderr.strip().splitlines()
            reason = f": {clean_line(errors[-1])[:200]}" if errors else ""
            raise OAuthTokenError(
                f"smtp.oauth_token_command terminó con código {done.returncode}{reason}"
            )
        if not token or any(ch.isspace() for ch in token) or not token.isprintable():
            raise OAuthTokenError("smtp.oauth_token_command no imprimió un token de acceso.")
        return token

    return fetch


def checked_token_command(command: str) -> Callable[[], str]:
    """``oauth_token_command(command)``, run once now: a helper that fails is a
    configuration error (exit 2) before anything is recorded or sent."""
    fetch = oauth_token_command(command)
    try:
        fetch()
    except OAuthTokenError as exc:
        raise UsageError(str(exc)) from None
    return fetch

"""SMTP XOAUTH2 (Microsoft 365 after basic authentication is switched off, Google
Workspace): a fresh token from the administrator's command for every connection, against
a real aiosmtpd server that accepts only XOAUTH2."""

from __future__ import annotations

import base64
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sample_data import COMPANY
from smtp_server import SmtpServer, assert_never_shown
from test_secrets import database_rows

from rotomail.delivery.mailer import AuthenticationFailed, ConfigurationError, SmtpTransport
from rotomail.delivery.messages import build_statement_message
from rotomail.delivery.outgoing import Outgoing
from tests.conftest import Cli

USER = COMPANY.sender
# The loaded CLI, the XOAUTH2-only server it sends through, and the test's monkeypatch.
XoauthCli = tuple[Cli, SmtpServer, pytest.MonkeyPatch]
TOKEN = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InJvdG9tYWlsLXRlc3QifQ.token-1"


def statement() -> Outgoing:
    return build_statement_message(
        COMPANY, "Ferretería López", ["pagos@ferrelopez.example.mx"], b"%PDF-1.4", "1.pdf"
    )


def test_xoauth2_login_and_send() -> None:
    with SmtpServer(xoauth2=(USER, {TOKEN})) as server:
        SmtpTransport(server.settings(), None, oauth_token=lambda: TOKEN).deliver(statement())
        assert server.tokens_presented == [TOKEN]
        assert [m.rcpt_tos for m in server.messages] == [["pagos@ferrelopez.example.mx"]]


def test_every_new_connection_asks_for_a_fresh_token() -> None:
    tokens = iter(["token-a", "token-b", "token-c"])
    with SmtpServer(xoauth2=(USER, {"token-a", "token-b", "token-c"})) as server:
        transport = SmtpTransport(
            server.settings(max_per_connection=1), None, oauth_token=lambda: next(tokens)
        )
        for _ in range(3):
            transport.deliver(statement())
        transport.close()
        assert server.tokens_presented == ["token-a", "token-b", "token-c"]
        assert len(server.messages) == 3


def test_refused_token_stops_and_is_never_shown() -> None:
    with SmtpServer(xoauth2=(USER, {"another-token"})) as server:
        transport = SmtpTransport(server.settings(), None, oauth_token=lambda: TOKEN)
        with pytest.raises(AuthenticationFailed) as caught:
            transport.deliver(statement())
        assert server.connections == 1  # not retried
        assert server.messages == []
    exc = caught.value
    assert exc.exit_code == 2
    assert exc.reply.startswith("535")
    assert str(exc).startswith(f"El servidor 127.0.0.1:{server.port} rechazó el token OAuth2")
    assert_never_shown(exc, transport, TOKEN)


def test_server_without_xoauth2_is_a_configuration_error() -> None:
    with SmtpServer(auth=(USER, "password")) as server:
        transport = SmtpTransport(server.settings(auth="xoauth2"), None, oauth_token=lambda: TOKEN)
        with pytest.raises(ConfigurationError) as caught:
            transport.deliver(statement())
        assert "no ofrece XOAUTH2 (ofrece: LOGIN PLAIN)" in str(caught.value)
        assert server.tokens_presented == []


# -- the token command, through the CLI --------------------------------------------------


def token_command(tmp_path: Path, body: str) -> str:
    script = tmp_path / "token.py"
    script.write_text(body, encoding="utf-8")
    return shlex.join([sys.executable, str(script)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "import sys\nsys.stderr.write('AADSTS70008: refresh token expired\\n')\nsys.exit(3)\n",
            "Error: smtp.oauth_token_command terminó con código 3: "
            "AADSTS70008: refresh token expired",
        ),
        ("print('')\n", "Error: smtp.oauth_token_command no imprimió un token de acceso."),
        ("print('two words')\n", "Error: smtp.oauth_token_command no imprimió un token"),
    ],
)
def test_failing_token_command_is_exit_2_before_anything_is_recorded(
    loaded_xoauth2: XoauthCli, tmp_path: Path, body: str, message: str
) -> None:
    cli, server, monkeypatch = loaded_xoauth2
    monkeypatch.setenv("ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND", token_command(tmp_path, body))
    result = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output
    assert cli("history", "--format", "json").stdout.strip() == "[]"
    assert server.messages == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "Error: smtp.auth = xoauth2 necesita smtp.oauth_token_command"),
        (
            {"ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND": "/nonexistent/token-helper"},
            "Error: No se pudo ejecutar smtp.oauth_token_command (/nonexistent/token-helper)",
        ),
        (
            {"ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND": "helper 'unclosed"},
            "Error: smtp.oauth_token_command no se puede leer",
        ),
        (
            {"ROTOMAIL_SMTP_AUTH": "oauth"},
            "smtp.auth = «oauth» (ROTOMAIL_SMTP_AUTH); use password o xoauth2.",
        ),
    ],
)
def test_xoauth2_configuration_errors(loaded_xoauth2: XoauthCli, env: dict, message: str) -> None:
    cli, server, monkeypatch = loaded_xoauth2
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert server.messages == []


def test_send_and_test_smtp_with_xoauth2(
    loaded_xoauth2: XoauthCli, tmp_path: Path, home: Path, db_url: str
) -> None:
    cli, server, monkeypatch = loaded_xoauth2
    counter = tmp_path / "calls"
    body = (
        "from pathlib import Path\n"
        f"path = Path({str(counter)!r})\n"
        "n = int(path.read_text()) + 1 if path.exists() else 1\n"
        "path.write_text(str(n))\n"
        "print(f'token-{n}')\n"
    )
    monkeypatch.setenv("ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND", token_command(tmp_path, body))
    monkeypatch.setenv("ROTOMAIL_SMTP_MAX_PER_CONNECTION", "2")
    monkeypatch.setenv("ROTOMAIL_SMTP_SESSIONS", "1")  # one session: its connections counted
    result = cli("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")
    assert result.exit_code == 0, result.output
    # token-1 is the check before the run; 3 statements at 2 per connection, then the log
    assert server.tokens_presented == ["token-2", "token-3", "token-4"]
    assert len(server.messages) == 4
    tested = cli("config", "test-smtp")
    assert tested.exit_code == 0, tested.output
    assert server.tokens_presented[-1] == "token-6"

    written = [result.output, tested.output, database_rows(db_url).decode()]
    written += [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file()]
    for n in range(1, 7):
        initial = f"user={USER}\x01auth=Bearer token-{n}\x01\x01"
        for form in (f"token-{n}", base64.b64encode(initial.encode()).decode()):
            assert not [text for text in written if form in text], form


@pytest.fixture
def loaded_xoauth2(loaded: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[XoauthCli]:
    """The test company loaded, sending through a server that takes only XOAUTH2."""
    with SmtpServer(xoauth2=(USER, {f"token-{n}" for n in range(1, 10)})) as server:
        for name, value in {
            "ROTOMAIL_SMTP_HOST": server.host,
            "ROTOMAIL_SMTP_PORT": str(server.port),
            "ROTOMAIL_SMTP_SECURITY": "none",
            "ROTOMAIL_SMTP_RATE_PER_MINUTE": "0",
            "ROTOMAIL_SMTP_USER": USER,
            "ROTOMAIL_SMTP_AUTH": "xoauth2",
        }.items():
            monkeypatch.setenv(name, value)
        yield loaded, server, monkeypatch

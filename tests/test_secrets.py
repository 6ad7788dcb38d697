"""The SMTP password never leaves the environment variable it came from, and what a run
writes is readable by its owner only.

Real ``rotomail`` processes (started with a permissive umask of 022, as from a login shell
or cron) send through an aiosmtpd server that requires AUTH; then every file under
ROTOMAIL_HOME, every row of the database and everything printed is searched for the
password in clear and in its base64/AUTH encodings.
"""

from __future__ import annotations

import base64
import json
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sink_server import DATE, ProcessCli, addresses, rotomail_env, seed
from smtp_server import SmtpServer
from sqlalchemy import MetaData, create_engine, select

from tests.conftest import PG_URL

PASSWORD = "S3cr3t-Pa55-rotomail"
USER = "portal@example.mx"
CUSTOMERS = 3


def encodings(secret: str, user: str = USER) -> dict[str, bytes]:
    """The password as it could be written down: clear, and as AUTH PLAIN/LOGIN send it."""
    b64 = lambda raw: base64.b64encode(raw.encode())  # noqa: E731
    return {
        "clear": secret.encode(),
        "utf-16": secret.encode("utf-16-le"),
        "base64": b64(secret),
        "AUTH PLAIN": b64(f"\0{user}\0{secret}"),
        "AUTH PLAIN (authzid)": b64(f"{user}\0{user}\0{secret}"),
        "hex": secret.encode().hex().encode(),
    }


def leaks(blob: bytes, where: str) -> list[str]:
    return [
        f"{where}: password ({name})" for name, form in encodings(PASSWORD).items() if form in blob
    ]


def database_rows(url: str) -> bytes:
    """Every row of every table, as text (covers PostgreSQL, where there is no file)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        chunks = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    chunks.append(repr(tuple(row)))
        return "\n".join(chunks).encode()
    finally:
        engine.dispose()


def test_password_never_written_or_printed(home: Path, db_url: str, tmp_path: Path) -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        env = rotomail_env(server.port, ROTOMAIL_SMTP_USER=USER, ROTOMAIL_SMTP_PASSWORD=PASSWORD)
        cli = ProcessCli(env, tmp_path, umask=0o022)
        seed(cli, home, CUSTOMERS)

        sent = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        assert sent.exit_code == 0, sent.output
        statements = [m for m in server.messages if m.rcpt_tos != ["operador@example.mx"]]
        assert sorted(tuple(m.rcpt_tos) for m in statements) == sorted(
            tuple(addresses(c)) for c in ("2000001", "2000002", "2000003")
        )
        assert server.auth_attempts >= 1
        assert "Registro enviado a operador@example.mx." in sent.stdout

        again = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)  # all skipped
        assert again.exit_code == 0, again.output
        tested = cli("config", "test-smtp")
        assert tested.exit_code == 0, tested.output
        rehearsal = cli("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
        assert rehearsal.exit_code == 0, rehearsal.output  # PDFs and .eml in the outbox
        assert cli("history").exit_code == 0
        assert cli("history", "1", "--format", "json").exit_code == 0

    # A server that refuses the password: the error paths must not echo it either.
    with SmtpServer(auth=(USER, "otra-contraseña")) as refusing:
        wrong = ProcessCli({**env, "ROTOMAIL_SMTP_PORT": str(refusing.port)}, tmp_path, 0o022)
        refused = wrong("send", "--sociedad", "SM02", "--all", "--date", "2026-12-31")
        assert refused.exit_code == 2, refused.output  # a configuration error
        assert "Corrida detenida:" in refused.stderr
        assert wrong("config", "test-smtp").exit_code != 0
        assert refusing.messages == []

    shown = cli("config", "show")
    assert shown.exit_code == 0, shown.output
    [row] = [line for line in shown.stdout.splitlines() if line.startswith("smtp.password")]
    assert "(oculta)" in row and "ROTOMAIL_SMTP_PASSWORD" in row

    problems: list[str] = []
    for n, result in enumerate([*cli.results, *wrong.results]):
        problems += leaks(result.stdout.encode(), f"stdout of command {n}")
        problems += leaks(result.stderr.encode(), f"stderr of command {n}")
    files = sorted(p for p in home.rglob("*") if p.is_file())
    assert any(p.suffix == ".txt" for p in files) and any(p.suffix == ".eml" for p in files)
    for path in files:
        problems += leaks(path.read_bytes(), str(path.relative_to(home)))
    problems += leaks(database_rows(db_url), "database rows")
    assert not problems, "\n".join(problems)


def test_password_cannot_come_from_argv(home: Path, tmp_path: Path) -> None:
    """No option takes the password: it can only come from the environment or the keyring."""
    cli = ProcessCli(rotomail_env(2525), tmp_path)
    for args in (
        ["send", "--help"],
        ["config", "--help"],
        ["--help"],
        ["config", "show", "--help"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "--password" not in result.stdout and "--smtp-password" not in result.stdout
    for option in ("--password", "--smtp-password", "--pass"):
        result = cli("send", "--sociedad", "SM02", "--all", option, PASSWORD)
        assert result.exit_code == 2, result.output
        assert "No such option" in result.stderr or "no existe" in result.stderr.lower()


SPACED = "Cl4ve  con\tespacios-rotomail"  # a double blank and a tab inside


def renderings(secret: str) -> dict[str, bytes]:
    """``encodings`` plus the password as a careless cleaner could render it: blanks
    collapsed, tab as a blank, blanks removed, repr-escaped."""
    collapsed = " ".join(secret.split())
    return {
        **encodings(secret),
        "collapsed": collapsed.encode(),
        "tab as blank": secret.replace("\t", " ").encode(),
        "no blanks": "".join(secret.split()).encode(),
        "repr": repr(secret)[1:-1].encode(),
        "base64 of the collapsed": base64.b64encode(collapsed.encode()).rstrip(b"="),
    }


def test_a_535_reply_echoing_the_credentials_never_gets_the_password_written(
    home: Path, db_url: str, tmp_path: Path
) -> None:
    """A server that quotes the user, the password (a double blank and a tab inside) and
    their AUTH PLAIN base64 in its 535: not one rendering of it in a file, a database row
    or anything printed."""
    with SmtpServer(auth=(USER, SPACED), echo_credentials=True) as server:
        env = rotomail_env(server.port, ROTOMAIL_SMTP_USER=USER, ROTOMAIL_SMTP_PASSWORD=SPACED)
        cli = ProcessCli(env, tmp_path, umask=0o022)
        seed(cli, home, CUSTOMERS)
        sent = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        tested = cli("config", "test-smtp")
        shown = [cli("history"), cli("history", "1", "--format", "json")]
        attempts = server.auth_attempts
    assert sent.exit_code == 2, sent.output
    assert "rechazó el usuario o la contraseña de portal@example.mx: 535 5.7.8" in sent.stderr
    assert "Authentication failed for portal@example.mx / *** [***]" in sent.stderr
    assert tested.exit_code != 0 and "***" in tested.stderr
    assert all(r.exit_code == 0 for r in shown)
    assert attempts >= 2 and server.messages == []

    forms = renderings(SPACED)
    problems: list[str] = []

    def look(blob: bytes, where: str) -> None:
        problems.extend(f"{where}: {name}" for name, form in forms.items() if form in blob)

    for n, result in enumerate(cli.results):
        look(result.stdout.encode(), f"stdout of command {n}")
        look(result.stderr.encode(), f"stderr of command {n}")
    files = sorted(p for p in home.rglob("*") if p.is_file())
    assert any(p.suffix == ".txt" for p in files)  # the run's log
    for path in files:
        look(path.read_bytes(), str(path.relative_to(home)))
    look(database_rows(db_url), "database rows")
    assert not problems, "\n".join(problems)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(bool(PG_URL), reason="the database file exists on SQLite only")
def test_database_logs_and_outbox_are_private(home: Path, tmp_path: Path) -> None:
    """Created by real processes under umask 022: still owner-only (0600 files, 0700 dirs)."""
    with SmtpServer() as server:
        cli = ProcessCli(rotomail_env(server.port), tmp_path, umask=0o022)
        seed(cli, home, CUSTOMERS)
        sent = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        assert sent.exit_code == 0, sent.output
    outbox = cli("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run")
    assert outbox.exit_code == 0, outbox.output

    database = home / "rotomail.db"
    wanted = {database: 0o600}
    wanted.update({p: 0o600 for p in home.glob("rotomail.db-*")})  # -wal, -shm, -journal
    for folder in ("logs", "outbox"):
        root = home / folder
        assert root.is_dir(), f"{root} missing"
        wanted[root] = 0o700
        for path in root.rglob("*"):
            wanted[path] = 0o700 if path.is_dir() else 0o600
    assert any(p.suffix == ".pdf" for p in wanted) and any(p.suffix == ".txt" for p in wanted)
    wrong = {
        str(p.relative_to(home)): oct(_mode(p)) for p, mode in wanted.items() if _mode(p) != mode
    }
    assert not wrong, f"not owner-only: {json.dumps(wrong, indent=1)}"


IMAP_PASSWORD = 'Buz0n  de\trebotes "rotomail"'  # blanks, a tab and quotes (LOGIN escapes them)


class EchoingImapServer:
    """A raw IMAP server that refuses LOGIN and quotes back, in its NO reply, the user and
    the password as it received them (LOGIN's quoted string), decoded, with its blanks
    collapsed, and base64-encoded as AUTHENTICATE PLAIN would carry it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.logins: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> EchoingImapServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client, client.makefile("rwb") as stream:
                self._session(stream)

    def _session(self, stream: Any) -> None:
        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        say("* OK IMAP4rev1 echoing server ready")
        for raw in stream:
            tag, _, rest = raw.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            if command.upper() == "CAPABILITY":
                say("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                say(f"{tag} OK CAPABILITY completed")
            elif command.upper() == "LOGIN":
                self.logins.append(args)
                user, _, quoted = args.partition(" ")
                password = quoted[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
                collapsed = " ".join(password.split())
                say(
                    f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials: {user} {quoted} "
                    f"({password}) [{collapsed}] {plain} "
                    f"{base64.b64encode(password.encode()).decode()}"
                )
            elif command.upper() == "LOGOUT":
                say("* BYE")
                say(f"{tag} OK LOGOUT completed")
                return
            else:
                say(f"{tag} BAD unknown command")


def test_an_imap_login_refusal_echoing_the_password_never_gets_it_written(
    home: Path, db_url: str, tmp_path: Path
) -> None:
    """``rotomail bounces`` against a server that quotes the password back in its refusal:
    the reply is shown (the administrator needs it), every form of the password hidden."""
    with EchoingImapServer() as server:
        env = {
            **rotomail_env(1),
            "ROTOMAIL_IMAP_HOST": "127.0.0.1",
            "ROTOMAIL_IMAP_PORT": str(server.port),
            "ROTOMAIL_IMAP_SECURITY": "none",
            "ROTOMAIL_IMAP_USER": USER,
            "ROTOMAIL_IMAP_PASSWORD": IMAP_PASSWORD,
        }
        cli = ProcessCli(env, tmp_path, umask=0o022)
        seed(cli, home, CUSTOMERS)
        result = cli("bounces", "--verbose")
        shown = [cli("history"), cli("status", "--sociedad", "SM02")]
    assert server.logins, "rotomail never tried to log in"
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"Error: El servidor IMAP 127.0.0.1:{server.port} rechazó el acceso de {USER} o no "
        "tiene la carpeta «INBOX»: [AUTHENTICATIONFAILED] Invalid credentials: "
    )
    assert "***" in line and "Traceback" not in result.output
    assert all(r.exit_code in (0, 1) for r in shown)

    forms = {
        **renderings(IMAP_PASSWORD),
        "LOGIN quoted": IMAP_PASSWORD.replace('"', '\\"').encode(),
        "AUTH PLAIN of the sent user": base64.b64encode(
            f"\0{USER}\0{IMAP_PASSWORD}".encode()
        ).rstrip(b"="),
    }
    problems: list[str] = []

    def look(blob: bytes, where: str) -> None:
        problems.extend(f"{where}: {name}" for name, form in forms.items() if form in blob)

    for n, shown_result in enumerate(cli.results):
        look(shown_result.stdout.encode(), f"stdout of command {n}")
        look(shown_result.stderr.encode(), f"stderr of command {n}")
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        look(path.read_bytes(), str(path.relative_to(home)))
    look(database_rows(db_url), "database rows")
    assert not problems, "\n".join(problems)

"""``smtp.sessions``: several SMTP sessions at once, with the rate limit, the daily cap and
the circuit breakers holding for the run as a whole, and every customer still sent once.

The server is aiosmtpd with a handler that watches what the sessions do at once (the
number of DATA phases open at the same moment, when each MAIL arrived). Assertions on time
are lower bounds only (a loaded machine is slower, never faster).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sink_server import (
    Sink,
    outcome_lines,
    rotomail_env,
    run,
    seed,
    send_args,
    start,
    statements_by_cliente,
)
from smtp_server import free_port

from tests.conftest import Cli

HOST = "127.0.0.1"
DATE = "2026-11-30"
LOG_SUBJECT = "Log "
OUTCOME = ("✓", "✗", "–", "?", "·")


class Watch:
    """aiosmtpd handler: accepts everything, ``delay`` seconds into each DATA."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.open_data = 0
        self.most_at_once = 0
        self.mail_at: list[float] = []
        self.statements: list[str] = []  # each accepted statement's cliente

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_at.append(time.monotonic())
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.open_data += 1
        self.most_at_once = max(self.most_at_once, self.open_data)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.open_data -= 1
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        if not str(message["Subject"] or "").startswith(LOG_SUBJECT):
            for part in message.iter_attachments():
                self.statements.append((part.get_filename() or "").split("_", 1)[0])
        return "250 2.0.0 Ok: queued"


class Server:
    def __init__(self, handler: Watch) -> None:
        self.handler = handler
        self.controller = Controller(handler, hostname=HOST, port=free_port())

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)


def use(monkeypatch: pytest.MonkeyPatch, port: int, **settings: Any) -> None:
    values = {
        "host": HOST,
        "port": port,
        "security": "none",
        "rate_per_minute": 0,
        "retry_wait": 0.01,
        "round_wait": 0.01,
        **settings,
    }
    for name, value in values.items():
        monkeypatch.setenv(f"ROTOMAIL_SMTP_{name.upper()}", str(value))


def send(cli: Cli) -> Any:
    return cli("send", "--sociedad", "SM02", "--all", "--date", DATE, "--verbose")


def states(cli: Cli, run: int = 1) -> Counter[str]:
    import json

    result = cli("history", "--format", "json", str(run))
    assert result.exit_code == 0, result.output
    return Counter(row["estado"] for row in json.loads(result.stdout))


def test_three_sessions_at_once_each_customer_once_one_line_each(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 12)
    with Server(Watch(delay=1.0)) as server:
        use(monkeypatch, server.port, sessions=3)
        result = send(cli)
    assert result.exit_code == 0, result.output
    assert 2 <= server.handler.most_at_once <= 3  # at once, never more than smtp.sessions
    assert Counter(server.handler.statements) == dict.fromkeys(ids, 1)
    # Every line whole: one "✓ <cliente> ..." line per customer, in any order.
    lines = outcome_lines(result.stdout)
    assert sorted(lines) == sorted(ids)
    assert all(lines[c].startswith(f"✓ {c} Cliente de Prueba {c} S.A. de C.V.") for c in ids)
    shown = [line for line in result.stdout.splitlines() if line[:1] in OUTCOME]
    assert len(shown) == len(ids)
    assert states(cli) == {"enviado": 12}


def test_one_session_goes_in_order(cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(cli, home, 6)
    with Server(Watch(delay=0.05)) as server:
        use(monkeypatch, server.port, sessions=1)
        result = send(cli)
    assert result.exit_code == 0, result.output
    assert server.handler.most_at_once == 1
    assert server.handler.statements == sorted(ids)


def test_the_rate_limit_holds_for_all_sessions_together(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 a minute with three sessions: nine statements take at least four seconds (one
    every half second), where three sessions limited each on its own would take one."""
    ids = seed(cli, home, 9)
    with Server(Watch()) as server:
        use(monkeypatch, server.port, sessions=3, rate_per_minute=120)
        result = send(cli)
    assert result.exit_code == 0, result.output
    starts = sorted(server.handler.mail_at)[: len(ids)]  # the statements' (the log's is last)
    # Each slot is 0.5 s after the last; a session late for its slot only stretches it.
    assert starts[-1] - starts[0] >= 0.9 * 0.5 * (len(ids) - 1), starts


def test_the_daily_cap_holds_for_all_sessions_together(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 10)
    with Server(Watch(delay=0.2)) as server:
        use(monkeypatch, server.port, sessions=3, daily_cap=4)
        result = send(cli)
    assert result.exit_code == 1, result.output
    assert "Se alcanzó el límite diario de 4 mensajes (smtp.daily_cap)." in result.stderr
    assert len(server.handler.statements) == 4
    assert len(set(server.handler.statements)) == 4
    assert states(cli) == {"enviado": 4, "pendiente": len(ids) - 4}


def test_uncertain_customers_in_a_row_across_sessions_stop_the_run(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that never confirms the final ".": the breaker counts the customers of
    every session; at most the sessions already in flight are added to it."""
    seed(cli, home, 12)
    with Server(Watch(delay=5.0)) as server:
        use(monkeypatch, server.port, sessions=3, timeout=0.5, stop_after_failures=3)
        result = send(cli)
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Corrida detenida:")]
    assert line.startswith(
        "Corrida detenida: 3 clientes seguidos quedaron inciertos: el servidor SMTP no "
        "confirmó el final del mensaje ("
    )
    found = states(cli)
    assert 3 <= found["incierto"] <= 3 + 2
    assert found["incierto"] + found["pendiente"] == 12


def test_customers_without_a_connection_across_sessions_stop_the_run(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(cli, home, 12)
    use(monkeypatch, free_port(), sessions=3, timeout=0.5, stop_after_failures=3)
    result = send(cli)
    assert result.exit_code == 1, result.output
    assert "Corrida detenida: el servidor SMTP no respondió a 3 clientes seguidos" in (
        result.stderr
    )
    found = states(cli)
    assert 3 <= found["fallido"] <= 3 + 2
    assert found["fallido"] + found["pendiente"] == 12


@pytest.mark.parametrize("value", ["0", "11", "tres"])
def test_sessions_out_of_range_is_refused(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ROTOMAIL_SMTP_SESSIONS", value)
    result = cli("config", "show")
    assert result.exit_code == 2, result.output
    assert "smtp.sessions" in result.output + result.stderr


def test_config_show_lists_sessions(cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROTOMAIL_SMTP_SESSIONS", raising=False)
    result = cli("config", "show")
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if line.startswith("smtp.sessions")]
    assert row.split()[:2] == ["smtp.sessions", "3"]


def test_sigterm_stops_every_session_within_seconds(cli: Cli, home: Path, tmp_path: Path) -> None:
    """Three sessions, each waiting for the server's answer to DATA: SIGTERM ends the run
    within seconds; the customers whose DATA was out are "incierto", the rest "pendiente",
    none "en curso", and the rerun sends the pending ones (the uncertain ones are left)."""
    ids = seed(cli, home, 9)
    with Sink(tmp_path / "sink.jsonl", delay=30.0) as sink:
        env = rotomail_env(sink.port, ROTOMAIL_SMTP_TIMEOUT="60", ROTOMAIL_SMTP_SESSIONS="3")
        process = start(send_args(), env, tmp_path)
        assert sink.wait_for("data", 3, 90), "three sessions never reached DATA at once"
        sink.delay = 0  # the operator's copy of the log goes through at once
        began = time.monotonic()
        process.terminate()
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - began
        code, rerun, _ = run(send_args(), env, tmp_path)
        records = sink.records()
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 143, stdout + stderr
    assert took < 20, f"took {took:.1f}s to stop"  # not the server's 30 s, nor the timeout
    assert "Traceback" not in stderr, stderr
    found = states(cli)
    assert found["incierto"] == 3 and found["pendiente"] == len(ids) - 3, found
    lines = outcome_lines(stdout)
    uncertain = [c for c in ids if ": incierto - " in lines[c]]
    assert all("la corrida recibió SIGTERM durante DATA" in lines[c] for c in uncertain)
    assert code == 1, rerun  # the uncertain ones stay to be checked
    counts = statements_by_cliente(records)
    assert all(counts[c] == 1 for c in ids if c not in uncertain), counts
    assert all(counts[c] <= 1 for c in uncertain), counts

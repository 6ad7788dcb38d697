"""Whole send runs against servers that behave like the ones customers run: a greylisting
server among hundreds of customers, connections cut in the middle of DATA, a server that
never confirms the final ".". What the SMTP server received (each message's bytes, when,
from which envelope sender), what ``history`` says, the exit code."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sample_data import COMPANY_CONFIG
from sink_server import DATE, addresses, seed
from smtp_server import HOST, Received, SmtpServer

from tests.conftest import Cli


def use_server(monkeypatch: pytest.MonkeyPatch, port: int, **extra: str) -> None:
    values = {
        "host": HOST,
        "port": str(port),
        "security": "none",
        "rate_per_minute": "0",
        "retry_wait": "0.05",
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(f"ROTOMAIL_SMTP_{name.upper()}", value)


def history(cli: Cli, run: int) -> dict[str, str]:
    result = cli("history", "--format", "json", str(run))
    assert result.exit_code == 0, result.output
    return {row["cliente"]: row["estado"] for row in json.loads(result.stdout)}


def statements(server: SmtpServer) -> list[tuple[str, Received]]:
    """(cliente, message) for every statement the server accepted (the run logs left out);
    the cliente from the attached PDF's name, ``<cliente>_<date>.pdf``."""
    found = []
    for received in server.messages:
        for part in received.message.iter_attachments():
            name = part.get_filename() or ""
            if name.endswith(".pdf"):
                found.append((name.split("_", 1)[0], received))
    return found


@pytest.mark.slow
def test_one_greylisted_recipient_among_300_does_not_slow_the_run(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 300)
    # A VERP envelope sender: the greylist opens only for the same sender again.
    config = COMPANY_CONFIG + 'bounce_address = "rebotes@example.mx"\nverp = true\n'
    (home / "config.toml").write_text(config, encoding="utf-8")
    greylisted_customer = ids[151]  # one address only
    [greylisted] = addresses(greylisted_customer)
    with SmtpServer() as server:
        server.reply_at_rcpt(greylisted, "451 4.7.1 Greylisted, try later", times=3)
        use_server(monkeypatch, server.port, round_wait="5")
        started = time.monotonic()
        result = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        finished = time.monotonic()
        sent = statements(server)
        senders = server.rcpt_senders[greylisted]
    assert result.exit_code == 0, result.output

    # Every customer exactly once, counted at the server.
    counts = Counter(cliente for cliente, _ in sent)
    assert counts == Counter(ids)
    assert set(history(cli, 1).values()) == {"enviado"}

    # The other 299 within a minute of the start; the greylisted one in the same run,
    # after three rounds of 5 s, with the same envelope sender each time.
    arrived = {cliente: received.at - started for cliente, received in sent}
    others = max(t for cliente, t in arrived.items() if cliente != greylisted_customer)
    assert others < 60, f"the other 299 took {others:.1f} s"
    assert 15 <= arrived[greylisted_customer] <= finished - started
    assert len(senders) == 4 and len(set(senders)) == 1
    assert senders[0].startswith("rebotes+")
    print(
        f"299 delivered in {others:.1f} s; the greylisted one at {arrived[greylisted_customer]:.1f} s"
    )


def test_connections_cut_before_the_final_dot_are_not_uncertain(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed(cli, home, 50)
    with SmtpServer() as server:
        server.cut_in_data(10, 25, 40)  # 354, then the connection closes
        use_server(monkeypatch, server.port)
        first = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        rerun = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
        sent = statements(server)
        cuts = server.cuts
    assert first.exit_code == 0, first.output
    assert rerun.exit_code == 0, rerun.output
    assert cuts == 3
    assert Counter(cliente for cliente, _ in sent) == Counter(ids)
    assert set(history(cli, 1).values()) == {"enviado"}
    assert set(history(cli, 2).values()) == {"omitido"}
    assert "incierto" not in first.output + rerun.output


def test_uncertain_customers_in_a_row_stop_the_run(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the content and never answers the final ".": one timeout each,
    then the run stops with one line saying why instead of going through every customer."""
    with SmtpServer() as server:
        server.hang_at_data(seconds=3.0, times=None)
        # One session: that the third customer is never tried is the point.
        use_server(monkeypatch, server.port, timeout="0.3", stop_after_failures="2", sessions="1")
        result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Corrida detenida:")]
    assert line.startswith(
        "Corrida detenida: 2 clientes seguidos quedaron inciertos: el servidor SMTP no "
        "confirmó el final del mensaje ("
    )
    assert "«rotomail send --retry-failed 1»" in line
    assert sorted(history(loaded, 1).values()) == ["incierto", "incierto", "pendiente"]

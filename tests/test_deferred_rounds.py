"""The end-of-run retry of addresses the server put off (rotomail.delivery.deferred), through
the real command line and an aiosmtpd server scripted round by round: what each round
sends, what the operator is told, the per-address rows, the claim and the history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from smtp_server import HOST, Fault, SmtpServer
from sqlalchemy import create_engine, text

from tests.conftest import Cli

DATE = "2026-11-30"
SUBJECT = "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."
AGRO = "1006210 Agroequipos del Bajío S.A. de C.V."
GREYLISTED = "450 4.2.0 Greylisted, try later"


@dataclass
class Run:
    exit_code: int
    stdout: str
    envelopes: list[list[str]]  # recipients of each message the server accepted
    message_ids: set[str]
    addresses: list[tuple[str, str, str, str]]  # correo, status, code, detail
    claim: str
    estado: str
    output: str = ""  # stdout and stderr
    run_status: str = ""


def send(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str, server: SmtpServer, **env: str
) -> Run:
    settings = {
        "HOST": HOST,
        "PORT": str(server.port),
        "SECURITY": "none",
        "RATE_PER_MINUTE": "0",
        "RETRY_WAIT": "0.01",
        "ROUND_WAIT": "0.01",
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"ROTOMAIL_SMTP_{name}", value)
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    ours = [m for m in server.messages if m.message["Subject"] == SUBJECT]
    engine = create_engine(db_url)
    with engine.connect() as connection:
        addresses = connection.execute(
            text(
                "SELECT correo, status, code, detail FROM delivery_address "
                "WHERE run_id = 1 ORDER BY correo"
            )
        ).all()
        claim = connection.execute(
            text("SELECT status FROM statement_claim WHERE cliente = '1006210'")
        ).scalar()
        run_status = connection.execute(text("SELECT status FROM send_run WHERE id = 1")).scalar()
    engine.dispose()
    history = loaded("history", "1", "--format", "json")
    assert history.exit_code == 0, history.output
    [row] = [r for r in json.loads(history.stdout) if r["cliente"] == "1006210"]
    return Run(
        result.exit_code,
        result.stdout,
        [m.rcpt_tos for m in ours],
        {str(m.message["Message-ID"]) for m in ours},
        [tuple(r) for r in addresses],  # type: ignore[misc]
        str(claim),
        row["estado"],
        result.output,
        str(run_status),
    )


def line_of(run: Run) -> str:
    [line] = [x for x in run.stdout.splitlines() if AGRO in x]
    return line


def test_a_greylisted_address_is_sent_the_same_message_at_the_end(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        run = send(loaded, monkeypatch, db_url, server)
    assert run.exit_code == 0, run.stdout
    assert run.envelopes == [["a@agro.example.mx"], ["b@agro.example.mx"]]
    assert len(run.message_ids) == 1  # the same message, not a second statement
    assert [(a, s) for a, s, _, _ in run.addresses] == [
        ("a@agro.example.mx", "accepted"),
        ("b@agro.example.mx", "accepted"),
    ]
    assert (run.claim, run.estado) == ("sent", "enviado")
    assert "Enviados     1" in run.stdout.splitlines()
    assert AGRO not in run.stdout


def test_a_customer_whose_only_address_waits_is_sent_at_the_end(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("a@agro.example.mx", GREYLISTED, times=1)
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        run = send(loaded, monkeypatch, db_url, server)
    assert run.exit_code == 0, run.stdout
    assert run.envelopes == [["a@agro.example.mx", "b@agro.example.mx"]]
    assert [s for _, s, _, _ in run.addresses] == ["accepted", "accepted"]
    assert (run.claim, run.estado) == ("sent", "enviado")


def test_still_deferred_after_every_round_is_partial(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=None)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="2")
        tries = server.rcpt_attempts["b@agro.example.mx"]
    assert run.exit_code == 1, run.stdout
    assert tries == 3  # in the run, then two rounds
    assert run.envelopes == [["a@agro.example.mx"]]
    assert run.addresses == [
        ("a@agro.example.mx", "accepted", "250 2.0.0", "250 2.0.0 Ok: queued as Q1"),
        ("b@agro.example.mx", "deferred", "450 4.2.0", GREYLISTED),
    ]
    assert (run.claim, run.estado) == ("partial", "parcial")
    assert line_of(run) == f"✓ {AGRO}: parcial - aplazados: b@agro.example.mx: {GREYLISTED}"


def test_every_address_still_deferred_is_failed(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("a@agro.example.mx", GREYLISTED, times=None)
        server.reply_at_rcpt("b@agro.example.mx", "451 4.2.2 Mailbox full", times=None)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="1")
    assert run.exit_code == 1, run.stdout
    assert run.envelopes == []
    assert [(a, s, c) for a, s, c, _ in run.addresses] == [
        ("a@agro.example.mx", "deferred", "450 4.2.0"),
        ("b@agro.example.mx", "deferred", "451 4.2.2"),
    ]
    # DATA never went out: no claim was taken, nothing keeps a later run from sending
    assert (run.claim, run.estado) == ("None", "fallido")
    assert line_of(run) == (
        f"✗ {AGRO}: fallido - aplazados: a@agro.example.mx: {GREYLISTED}; "
        "b@agro.example.mx: 451 4.2.2 Mailbox full"
    )


def test_no_rounds_leaves_the_deferred_address_for_retry_failed(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="0")
    assert run.envelopes == [["a@agro.example.mx"]]
    assert (run.claim, run.estado) == ("partial", "parcial")


@pytest.mark.parametrize(
    ("where", "reply"),
    [("rcpt", "550 5.1.1 User unknown"), ("mail", "554 5.7.1 Sender rejected")],
)
def test_a_refusal_in_a_round_is_final(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str, where: str, reply: str
) -> None:
    with SmtpServer() as server:
        server.rcpt_faults["b@agro.example.mx"] = [
            Fault(reply=GREYLISTED, times=1),
            *([Fault(reply=reply, times=None)] if where == "rcpt" else []),
        ]
        if where == "mail":
            server.mail_faults.append(Fault(times=1))  # the run's own MAIL: 250
            server.reply_at_mail(reply, times=None)
        run = send(loaded, monkeypatch, db_url, server)
    assert run.envelopes == [["a@agro.example.mx"]]
    assert [(a, s, c, d) for a, s, c, d in run.addresses] == [
        ("a@agro.example.mx", "accepted", "250 2.0.0", "250 2.0.0 Ok: queued as Q1"),
        ("b@agro.example.mx", "refused", reply[:9], reply),
    ]
    assert (run.claim, run.estado) == ("sent", "enviado")
    assert run.exit_code == 0, run.stdout


def test_a_round_answered_at_mail_with_a_4xx_keeps_the_address_waiting(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        server.mail_faults.append(Fault(times=1))
        server.reply_at_mail("451 4.3.0 Try again later", times=2)  # two rounds lost
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="3")
    assert run.exit_code == 0, run.stdout
    assert run.envelopes == [["a@agro.example.mx"], ["b@agro.example.mx"]]
    assert (run.claim, run.estado) == ("sent", "enviado")


def test_too_many_recipients_go_at_once_without_using_a_round(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.max_recipients = 1
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="0", ROUND_WAIT="600")
    assert run.exit_code == 0, run.stdout
    assert sorted(run.envelopes) == [["a@agro.example.mx"], ["b@agro.example.mx"]]
    assert (run.claim, run.estado) == ("sent", "enviado")


@pytest.mark.parametrize(("rounds", "expected"), [("0", 2), ("1", 4), ("2", 6)])
def test_too_many_recipients_every_time_ends_after_the_rounds(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str, rounds: str, expected: int
) -> None:
    """An address only ever told "too many recipients" is tried again at once (a free round)
    after the run and after each waited round; a free round that got nothing through is not
    repeated without a wait, so the run ends after ``retry_rounds``."""
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", "452 4.5.3 Too many recipients", times=None)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS=rounds)
        tries: Any = server.rcpt_attempts["b@agro.example.mx"]
    assert tries == expected
    assert (run.claim, run.estado) == ("partial", "parcial")


def test_a_round_whose_data_gets_no_answer_is_uncertain(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        server.data_faults.append(Fault(times=1))  # the run's own DATA: 250
        server.drop_at_data(times=None)
        run = send(loaded, monkeypatch, db_url, server)
    assert run.exit_code == 1, run.stdout
    assert run.envelopes == [["a@agro.example.mx"]]
    assert run.estado == "incierto"
    assert AGRO in line_of(run) and "incierto" in line_of(run)


def test_the_daily_cap_reached_in_a_round_stops_the_run_and_names_what_is_left(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """The cap stops the round as it stops the main loop (run aborted, exit 1, in the
    daily cap's own words), naming the addresses left deferred; they go out, and only
    they, with ``--retry-failed`` once the cap allows."""
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        run = send(loaded, monkeypatch, db_url, server, DAILY_CAP="1")
        assert run.envelopes == [["a@agro.example.mx"]]
        assert run.exit_code == 1, run.output
        [stop] = [x for x in run.output.splitlines() if x.startswith("Corrida detenida:")]
        assert stop == (
            "Corrida detenida: Se alcanzó el límite diario de 1 mensajes (smtp.daily_cap) en la "
            "ronda de reintentos; quedaron aplazados: 1006210 (b@agro.example.mx); reanude con "
            "«rotomail send --retry-failed 1»"
        )
        assert run.run_status == "aborted"
        assert [(a, s, c) for a, s, c, _ in run.addresses] == [
            ("a@agro.example.mx", "accepted", "250 2.0.0"),
            ("b@agro.example.mx", "deferred", "450 4.2.0"),
        ]
        assert (run.claim, run.estado) == ("partial", "parcial")
        assert line_of(run) == f"✓ {AGRO}: parcial - aplazados: b@agro.example.mx: {GREYLISTED}"

        monkeypatch.setenv("ROTOMAIL_SMTP_DAILY_CAP", "2")
        again = loaded("send", "--retry-failed", "1")
        assert again.exit_code == 0, again.output
        ours = [m.rcpt_tos for m in server.messages if m.message["Subject"] == SUBJECT]
    assert ours == [["a@agro.example.mx"], ["b@agro.example.mx"]]

"""The end-of-run retry of addresses the server put off (rotomail.delivery.deferred), through
the real command line and an aiosmtpd server scripted round by round: what each round
sends, what the operator is told, the per-address rows, the claim and the history."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from smtp_server import HOST, Fault, SmtpServer
from sqlalchemy import Connection, MetaData, Table, create_engine, insert, select, text

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


UNKNOWN = "550 5.1.1 User unknown"
FULL = "451 4.2.2 Mailbox full"


@pytest.mark.parametrize(
    ("round_a", "round_b", "rows", "claim", "estado", "line"),
    [
        (
            UNKNOWN,
            FULL,
            [("refused", UNKNOWN), ("deferred", FULL)],
            "None",
            "fallido",
            f"✗ {AGRO}: fallido - aplazados: b@agro.example.mx: {FULL}",
        ),
        (
            UNKNOWN,
            UNKNOWN,
            [("refused", UNKNOWN), ("refused", UNKNOWN)],
            "None",
            "fallido",
            f"✗ {AGRO}: fallido - a@agro.example.mx: {UNKNOWN}; b@agro.example.mx: {UNKNOWN}",
        ),
        (
            None,
            FULL,
            [("accepted", "250 2.0.0 Ok: queued as Q1"), ("deferred", FULL)],
            "partial",
            "parcial",
            f"✓ {AGRO}: parcial - aplazados: b@agro.example.mx: {FULL}",
        ),
        (
            None,
            UNKNOWN,
            [("accepted", "250 2.0.0 Ok: queued as Q1"), ("refused", UNKNOWN)],
            "sent",
            "enviado",
            f"✓ {AGRO} → a@agro.example.mx;b@agro.example.mx "
            f"(rechazados: b@agro.example.mx ({UNKNOWN}))",
        ),
    ],
    ids=["refused-and-put-off", "both-refused", "accepted-and-put-off", "accepted-and-refused"],
)
def test_each_address_ends_with_the_last_answer_the_rounds_got(
    loaded: Cli,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    round_a: str | None,
    round_b: str,
    rows: list[tuple[str, str]],
    claim: str,
    estado: str,
    line: str,
) -> None:
    """Both addresses greylisted in the run; the one round answers each its own way (a
    new 4xx replaces the greylisting reply: the operator sees what the server said last)."""
    with SmtpServer() as server:
        server.rcpt_faults["a@agro.example.mx"] = [
            Fault(reply=GREYLISTED, times=1),
            *([Fault(reply=round_a, times=None)] if round_a else []),
        ]
        server.rcpt_faults["b@agro.example.mx"] = [
            Fault(reply=GREYLISTED, times=1),
            Fault(reply=round_b, times=None),
        ]
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="1")
    assert run.envelopes == ([["a@agro.example.mx"]] if round_a is None else [])
    assert [(s, d) for _, s, _, d in run.addresses] == rows
    assert [c for _, _, c, _ in run.addresses] == [d[:9] for _, d in rows]
    assert (run.claim, run.estado) == (claim, estado)
    assert line_of(run) == line
    assert run.exit_code == (0 if estado == "enviado" else 1), run.output


def test_every_round_waits_round_wait_and_none_follows_the_last_address(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Greylisting lets a retry through only after a while: each round waits
    ``round_wait``; once no address is left, the run ends without waiting again."""
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="3", ROUND_WAIT="1.5")
        [a, b] = [m for m in server.messages if m.message["Subject"] == SUBJECT]
        [log] = [m for m in server.messages if m.rcpt_tos == ["operador@example.mx"]]
    assert (a.rcpt_tos, b.rcpt_tos) == (["a@agro.example.mx"], ["b@agro.example.mx"])
    assert b.at - a.at >= 1.5
    assert log.at - b.at < 1.5  # the operator's log mail goes out at once
    assert (run.claim, run.estado) == ("sent", "enviado")


def test_one_recipient_per_transaction_each_free_round_sends_the_next(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """A server that takes one RCPT per transaction: each free round (no wait, no round
    used) gets one more address through, until none is left."""
    addresses = "a@agro.example.mx;b@agro.example.mx;c@agro.example.mx"
    assert loaded("catalog", "add", "SM02", "1006210", addresses).exit_code == 0
    with SmtpServer() as server:
        server.max_recipients = 1
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="0", ROUND_WAIT="600")
    assert run.envelopes == [["a@agro.example.mx"], ["b@agro.example.mx"], ["c@agro.example.mx"]]
    assert [(a, s) for a, s, _, _ in run.addresses] == [
        ("a@agro.example.mx", "accepted"),
        ("b@agro.example.mx", "accepted"),
        ("c@agro.example.mx", "accepted"),
    ]
    assert (run.claim, run.estado, run.exit_code) == ("sent", "enviado", 0)


@contextmanager
def once_waiting(
    db_url: str, act: Callable[[Connection], None], accepted: int = 1
) -> Iterator[None]:
    """``act`` (in another thread, with a connection to the database) as soon as the
    customer is recorded as waiting for the rounds with ``accepted`` addresses accepted:
    what an operator or another run could do while this run waits ``round_wait``."""
    done = threading.Event()

    def watch() -> None:
        engine = create_engine(db_url)
        try:
            while not done.wait(0.05):
                with engine.begin() as connection:
                    status = connection.execute(
                        text("SELECT status FROM delivery WHERE run_id = 1 AND cliente = '1006210'")
                    ).scalar()
                    taken = connection.execute(
                        text(
                            "SELECT count(*) FROM delivery_address "
                            "WHERE run_id = 1 AND status = 'accepted'"
                        )
                    ).scalar()
                    if status == "partial" and taken == accepted:
                        act(connection)
                        return
        finally:
            engine.dispose()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


@contextmanager
def sigterm_once_waiting(db_url: str, seen: list[tuple[str, str]], accepted: int) -> Iterator[None]:
    """SIGTERM to this process (the command runs in it) once the customer waits for the
    rounds, as an operator stopping the run then would; ``seen`` gets the customer's
    (status, detail) as history showed it. A signal after the run is ignored, not fatal."""

    def stop(connection: Connection) -> None:
        row = connection.execute(
            text("SELECT status, detail FROM delivery WHERE run_id = 1 AND cliente = '1006210'")
        ).one()
        seen.append((row[0], row[1]))
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        with once_waiting(db_url, stop, accepted):
            yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(
    ("put_off_at", "waiting", "rows", "claim", "again", "sent_again"),
    [
        (
            "rcpt",
            "1 dirección(es) aplazada(s)",
            [("accepted", "250 2.0.0"), ("deferred", "450 4.2.0")],
            "partial",
            ("--retry-failed", "1"),
            ["b@agro.example.mx"],
        ),
        (
            "data",
            "2 dirección(es) aplazada(s)",
            [("deferred", "451 4.3.0"), ("deferred", "451 4.3.0")],
            "failed",
            ("--sociedad", "SM02", "--cliente", "1006210", "--date", DATE),
            ["a@agro.example.mx", "b@agro.example.mx"],
        ),
        (
            "round",
            "2 dirección(es) aplazada(s)",
            [("accepted", "250 2.0.0"), ("deferred", "450 4.2.0")],
            "partial",
            ("--retry-failed", "1"),
            ["b@agro.example.mx"],
        ),
    ],
    ids=["rcpt", "data", "round"],
)
def test_a_run_stopped_while_it_waits_for_a_round_loses_no_address(
    loaded: Cli,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    put_off_at: str,
    waiting: str,
    rows: list[tuple[str, str]],
    claim: str,
    again: tuple[str, ...],
    sent_again: list[str],
) -> None:
    """While the run waits ``round_wait`` for its rounds, history says what waits; stopped
    then, the addresses stay deferred and the claim says what the next run may do: some
    address accepted, in the run or in a round, "partial" (``--retry-failed`` sends to the
    others only); the DATA put off, nothing accepted, the claim released ("failed": the
    next run sends it again)."""
    seen: list[tuple[str, str]] = []
    with SmtpServer() as server:
        if put_off_at == "rcpt":
            server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        elif put_off_at == "data":
            server.reply_at_data("451 4.3.0 Try again later", times=1)
        else:  # both put off in the run; a free round gets a through, b waits for the next
            server.reply_at_rcpt("a@agro.example.mx", "452 4.5.3 Too many recipients", times=1)
            server.rcpt_faults["b@agro.example.mx"] = [
                Fault(reply="452 4.5.3 Too many recipients", times=1),
                Fault(reply=GREYLISTED, times=1),
            ]
        with sigterm_once_waiting(db_url, seen, sum(s == "accepted" for s, _ in rows)):
            run = send(loaded, monkeypatch, db_url, server, ROUND_WAIT="60")
        assert run.exit_code == 143, run.output
        assert seen == [
            ("partial", f"{waiting} por el servidor; se reintentan al final de la corrida")
        ]
        assert [(s, c) for _, s, c, _ in run.addresses] == rows
        assert run.claim == claim
        before = len(server.messages)
        monkeypatch.setenv("ROTOMAIL_SMTP_ROUND_WAIT", "0.01")
        result = loaded("send", *again)
        assert result.exit_code == 0, result.output
        ours = [m.rcpt_tos for m in server.messages[before:] if m.message["Subject"] == SUBJECT]
    assert ours == [sent_again]


def test_a_customer_another_run_sent_during_the_wait_is_not_sent_again(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Another run (an operator's ``--force``) sends the customer while this one waits for
    its round: the round finds the claim taken and sends nothing; the customer is reported
    skipped, its address left deferred in this run's rows."""

    def other_run_sends_it(connection: Connection) -> None:
        runs = Table("send_run", MetaData(), autoload_with=connection)
        first = connection.execute(select(runs).where(runs.c.id == 1)).one()._asdict()
        connection.execute(insert(runs).values({**first, "id": 2, "status": "finished"}))
        connection.execute(
            text("UPDATE statement_claim SET run_id = 2, status = 'sent' WHERE cliente = '1006210'")
        )

    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        with once_waiting(db_url, other_run_sends_it):
            run = send(loaded, monkeypatch, db_url, server, ROUND_WAIT="3")
    assert run.envelopes == [["a@agro.example.mx"]]
    assert [(a, s) for a, s, _, _ in run.addresses] == [
        ("a@agro.example.mx", "accepted"),
        ("b@agro.example.mx", "deferred"),
    ]
    assert run.claim == "sent"  # the other run's
    assert line_of(run) == f"– {AGRO}: omitido - en proceso en la corrida 2"
    assert run.estado == "omitido"


def test_retry_failed_for_an_address_greylisted_again_sends_it_in_that_runs_round(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """``send --retry-failed`` for the address left deferred, put off once more by the
    greylisting: that run's own round takes over the first run's partial claim and sends it."""
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=2)
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="0")
        assert (run.claim, run.estado) == ("partial", "parcial")
        monkeypatch.setenv("ROTOMAIL_SMTP_RETRY_ROUNDS", "1")
        again = loaded("send", "--retry-failed", "1")
        ours = [m.rcpt_tos for m in server.messages if m.message["Subject"] == SUBJECT]
    assert again.exit_code == 0, again.output
    assert ours == [["a@agro.example.mx"], ["b@agro.example.mx"]]
    history = loaded("history", "2", "--format", "json")
    assert [r["estado"] for r in json.loads(history.stdout) if r["cliente"] == "1006210"] == [
        "enviado"
    ]


def test_the_daily_cap_in_a_round_names_every_address_left_of_every_customer(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each customer sends one message in the run (the cap, 2) and keeps addresses put
    off: the round's first message stops the run, and the line names them all."""
    for cliente, addresses in [
        ("1004273", "pagos@ferrelopez.example.mx;cobranza@ferrelopez.example.mx"),
        ("1006210", "a@agro.example.mx;b@agro.example.mx;c@agro.example.mx"),
    ]:
        assert loaded("catalog", "add", "SM02", cliente, addresses).exit_code == 0
    with SmtpServer() as server:
        for address in ("cobranza@ferrelopez.example.mx", "b@agro.example.mx", "c@agro.example.mx"):
            server.reply_at_rcpt(address, GREYLISTED, times=1)
        for name, value in {
            "HOST": HOST,
            "PORT": str(server.port),
            "SECURITY": "none",
            "RATE_PER_MINUTE": "0",
            "ROUND_WAIT": "0.01",
            "DAILY_CAP": "2",
        }.items():
            monkeypatch.setenv(f"ROTOMAIL_SMTP_{name}", value)
        result = loaded(
            "send",
            "--sociedad",
            "SM02",
            "--cliente",
            "1004273",
            "--cliente",
            "1006210",
            "--date",
            DATE,
        )
        sent = sorted(m.rcpt_tos for m in server.messages if m.message["Subject"] == SUBJECT)
    assert result.exit_code == 1, result.output
    [stop] = [x for x in result.stderr.splitlines() if x.startswith("Corrida detenida:")]
    head = (
        "Corrida detenida: Se alcanzó el límite diario de 2 mensajes (smtp.daily_cap) en la "
        "ronda de reintentos; quedaron aplazados: "
    )
    tail = "; reanude con «rotomail send --retry-failed 1»"
    assert stop.startswith(head) and stop.endswith(tail), stop
    # the customers in the order the run met them
    assert set(stop.removeprefix(head).removesuffix(tail).split("; ")) == {
        "1004273 (cobranza@ferrelopez.example.mx)",
        "1006210 (b@agro.example.mx, c@agro.example.mx)",
    }
    assert sent == [["a@agro.example.mx"], ["pagos@ferrelopez.example.mx"]]


def test_a_round_put_off_at_mail_is_tried_again_by_the_next_round_only(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Each round is one try: a greylisting server counts every try, so a round put off at
    MAIL is not retried at once (``retry_wait``) but by the next round, ``round_wait`` later."""
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", GREYLISTED, times=1)
        server.mail_faults.append(Fault(times=1))  # the run's own MAIL: 250
        server.reply_at_mail("451 4.3.0 Try again later", times=1)  # the first round's
        run = send(loaded, monkeypatch, db_url, server, RETRY_ROUNDS="2", ROUND_WAIT="1")
        [a, b] = [m for m in server.messages if m.message["Subject"] == SUBJECT]
    assert (a.rcpt_tos, b.rcpt_tos) == (["a@agro.example.mx"], ["b@agro.example.mx"])
    assert b.at - a.at >= 2.0  # two rounds, each after round_wait
    assert (run.claim, run.estado, run.exit_code) == ("sent", "enviado", 0)

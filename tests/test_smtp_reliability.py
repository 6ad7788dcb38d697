"""Send runs against servers that put recipients off, refuse or never answer, and addresses
with accents: what the server received, what history and ``delivery_address`` say, the exit
code. Real aiosmtpd, or a raw socket server for what aiosmtpd cannot do (a 421 greeting,
silence)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from smtp_server import HOST, SmtpServer, free_port
from sqlalchemy import create_engine, text

from tests.conftest import Cli

DATE = "2026-11-30"
SUBJECT = "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."
MANY = [f"compras{n:03d}@agro.example.mx" for n in range(200)]


def use_server(monkeypatch: pytest.MonkeyPatch, port: int, **extra: str) -> None:
    monkeypatch.setenv("ROTOMAIL_SMTP_HOST", HOST)
    monkeypatch.setenv("ROTOMAIL_SMTP_PORT", str(port))
    monkeypatch.setenv("ROTOMAIL_SMTP_SECURITY", "none")
    monkeypatch.setenv("ROTOMAIL_SMTP_RATE_PER_MINUTE", "0")
    monkeypatch.setenv("ROTOMAIL_SMTP_RETRY_WAIT", "0.01")
    monkeypatch.setenv("ROTOMAIL_SMTP_ROUND_WAIT", "0.01")
    for name, value in extra.items():
        monkeypatch.setenv(f"ROTOMAIL_SMTP_{name.upper()}", value)


def history(cli: Cli, run: int) -> list[dict]:
    result = cli("history", "--format", "json", str(run))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def addresses(db_url: str, run: int) -> dict[str, tuple[str, str]]:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT correo, status, code FROM delivery_address WHERE run_id = :r"),
            {"r": run},
        ).all()
    engine.dispose()
    return {correo: (status, code) for correo, status, code in rows}


def statements(server: SmtpServer) -> list:
    return [m for m in server.messages if m.message["Subject"] == SUBJECT]


# --- deferred recipients -------------------------------------------------------------------


def test_452_after_100_recipients_the_rest_get_it_at_the_end_of_the_run(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    assert loaded("catalog", "add", "SM02", "1006210", ";".join(MANY)).exit_code == 0
    with SmtpServer(max_recipients=100) as server:
        use_server(monkeypatch, server.port)
        result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
        sent = statements(server)
    assert result.exit_code == 0, result.output
    assert {row["cliente"]: row["estado"] for row in history(loaded, 1)}["1006210"] == "enviado"
    agro = [m for m in sent if "compras000@agro.example.mx" in m.rcpt_tos or len(m.rcpt_tos) > 1]
    assert [len(m.rcpt_tos) for m in agro] == [100, 100]
    assert sorted(agro[0].rcpt_tos + agro[1].rcpt_tos) == sorted(MANY)
    # The same message, same Message-ID, and it was the last one of the run's statements.
    assert agro[0].message["Message-ID"] == agro[1].message["Message-ID"]
    assert sent[-1] is agro[1]
    rows = addresses(db_url, 1)
    assert {rows[a] for a in MANY} == {("accepted", "250 2.0.0")}


def test_greylisting_450_is_retried_until_accepted(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", "450 4.2.0 Greylisted, try later", times=2)
        use_server(monkeypatch, server.port)
        result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
        sent = statements(server)
        tries = server.rcpt_attempts["b@agro.example.mx"]
    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in sent] == [["a@agro.example.mx"], ["b@agro.example.mx"]]
    assert tries == 3
    assert history(loaded, 1)[0]["estado"] == "enviado"
    assert addresses(db_url, 1) == {
        "a@agro.example.mx": ("accepted", "250 2.0.0"),
        "b@agro.example.mx": ("accepted", "250 2.0.0"),
    }


def test_still_deferred_is_partial_and_retry_failed_sends_only_to_that_address(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", "450 4.2.0 Greylisted, try later", times=None)
        use_server(monkeypatch, server.port)
        first = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
        assert first.exit_code == 1, first.output
        assert "parcial - aplazados: b@agro.example.mx: 450 4.2.0 Greylisted" in first.stdout
        assert {r["cliente"]: r["estado"] for r in history(loaded, 1)}["1006210"] == "parcial"
        assert addresses(db_url, 1)["b@agro.example.mx"] == ("deferred", "450 4.2.0")
        # A plain rerun does not send the statement again to anyone.
        rerun = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
        assert "parcial en la corrida 1: use --retry-failed 1" in rerun.stdout
        server.rcpt_faults.clear()
        before = len(statements(server))
        retry = loaded("send", "--retry-failed", "1", "--all")
        sent = statements(server)[before:]
    assert retry.exit_code == 0, retry.output
    assert [m.rcpt_tos for m in sent] == [["b@agro.example.mx"]]
    assert history(loaded, 3)[0]["estado"] == "enviado"


def test_one_address_refused_for_good_while_another_is_deferred_then_accepted(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("a@agro.example.mx", "550 5.1.1 No such user")
        server.reply_at_rcpt("b@agro.example.mx", "451 4.3.0 Try later", times=3)
        use_server(monkeypatch, server.port)
        result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
        sent = statements(server)
    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in sent] == [["b@agro.example.mx"]]
    [row] = history(loaded, 1)
    assert row["estado"] == "enviado"
    assert "a@agro.example.mx: 550 5.1.1 No such user" in row["rechazados"]
    assert addresses(db_url, 1) == {
        "a@agro.example.mx": ("refused", "550 5.1.1"),
        "b@agro.example.mx": ("accepted", "250 2.0.0"),
    }


def test_every_address_refused_is_failed_with_a_row_per_address(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    with SmtpServer() as server:
        server.reply_at_rcpt("a@agro.example.mx", "550 5.1.1 No such user")
        server.reply_at_rcpt("b@agro.example.mx", "553 5.1.3 Bad address")
        use_server(monkeypatch, server.port)
        result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
    assert result.exit_code == 1, result.output
    assert history(loaded, 1)[0]["estado"] == "fallido"
    assert addresses(db_url, 1) == {
        "a@agro.example.mx": ("refused", "550 5.1.1"),
        "b@agro.example.mx": ("refused", "553 5.1.3"),
    }


# --- servers that do not answer: the run stops -----------------------------------------------


class RawServer:
    """Accepts connections and either says ``greeting`` and hangs up, or says nothing."""

    def __init__(self, greeting: bytes | None) -> None:
        self.greeting = greeting
        self.port = free_port()
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, self.port))
        self.sock.listen(50)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.greeting is not None:
                client.sendall(self.greeting)
                client.close()
            else:
                self.open.append(client)  # silence until the client gives up

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for client in self.open:
            client.close()
        self.sock.close()


@pytest.fixture(params=["refused", "421", "silent"])
def dead_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, RawServer | None, int]]:
    if request.param == "refused":
        yield request.param, None, free_port()  # nothing listens there
        return
    greeting = b"421 4.3.2 Service not available, closing channel\r\n"
    server = RawServer(greeting if request.param == "421" else None)
    yield request.param, server, server.port
    server.close()


def test_customers_in_a_row_without_a_connection_stop_the_run(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, dead_server: tuple[str, RawServer | None, int]
) -> None:
    kind, server, port = dead_server
    # One session: the order (the third customer never tried) and the count of connections
    # are the point; test_sessions.py has the breaker across sessions.
    use_server(monkeypatch, port, timeout="0.5", stop_after_failures="2", sessions="1")
    started = time.monotonic()
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert "Corrida detenida: el servidor SMTP no respondió a 2 clientes seguidos" in result.stderr
    assert "reanude con «rotomail send --retry-failed 1»" in result.stderr
    assert sorted(r["estado"] for r in history(loaded, 1)) == ["fallido", "fallido", "pendiente"]
    if server is not None:
        # 3 tries for the first customer, 1 for the second (not 3 each), and 3 for the
        # operator's log, which has a transport of its own.
        assert server.connections == 7
    if kind == "silent":
        # Each silent connection costs one timeout: 7 of them, where the run used to try
        # every customer 3 times (12 timeouts with the log's 3, more with more customers).
        assert elapsed < 7 * 0.5 + 10.0


def test_one_unreachable_customer_among_working_ones_does_not_stop_the_run(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer() as server:
        server.reply_at_mail("421 4.3.2 Busy", times=1)  # counts as a failed customer only
        use_server(monkeypatch, server.port, attempts="1", stop_after_failures="1")
        result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert "Corrida detenida" not in result.stderr
    assert sorted(r["estado"] for r in history(loaded, 1)) == ["enviado", "enviado", "fallido"]


# --- addresses with accents -----------------------------------------------------------------


def test_idn_domain_goes_as_punycode_and_shows_in_unicode(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    assert loaded("catalog", "add", "SM02", "1004273", "pagos@compañía.example.mx")
    with SmtpServer() as server:
        use_server(monkeypatch, server.port)
        result = loaded(
            "send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE, "--verbose"
        )
        sent = statements(server)
    assert result.exit_code == 0, result.output
    assert [m.rcpt_tos for m in sent] == [["pagos@xn--compaa-7va5a.example.mx"]]
    assert "xn--compaa-7va5a.example.mx" in str(sent[0].message["To"])
    assert "→ pagos@compañía.example.mx" in result.stdout
    assert history(loaded, 1)[0]["correos"] == "pagos@compañía.example.mx"
    assert addresses(db_url, 1) == {"pagos@compañía.example.mx": ("accepted", "250 2.0.0")}


def test_accented_local_part_is_accepted_with_a_warning(loaded: Cli) -> None:
    result = loaded("catalog", "add", "SM02", "1004273", "josé.pérez@example.mx;pagos@example.mx")
    assert result.exit_code == 0, result.output
    assert (
        "Aviso: josé.pérez@example.mx lleva caracteres no ASCII antes de la @: solo se entrega "
        "por un servidor SMTP que ofrezca SMTPUTF8."
    ) in result.stderr


@pytest.mark.parametrize("smtputf8", [False, True])
def test_accented_local_part_needs_smtputf8_the_other_addresses_still_go(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str, smtputf8: bool
) -> None:
    correos = "josé.pérez@example.mx;pagos@example.mx"
    assert loaded("catalog", "add", "SM02", "1004273", correos).exit_code == 0
    with SmtpServer(smtputf8=smtputf8) as server:
        use_server(monkeypatch, server.port)
        result = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
        sent = statements(server)
    assert result.exit_code == 0, result.output
    rows = addresses(db_url, 1)
    # Only the address with accents is encoded in To; the other stays readable.
    assert "pagos@example.mx" in sent[0].data.split(b"\r\n\r\n")[0].decode("ascii")
    assert sent[0].message["To"] == "josé.pérez@example.mx, pagos@example.mx"
    if smtputf8:
        assert [m.rcpt_tos for m in sent] == [["josé.pérez@example.mx", "pagos@example.mx"]]
        assert rows["josé.pérez@example.mx"] == ("accepted", "250 2.0.0")
    else:
        assert [m.rcpt_tos for m in sent] == [["pagos@example.mx"]]
        assert rows["josé.pérez@example.mx"] == ("refused", "553 5.6.7")
        assert "josé.pérez@example.mx (553 5.6.7 el servidor no ofrece SMTPUTF8" in result.stdout

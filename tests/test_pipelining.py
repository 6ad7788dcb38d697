"""PIPELINING (RFC 2920): with a server that offers it, MAIL and every RCPT go in one write
and their replies come back together, so a message costs three round trips (MAIL+RCPTs,
DATA, the content) instead of one per command. Measured through a proxy that delays every
chunk each way, as a relay a WAN away does; the answers per recipient stay the same."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sample_data import COMPANY
from smtp_server import HOST, SmtpServer, free_port

from rotomail.delivery.mailer import SmtpTransport
from rotomail.delivery.messages import build_statement_message

ONE_WAY = 0.025  # seconds each way: a 50 ms round trip
RECIPIENTS = ["a@uno.example.mx", "b@dos.example.mx", "c@tres.example.mx", "d@cuatro.example.mx"]


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Forward what ``source`` sends to ``target``, each chunk ONE_WAY seconds late, in order."""
    due: queue.Queue[tuple[float, bytes]] = queue.Queue()

    def send() -> None:
        while True:
            when, chunk = due.get()
            time.sleep(max(0.0, when - time.monotonic()))
            if not chunk:
                target.shutdown(socket.SHUT_WR)
                return
            target.sendall(chunk)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        while chunk := source.recv(65536):
            due.put((time.monotonic() + ONE_WAY, chunk))
    except OSError:
        pass
    due.put((time.monotonic() + ONE_WAY, b""))


@contextmanager
def delayed(port: int) -> Iterator[int]:
    """A proxy to 127.0.0.1:``port`` adding ONE_WAY each way; yields its own port."""
    listener = socket.create_server((HOST, free_port()))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection((HOST, port))
            for end in (client, upstream):  # the proxy adds its delay and nothing else
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def message_time(pipelining: bool) -> tuple[float, list[str], dict[str, str]]:
    """Seconds for one message on an open session (the second of two), and its answers."""
    message = build_statement_message(COMPANY, "Cliente", RECIPIENTS, b"%PDF-1.4\n", "x.pdf")
    with SmtpServer(pipelining=pipelining) as server:
        server.reply_at_rcpt(RECIPIENTS[1], "550 5.1.1 No such user", times=None)
        server.reply_at_rcpt(RECIPIENTS[2], "451 4.7.1 Greylisted, try later", times=None)
        with delayed(server.port) as port, SmtpTransport(server.settings(port=port), None) as t:
            t.deliver(message)
            started = time.monotonic()
            delivery = t.deliver(message)
            elapsed = time.monotonic() - started
        assert [m.rcpt_tos for m in server.messages] == [[RECIPIENTS[0], RECIPIENTS[3]]] * 2
    return elapsed, delivery.accepted, {**delivery.refused, **delivery.deferred}


@pytest.mark.slow
def test_pipelining_sends_mail_and_rcpts_in_one_round_trip() -> None:
    plain, plain_accepted, plain_answers = message_time(pipelining=False)
    piped, piped_accepted, piped_answers = message_time(pipelining=True)
    # The same answer per recipient either way.
    assert piped_accepted == plain_accepted == [RECIPIENTS[0], RECIPIENTS[3]]
    assert piped_answers == plain_answers
    assert set(piped_answers) == {RECIPIENTS[1], RECIPIENTS[2]}
    round_trip = 2 * ONE_WAY
    # Without: MAIL, 4 RCPTs, DATA, the content = 7 round trips; with: 3.
    assert plain >= 7 * round_trip
    assert piped < 0.7 * plain, f"pipelined {piped:.3f} s, not {plain:.3f} s"
    print(f"one message, 4 recipients, 50 ms RTT: {plain * 1000:.0f} ms -> {piped * 1000:.0f} ms")

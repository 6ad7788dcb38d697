"""An SMTP sink for the benchmarks: aiosmtpd on 127.0.0.1 that accepts and discards mail.

    python tests/benchmarks/smtp_sink.py [--pipelining]

Run by tests/benchmarks/run.py in a process of its own (so that receiving mail does not
compete for the GIL with the process being measured). Prints ``READY <port>`` once it
listens, then answers commands read from standard input, one per line:

* ``count`` -> ``<messages> <connections> <bytes>`` received so far;
* ``quit`` (or end of input) -> stops.

Each message is read in full (DATA) and counted; nothing is kept. ``--pipelining`` offers
PIPELINING (RFC 2920), as Exchange Online, Gmail, Postfix and SES do.
"""

from __future__ import annotations

import socket
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class Counter:
    def __init__(self, pipelining: bool = False) -> None:
        self.pipelining = pipelining
        self.messages = 0
        self.connections = 0
        self.bytes = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        return f"250 2.0.0 Ok: queued as B{self.messages}"


class _Controller(Controller):
    def __init__(self, counter: Counter, **kwargs: object) -> None:
        self.counter = counter
        super().__init__(counter, **kwargs)  # type: ignore[arg-type]

    def factory(self) -> SMTP:
        self.counter.connections += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def main() -> None:
    counter = Counter(pipelining="--pipelining" in sys.argv[1:])
    controller = None
    for _ in range(10):
        port = free_port()
        controller = _Controller(
            counter,
            hostname=HOST,
            port=port,
            server_hostname="sink.example.com",
            data_size_limit=0,  # no limit
        )
        try:
            controller.start()
        except OSError:
            controller = None
            continue
        break
    if controller is None:
        sys.exit("no free port for the SMTP sink")
    counter.connections = 0  # Controller.start() connects once to check the server
    print(f"READY {port}", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                print(f"{counter.messages} {counter.connections} {counter.bytes}", flush=True)
            elif command == "quit":
                break
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

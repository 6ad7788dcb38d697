"""A TCP proxy that delays every chunk by a fixed time each way: a relay a WAN away.

    python tests/benchmarks/delay_proxy.py TARGET_PORT [--delay-ms 25]

Listens on 127.0.0.1 (a free port, printed as ``READY <port>``), forwards each connection to
127.0.0.1:TARGET_PORT, and holds every chunk read in either direction for ``--delay-ms``
before writing it on (25 ms each way = a 50 ms round trip). Latency only: chunks are not
throttled, and their order is kept. Stops at end of standard input (or ``quit``).
Run by tests/benchmarks/run.py (``--only relay``) in a process of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys

HOST = "127.0.0.1"


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def write() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    writing = asyncio.create_task(write())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await writing
    except (ConnectionError, OSError):
        writing.cancel()
    finally:
        writer.close()


def no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def serve(target: int, delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(HOST, target)
        except OSError:
            client_w.close()
            return
        no_delay(client_w)
        no_delay(server_w)
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopping
            await asyncio.gather(
                pump(client_r, server_w, delay),
                pump(server_r, client_w, delay),
                return_exceptions=True,
            )

    server = await asyncio.start_server(handle, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    loop = asyncio.get_running_loop()
    # Stop at end of input or "quit" (read in a thread: stdin is not a socket).
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            break
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=int, help="the port to forward to, on 127.0.0.1")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="delay each way (25)")
    args = parser.parse_args()
    asyncio.run(serve(args.target, args.delay_ms / 1000))


if __name__ == "__main__":
    main()

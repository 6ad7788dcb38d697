"""An SMTP sink for the tests that run real ``rotomail`` processes (crash, concurrency).

Every accepted message is appended as one JSON line to an output file, flushed and fsynced
*before* the final 250 reply, so the file is the ground truth of what the server took
responsibility for, whatever happens to the client afterwards::

    {"n": 3, "rcpt_tos": [...], "mail_from": "...", "message_id": "<...>",
     "subject": "...", "attachment": "1006210_20261130.pdf", "peer": "127.0.0.1:40312"}

``delay`` (seconds) slows the answer to DATA so that kills land mid-DATA: half of it is
spent after the content arrived and before the message is recorded (a client killed then
leaves nothing behind: aiosmtpd cancels the handler when the connection drops), the other
half after recording and before the 250 (a client killed then never learns that the
message was accepted: the classic uncertain case).

In the test process (a thread)::

    with Sink(tmp_path / "sink.jsonl", delay=0.2) as sink:
        ... sink.port ...
        sink.wait_for("data", 3, timeout=10)  # the 3rd message content has arrived
        sink.records()                        # what was accepted

Standalone (a subprocess)::

    python tests/sink_server.py PORT OUTFILE [--delay SECONDS]

This module also holds the small helpers those tests share to seed a ROTOMAIL_HOME with
many customers and to start ``rotomail`` as real processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sample_data import COMPANY_CONFIG as CONFIG

HOST = "127.0.0.1"
LOG_SUBJECT_PREFIX = "Log "  # the operator's copy of the run log (templates/es/log.subject)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def describe_message(data: bytes) -> dict[str, Any]:
    """Subject, Message-ID and the first attachment's file name of a raw message."""
    parsed = BytesParser(policy=policy.default).parsebytes(data)
    attachment = ""
    for part in parsed.iter_attachments():  # type: ignore[attr-defined]
        attachment = part.get_filename() or ""
        break
    return {
        "message_id": str(parsed.get("Message-ID", "")),
        "subject": str(parsed.get("Subject", "")),
        "attachment": attachment,
    }


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        self.sink._event("rcpt")
        if self.sink.rcpt_delay:
            await asyncio.sleep(self.sink.rcpt_delay)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.sink._event("data")
        half = self.sink.delay / 2
        if half:
            await asyncio.sleep(half)
        if self.sink.attachments is not None:
            self.sink.keep_attachment(envelope.original_content or b"")
        record = {
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_from": str(envelope.mail_from),
            **describe_message(envelope.original_content or b""),
            "peer": ":".join(str(p) for p in (session.peer or ())),
        }
        n = self.sink._append(record)
        if half:
            await asyncio.sleep(half)
        return f"250 2.0.0 Ok: queued as S{n}"


class Sink:
    """aiosmtpd on 127.0.0.1 in a thread; appends each accepted message to ``outfile``."""

    def __init__(
        self,
        outfile: Path,
        *,
        delay: float = 0.0,
        rcpt_delay: float = 0.0,
        port: int = 0,
        attachments: Path | None = None,
    ) -> None:
        self.outfile = Path(outfile)
        self.attachments = attachments  # a folder: each message's attachment kept there
        self._kept = 0
        self.delay = delay
        self.rcpt_delay = rcpt_delay
        self.port = port or free_port()
        self._fixed_port = bool(port)
        self.host = HOST
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._count = 0
        self.events: Counter[str] = Counter()  # rcpt, data (content arrived), accepted
        self._controller: Controller | None = None

    # -- recording ------------------------------------------------------------------

    def _event(self, kind: str) -> None:
        with self._changed:
            self.events[kind] += 1
            self._changed.notify_all()

    def _append(self, record: dict[str, Any]) -> int:
        with self._changed:
            self._count += 1
            record = {"n": self._count, **record}
            with self.outfile.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self.events["accepted"] += 1
            self._changed.notify_all()
            return self._count

    def keep_attachment(self, data: bytes) -> None:
        """The first attachment of a message, as ``<n>_<file name>`` in ``attachments``."""
        assert self.attachments is not None
        parsed = BytesParser(policy=policy.default).parsebytes(data)
        for part in parsed.iter_attachments():  # type: ignore[attr-defined]
            with self._lock:
                self._kept += 1
                name = f"{self._kept}_{part.get_filename()}"
            self.attachments.mkdir(parents=True, exist_ok=True)
            (self.attachments / name).write_bytes(part.get_payload(decode=True))
            return

    def wait_for(self, kind: str, count: int, timeout: float) -> bool:
        """Block until ``events[kind] >= count``; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.events[kind] >= count, timeout)

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.outfile)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> Sink:
        self.outfile.parent.mkdir(parents=True, exist_ok=True)
        self.outfile.touch()
        for _ in range(5):  # another process may grab the free port in between
            controller = Controller(_Handler(self), hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                if self._fixed_port:
                    raise
                self.port = free_port()
                continue
            self._controller = controller
            return self
        raise RuntimeError("no free port for the sink")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def read_records(outfile: Path) -> list[dict[str, Any]]:
    if not outfile.exists():
        return []
    lines = outfile.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def statements_by_cliente(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """cliente -> statements received; the operator's log messages are left out.

    A statement's attachment is ``<cliente>_<AAAAMMDD>.pdf``.
    """
    counts: Counter[str] = Counter()
    for record in records:
        if str(record["subject"]).startswith(LOG_SUBJECT_PREFIX):
            continue
        counts[str(record["attachment"]).split("_", 1)[0]] += 1
    return counts


# --- seeding a home and running rotomail as real processes ---------------------------

SOCIEDAD = "SM02"
DATE = "2026-11-30"
OPERATOR_EMAIL = "operador@example.mx"


def clientes(count: int) -> list[str]:
    return [str(2000001 + i) for i in range(count)]


def addresses(cliente: str) -> list[str]:
    """One or two addresses per customer (a statement is one message to all of them)."""
    first = f"cxc{cliente}@cliente{cliente}.example.mx"
    return (
        [first, f"pagos{cliente}@cliente{cliente}.example.mx"] if int(cliente) % 3 == 0 else [first]
    )


def seed(cli: Any, home: Path, count: int) -> list[str]:
    """config.toml, ``count`` SM02 customers with open items and a catalog entry each.

    ``cli`` is the in-process runner of tests/conftest.py (fast: no process start-up).
    """
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    ids = clientes(count)
    master = "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n" + "".join(
        f"SM02\t{c}\tCliente de Prueba {c} S.A. de C.V.\tCPR010101AB1\t{addresses(c)[0]}\tS\n"
        for c in ids
    )
    result = cli("customers", "import", "-", input=master.encode())
    assert result.exit_code == 0, result.output
    ledger = (
        "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
        "Importe en ML\tML\n"
        + "".join(
            f"SM02\t{c}\t18{c}{k}\tRV\tF-{c}-{k}\t01.10.2026\t31.10.2026\t{100 + i},{k}0\tMXN\n"
            for i, c in enumerate(ids)
            for k in range(1, 3)
        )
    )
    result = cli("ledger", "import", "-", "--date", DATE, input=ledger.encode())
    assert result.exit_code == 0, result.output
    catalog = "Sociedad\tCliente\tCorreo\n" + "".join(
        f"SM02\t{c}\t{';'.join(addresses(c))}\n" for c in ids
    )
    result = cli("catalog", "import", "-", "--yes", input=catalog.encode())
    assert result.exit_code == 0, result.output
    return ids


def rotomail_env(port: int, **extra: str) -> dict[str, str]:
    """The test's environment (ROTOMAIL_HOME, ROTOMAIL_DATABASE_URL) aimed at ``port``."""
    env = dict(os.environ)
    env.update(
        {
            "ROTOMAIL_SMTP_HOST": HOST,
            "ROTOMAIL_SMTP_PORT": str(port),
            "ROTOMAIL_SMTP_SECURITY": "none",
            "ROTOMAIL_SMTP_RATE_PER_MINUTE": "0",
            "ROTOMAIL_SMTP_RETRY_WAIT": "0.05",
            "ROTOMAIL_SMTP_ROUND_WAIT": "0.05",
            "ROTOMAIL_SMTP_TIMEOUT": "10",
            "ROTOMAIL_OPERATOR_EMAIL": OPERATOR_EMAIL,
            "COLUMNS": "200",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def send_args(*extra: str, date: str = DATE) -> list[str]:
    """``rotomail send --sociedad SM02 --all --date <date>`` as a real process."""
    return [
        sys.executable,
        "-m",
        "rotomail",
        "send",
        "--sociedad",
        SOCIEDAD,
        "--all",
        "--date",
        date,
        "--verbose",  # every customer's line, not only those that need attention
        *extra,
    ]


def start(
    args: list[str], env: Mapping[str, str], cwd: Path, *, umask: int = -1
) -> subprocess.Popen[bytes]:
    """A real process in its own process group (its rendering workers die with it)."""
    return subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        umask=umask,
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and the workers it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) of the process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def run(
    args: list[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    input: bytes = b"",
    timeout: float = 60,
    umask: int = -1,
) -> tuple[int, str, str]:
    """Run to the end; (exit code, stdout, stderr)."""
    process = start(args, env, cwd, umask=umask)
    try:
        out, err = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        out, err = process.communicate()
        raise AssertionError(
            f"{args} did not finish in {timeout}s:\n{out.decode()}\n{err.decode()}"
        ) from None
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class ProcessCli:
    """Like tests/conftest.py's ``Cli``, but each command is a real ``rotomail`` process."""

    def __init__(self, env: Mapping[str, str], cwd: Path, umask: int = -1) -> None:
        self.env, self.cwd, self.umask = dict(env), cwd, umask
        self.results: list[Result] = []

    def __call__(self, *args: str, input: bytes | str | None = None) -> Result:
        data = input.encode() if isinstance(input, str) else input or b""
        command = [sys.executable, "-m", "rotomail", *args]
        result = Result(*run(command, self.env, self.cwd, input=data, umask=self.umask))
        self.results.append(result)
        return result


def outcome_lines(stdout: str) -> dict[str, str]:
    """cliente -> the per-customer line ``<symbol> <cliente> ...`` of a send's output."""
    lines: dict[str, str] = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] in ("✓", "✗", "–", "?", "·") and parts[1].isdigit():
            lines[parts[1]] = line
    return lines


def run_id_of(stdout: str) -> int | None:
    """The run number, from ``Registro: .../<stamp>_corrida<N>_SM02.txt``."""
    for line in stdout.splitlines():
        if line.startswith("Registro: ") and "_corrida" in line:
            return int(line.rsplit("_corrida", 1)[1].split("_", 1)[0])
    return None


# --- standalone --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("port", type=int)
    parser.add_argument("outfile", type=Path)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before the 250 to DATA")
    options = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Sink(options.outfile, delay=options.delay, port=options.port):
        print(f"sink listening on {HOST}:{options.port}", flush=True)
        while not stop.wait(0.2):
            pass


if __name__ == "__main__":
    main()

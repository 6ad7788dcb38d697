"""How long ``rotomail bounces`` takes over a Maildir of many reports.

    .venv/bin/python tests/benchmarks/bench_bounces.py [--deliveries 20000] [--reports 1000]

Builds a throwaway home with a SQLite database holding one finished run of N made-up
deliveries (example.mx addresses), and a Maildir with R reports about some of them: half
carry the returned Message-ID, half only the failed address (the slower match). Prints the
median wall time of ``rotomail bounces --maildir`` over fresh copies of the Maildir and the
database, and reports per second. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from email.utils import formatdate
from pathlib import Path

from sqlalchemy import insert

from rotomail.store.db import open_engine
from rotomail.store.models import Delivery, SendRun

BIN = Path(sys.executable).parent


def report(address: str, message_id: str | None, number: int) -> bytes:
    returned = (
        f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n"
        if message_id
        else ""
    )
    return (
        "From: MAILER-DAEMON@mx.example.mx\r\nTo: portal@example.mx\r\n"
        f"Date: {formatdate(localtime=True)}\r\nMessage-ID: <r{number}@mx.example.mx>\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nUndelivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.mx\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: User unknown\r\n"
        f"{returned}--R--\r\n"
    ).encode()


def build(folder: Path, deliveries: int, reports: int) -> tuple[Path, Path]:
    home = folder / "home"
    home.mkdir()
    engine = open_engine(f"sqlite:///{home / 'rotomail.db'}")
    now = datetime.now()
    with engine.begin() as connection:
        connection.execute(
            insert(SendRun.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": 1,
                    "started_at": now,
                    "finished_at": now,
                    "operator": "bench",
                    "sociedad": "SM02",
                    "statement_date": date.today(),
                    "mode": "send",
                    "transport": "smtp",
                    "status": "finished",
                }
            ],
        )
        connection.execute(
            insert(Delivery.__table__),  # type: ignore[attr-defined]
            [
                {
                    "run_id": 1,
                    "sociedad": "SM02",
                    "cliente": f"{n:07d}",
                    "statement_date": date.today(),
                    "correos": f"cxp{n}@cliente{n}.example.mx;pagos{n}@cliente{n}.example.mx",
                    "status": "sent",
                    "message_id": f"<m{n}@example.mx>",
                    "updated_at": now,
                }
                for n in range(deliveries)
            ],
        )
    engine.dispose()
    maildir = folder / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    step = max(1, deliveries // reports)
    for index in range(reports):
        n = index * step
        data = report(
            f"cxp{n}@cliente{n}.example.mx", f"<m{n}@example.mx>" if index % 2 else None, n
        )
        (maildir / "new" / f"{1796000000 + index}.M{index}P1.mx").write_bytes(data)
    return home, maildir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--reports", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = []
    with tempfile.TemporaryDirectory(prefix="rotomail-bench-bounces-") as tmp:
        (Path(tmp) / "base").mkdir()
        base, base_maildir = build(Path(tmp) / "base", args.deliveries, args.reports)
        for attempt in range(args.repeat):
            run = Path(tmp) / f"run{attempt}"
            shutil.copytree(base, run / "home")
            shutil.copytree(base_maildir, run / "Maildir")
            start = time.perf_counter()
            done = subprocess.run(
                [str(BIN / "rotomail"), "--home", str(run / "home"), "bounces", "--maildir",
                 str(run / "Maildir")],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            if done.returncode != 0 or f"Informes leídos: {args.reports}" not in done.stdout:
                sys.exit(f"rotomail bounces failed:\n{done.stdout}{done.stderr}")
    median = statistics.median(times)
    print(
        f"rotomail bounces: {args.reports} reports, {args.deliveries} deliveries: "
        f"{median:.2f} s median of {args.repeat} ({args.reports / median:.0f} reports/s)"
    )


if __name__ == "__main__":
    main()

"""How long validating the addresses of a 50,000-row catalog paste takes (not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_addresses.py [--runs N] [--rows N]

The paste is tests/benchmarks/run.py's (``catalog_paste``: one or two addresses a row, one
domain per customer). Each run is a fresh process, as ``catalog import`` is: the caches start
empty. Prints the median and best of the runs (wall clock) and the median CPU time, in
seconds, for the whole paste.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ONE_RUN = """
import sys, time
sys.path[:0] = [{root!r}, {benchmarks!r}]
from run import catalog_paste, make_customers
from rotomail.inputs.addresses import parse_addresses
cells = [line.split("\\t")[2] for line in catalog_paste(make_customers({rows})).splitlines()[1:]]
started, cpu = time.perf_counter(), time.process_time()
for cell in cells:
    parse_addresses(cell)
print(time.perf_counter() - started, time.process_time() - cpu, sum(c.count("@") for c in cells))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    code = ONE_RUN.format(
        root=str(ROOT), benchmarks=str(ROOT / "tests" / "benchmarks"), rows=args.rows
    )
    times, cpu_times = [], []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
        times.append(float(out[0]))
        cpu_times.append(float(out[1]))
        addresses = int(out[2])
    print(
        f"{args.rows} rows, {addresses} addresses: median {statistics.median(times):.3f} s, "
        f"best {min(times):.3f} s; CPU median {statistics.median(cpu_times):.3f} s "
        f"({args.runs} fresh processes)"
    )


if __name__ == "__main__":
    main()

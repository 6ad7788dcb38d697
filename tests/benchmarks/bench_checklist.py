"""Measure the send checklist with 20,000 customers, headless (not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_checklist.py [--customers N] [--runs N]

Drives the Textual app with its Pilot at 80x24 and prints, in milliseconds (median and
worst over the runs): opening the list (app start to first screen), one filter keystroke
to redraw (typing, Backspace, and Ctrl-U clearing the filter back to every row), and `a` /
`n` (tick / untick every shown row). Targets: open < 1000, keystroke < 100, a/n < 200.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rotomail.cli.checklist import (
    ChecklistItem,
    ChecklistState,
    CustomerChecklist,
    format_money,
)

WORDS = [
    "FERRETERÍA",
    "TINACOS",
    "HIDRÁULICA",
    "MATERIALES",
    "DISTRIBUIDORA",
    "CONSTRUCTORA",
    "PINTURAS",
    "AZULEJOS",
    "ÁLAMOS",
    "VALLE",
    "PUENTE",
    "NORTE",
    "BRISA",
    "BAJÍO",
    "COSTA",
    "SAN",
    "ISIDRO",
    "LÓPEZ",
    "PEÑA",
]


def sample_items(count: int, seed: int = 7) -> list[ChecklistItem]:
    rng = random.Random(seed)
    items = []
    for i in range(count):
        cliente = f"{1000000 + i}"
        nombre = " ".join(rng.sample(WORDS, 3)) + " SA DE CV"
        balance = {"MXN": Decimal(rng.randint(-10000, 5000000)) / 100}
        if i % 7 == 0:
            balance["USD"] = Decimal(rng.randint(0, 200000)) / 100
        text = " · ".join(f"{cur} {format_money(v)}" for cur, v in sorted(balance.items()))
        items.append(
            ChecklistItem(cliente, cliente, nombre, f"cxc{cliente}@example.mx", text, balance, "es")
        )
    return items


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return (time.perf_counter() - started) * 1000


async def one_run(items: list[ChecklistItem], figures: dict[str, list[float]]) -> None:
    started = time.perf_counter()
    app = CustomerChecklist(items, "Envío masivo de estado de cuenta - SM02", transport="x")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        figures["open"].append((time.perf_counter() - started) * 1000)
        figures["no-op key (Pilot's own cost)"].append(await timed(lambda: pilot.press("f")))
        await pilot.press("slash")
        for key in "peña":
            figures["keystroke (type)"].append(await timed(lambda k=key: pilot.press(k)))
        for _ in range(3):
            figures["keystroke (Backspace)"].append(await timed(lambda: pilot.press("backspace")))
        figures["keystroke (Ctrl-U, all rows back)"].append(
            await timed(lambda: pilot.press("ctrl+u"))
        )
        await pilot.press("enter")
        figures["n (untick 20,000 shown)"].append(await timed(lambda: pilot.press("n")))
        figures["a (tick 20,000 shown)"].append(await timed(lambda: pilot.press("a")))
        figures["space"].append(await timed(lambda: pilot.press("space")))
        figures["page down"].append(await timed(lambda: pilot.press("pagedown")))
        await pilot.press("ctrl+c")


def state_only(items: list[ChecklistItem], figures: dict[str, list[float]]) -> None:
    """The same work without drawing: what the checklist itself costs per key."""

    def clock(action: Callable[[], Any]) -> float:
        started = time.perf_counter()
        action()
        return (time.perf_counter() - started) * 1000

    state: list[ChecklistState] = []
    figures["state: build (fold 20,000 rows)"].append(
        clock(lambda: state.append(ChecklistState(items)))
    )
    figures["state: filter + status, per key"].append(
        statistics.median(
            clock(lambda q=q: (state[0].set_filter(q), state[0].status_text()))
            for q in ("p", "pe", "peñ", "peña", "peñ", "pe", "p", "")
        )
    )
    figures["state: a + n"].append(
        clock(lambda: (state[0].select_shown(False), state[0].select_shown(True)))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    items = sample_items(args.customers)
    figures: dict[str, list[float]] = {
        "open": [],
        "no-op key (Pilot's own cost)": [],
        "keystroke (type)": [],
        "keystroke (Backspace)": [],
        "keystroke (Ctrl-U, all rows back)": [],
        "n (untick 20,000 shown)": [],
        "a (tick 20,000 shown)": [],
        "space": [],
        "page down": [],
        "state: build (fold 20,000 rows)": [],
        "state: filter + status, per key": [],
        "state: a + n": [],
    }
    asyncio.run(one_run(items, {k: [] for k in figures}))  # warm-up (imports, CSS)
    for _ in range(args.runs):
        asyncio.run(one_run(items, figures))
        state_only(items, figures)
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"{args.customers} customers, {args.runs} runs, 80x24 (ms), load average {load}")
    for name, values in figures.items():
        print(f"  {name:<36} median {statistics.median(values):7.1f}   worst {max(values):7.1f}")


if __name__ == "__main__":
    main()

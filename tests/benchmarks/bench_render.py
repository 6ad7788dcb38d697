"""Measure how long a statement PDF takes to render (not collected by pytest).

    .venv/bin/python tests/benchmarks/bench_render.py [--runs N]

Renders a 20-item (a send's size in run.py), a 40-item and a 500-item statement (MXN and
USD, invoices, credit notes and payments across every aging bucket) N times each after a
warm-up, and prints the median and best time in milliseconds and the PDF size; then the
40-item statement again with a letterhead logo (a 600 x 200 px PNG) and what the logo adds
(fpdf2 embeds it in each statement).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests/: sample_data

from sample_data import COMPANY

from rotomail.statement.model import (
    Statement,
    StatementCustomer,
    StatementItem,
    build_statement,
)
from rotomail.statement.pdf import render_statement_pdf

STATEMENT_DATE = date(2024, 3, 31)
CUSTOMER = StatementCustomer("SM02", "0001006210", "Ferretería Ñandú Hermanos S.A. de C.V.")


def write_logo(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 200), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 180, 180), fill=(0, 82, 155))
    draw.ellipse((220, 40, 340, 160), fill=(230, 120, 0))
    draw.text((370, 90), "Tinacos Ejemplo", fill=(33, 37, 41))
    path = folder / "logo.png"
    image.save(path)
    return path


def sample_statement(count: int, seed: int = 7, logo: str = "") -> Statement:
    rng = random.Random(seed)
    items = []
    for i in range(count):
        due = STATEMENT_DATE + timedelta(days=rng.randint(-150, 45))
        tipo = rng.choice(("RV", "RV", "RV", "DG", "DZ"))
        amount = Decimal(rng.randint(100, 25_000_000)) / 100
        items.append(
            StatementItem(
                documento=str(1_800_000_000 + i),
                tipo=tipo,
                referencia=f"A-{rng.randint(1000, 99999)}",
                fecha_documento=due - timedelta(days=30),
                vencimiento=due,
                importe=amount if tipo == "RV" else -amount,
                moneda=rng.choice(("MXN", "MXN", "USD")),
            )
        )
    company = replace(COMPANY, logo=logo, address="Av. Ejemplo 123, Monterrey, N.L.")
    return build_statement(company, CUSTOMER, items, STATEMENT_DATE)


def measure(statement: Statement, runs: int) -> tuple[float, float, int]:
    size = len(render_statement_pdf(statement))  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render_statement_pdf(statement)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    medians = {}
    with tempfile.TemporaryDirectory() as folder:
        logo = str(write_logo(Path(folder)))
        cases = (("", 20, ""), ("", 40, ""), ("", 500, ""), (" + logo", 40, logo))
        for label, count, with_logo in cases:
            statement = sample_statement(count, logo=with_logo)
            median, best, size = measure(statement, args.runs)
            medians[(count, bool(with_logo))] = median
            print(  # "  40 items: median ..." is what run.py reads
                f"{count:>4} items{label}: median {median:7.2f} ms  best {best:7.2f} ms  "
                f"{size / 1024:6.1f} KiB  ({args.runs} runs)"
            )
    added = medians[(40, True)] - medians[(40, False)]
    ratio = medians[(40, True)] / medians[(40, False)]
    print(f"logo adds {added:.2f} ms to a 40-item statement ({ratio:.2f}x)")


if __name__ == "__main__":
    main()

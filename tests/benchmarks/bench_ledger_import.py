"""Streamed ledger import: a 1,000,000-item FBL5N (50,000 customers x 20 items, ~80 MB).

    .venv/bin/python tests/benchmarks/bench_ledger_import.py [--customers N] [--items N]

Targets (issue 11): peak RSS of ``rotomail ledger import`` < 200 MB (memory flat in the file's
size), time shown beside ``sqlite-utils insert --tsv`` of the same items (sqlite-utils gets
the items only: it would read SAP's title and subtotal lines as data). Reuses run.py's data
generator, peer virtualenv and memory sampler; everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # run.py is a script beside this one, not a package
    ROTOMAIL,
    STATEMENT_DATE,
    Workspace,
    base_env,
    customers_tsv,
    ledger_tsv,
    make_customers,
    peer_venv,
    run_measuring_memory,
)

TARGET_MB = 200


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rotomail-bench-ledger-") as folder:
        root = Path(folder)
        ws = Workspace(root, lambda text: print(text, file=sys.stderr, flush=True))
        peers = peer_venv(ws.log)
        customers = make_customers(args.customers)
        home = ws.home("ledger")
        master = root / "clientes.tsv"
        master.write_text(customers_tsv(customers), encoding="utf-8")
        ws.rotomail(home, "customers", "import", str(master))
        ledger = root / "partidas.tsv"
        text = ledger_tsv(customers, args.items)
        ledger.write_text(text, encoding="utf-8")
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("Sociedad\tCuenta"))
        items_only = root / "items.tsv"
        items_only.write_text(
            "\n".join(
                [lines[header]]
                + [line for line in lines[header + 1 :] if line and not line.startswith("*")]
            )
            + "\n",
            encoding="utf-8",
        )
        del text, lines
        size_mb = ledger.stat().st_size / 1e6
        ws.log(f"  {args.customers * args.items:,} items, {size_mb:.0f} MB")
        ours, our_peak = run_measuring_memory(
            [*ROTOMAIL, "ledger", "import", str(ledger), "--date", STATEMENT_DATE.isoformat()],
            base_env(home),
        )
        db = root / "sqlite-utils.db"
        theirs, their_peak = run_measuring_memory(
            [str(peers / "sqlite-utils"), "insert", str(db), "open_item", str(items_only), "--tsv"],
            base_env(),
        )
        ours_mb, theirs_mb = our_peak.main_kib / 1024, their_peak.main_kib / 1024
        print(f"file: {args.customers * args.items:,} items, {size_mb:.0f} MB")
        print(f"rotomail ledger import: {ours:.1f} s, peak RSS {ours_mb:.0f} MB")
        print(f"sqlite-utils insert:    {theirs:.1f} s, peak RSS {theirs_mb:.0f} MB")
        verdict = "PASS" if ours_mb < TARGET_MB else "FAIL"
        print(f"target: peak < {TARGET_MB} MB -> {verdict}; time ratio {ours / theirs:.2f}")
        return 0 if ours_mb < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())

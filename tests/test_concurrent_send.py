"""Two operators, one database: two ``rotomail send`` processes started at the same moment
on the same sociedad and date never both send one customer's statement.

Runs on PostgreSQL when ROTOMAIL_TEST_DATABASE_URL is set, on SQLite otherwise; both must
hold. Each round uses its own statement date (a claim is per customer and date), so the
rounds are independent races against one database and one SMTP sink.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sink_server import (
    Sink,
    kill_group,
    outcome_lines,
    rotomail_env,
    run_id_of,
    seed,
    send_args,
    start,
    statements_by_cliente,
)

from tests.conftest import Cli

pytestmark = pytest.mark.slow

CUSTOMERS = 12
DATES = ["2026-11-30", "2026-12-31", "2027-01-31"]  # one race per date
SINK_DELAY = 0.1  # a slow final reply to DATA keeps both processes busy at once
SYMBOL_STATUS = {"✓": "enviado", "–": "omitido", "?": "incierto", "✗": "fallido", "·": "pendiente"}


def history(cli: Cli, run_id: int) -> dict[str, dict[str, Any]]:
    result = cli("history", str(run_id), "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["cliente"]: row for row in json.loads(result.stdout)}


def race(env: dict[str, str], cwd: Path, date: str) -> list[tuple[int, str, str]]:
    args = send_args(date=date)
    processes = [start(args, env, cwd), start(args, env, cwd)]
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=90)
        except Exception:
            for other in processes:
                kill_group(other)
            raise
        results.append((process.returncode, out.decode(), err.decode()))
    return results


def test_two_processes_same_sociedad_same_date(cli: Cli, home: Path, tmp_path: Path) -> None:
    ids = seed(cli, home, CUSTOMERS)
    double: list[str] = []  # a statement delivered twice, or not at all
    disagree: list[str] = []  # outcome lines, history and the SMTP server tell different stories
    misreported: list[str] = []  # the other run's outcome is not 'omitido'
    summary: list[str] = []
    with Sink(tmp_path / "sink.jsonl", delay=SINK_DELAY) as sink:
        env = rotomail_env(sink.port)
        for date in DATES:
            stamp = date.replace("-", "")
            results = race(env, tmp_path, date)
            received = [
                r
                for r in sink.records()
                if not r["subject"].startswith("Log ") and r["attachment"].endswith(f"_{stamp}.pdf")
            ]
            counts = statements_by_cliente(received)
            double += [
                f"{date} {c}: received {counts[c]} statements" for c in ids if counts[c] != 1
            ]
            message_ids = {r["attachment"].split("_", 1)[0]: r["message_id"] for r in received}
            runs = []
            for code, out, err in results:
                run_id = run_id_of(out)
                assert run_id is not None, f"exit {code}\n{out}\n{err}"
                runs.append((run_id, code, outcome_lines(out), history(cli, run_id)))
            for cliente in ids:
                states = []
                for run_id, _code, lines, rows in runs:
                    line = lines.get(cliente, "")
                    estado = rows.get(cliente, {}).get("estado", "(missing)")
                    if SYMBOL_STATUS.get(line[:1]) != estado:
                        disagree.append(
                            f"{date} {cliente}: run {run_id} printed {line!r}, "
                            f"history says {estado}"
                        )
                    states.append((run_id, estado, line, rows.get(cliente, {})))
                sent = [s for s in states if s[1] == "enviado"]
                if len(sent) != 1:
                    double.append(f"{date} {cliente}: 'enviado' in {len(sent)} runs: {states}")
                    continue
                if sent[0][3].get("message_id") != message_ids.get(cliente):
                    disagree.append(
                        f"{date} {cliente}: run {sent[0][0]} recorded "
                        f"{sent[0][3].get('message_id')}, the server got "
                        f"{message_ids.get(cliente)}"
                    )
                for run_id, estado, line, _ in states:
                    if estado != "enviado" and estado != "omitido":
                        misreported.append(f"{date} run {run_id}: {line}")
            summary.append(
                f"{date}: runs {[r[0] for r in runs]} sent "
                f"{[sum(1 for row in r[3].values() if row['estado'] == 'enviado') for r in runs]}"
                f", exit {[r[1] for r in runs]}"
            )
    print("\nconcurrent send: " + "; ".join(summary))
    assert not double, "\n".join(double)
    assert not disagree, "\n".join(disagree)
    assert not misreported, (
        "a customer the other run was sending (or had sent) is not reported 'omitido':\n"
        + "\n".join(misreported)
    )

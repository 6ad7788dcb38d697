"""What cron mails its owner: ``rotomail send --all`` as a real process with stdin from
/dev/null and stdout and stderr into one pipe (``>> cron.log 2>&1``), against an aiosmtpd sink:
the header first, counts, who needs attention, the left-out listed up to 20."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sink_server import Sink, rotomail_env, seed, statements_by_cliente

from tests.conftest import Cli

pytestmark = pytest.mark.slow

HEADER = re.compile(
    r"Corrida \d+ · sociedad SM02 · fecha de corte 30/11/2026 · modo envío · "
    r"transporte smtp 127\.0\.0\.1:\d+ \(none\) · inicio \d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
)


def cron(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """``rotomail send --sociedad SM02 --all`` as cron runs it: (exit code, output lines)."""
    done = subprocess.run(
        [sys.executable, "-m", "rotomail", "send", "--sociedad", "SM02", "--all"],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout.decode("utf-8").splitlines()


def test_a_cron_run_and_its_rerun_are_short_and_start_with_the_header(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    ids = seed(cli, home, 300)
    without = ids[::10]  # 30 customers with open items and no catalog entry
    for cliente in without:
        assert cli("catalog", "delete", "SM02", cliente, "--yes").exit_code == 0
    with Sink(tmp_path / "sink.jsonl") as sink:
        env = rotomail_env(sink.port, PYTHONUNBUFFERED="0")
        code, lines = cron(env, tmp_path)
        again_code, again = cron(env, tmp_path)
        records = sink.records()
    text = "\n".join(lines)
    assert code == 0, text
    assert len(lines) <= 40, text
    assert HEADER.fullmatch(lines[0]), text
    assert lines[1] == (
        "Envío a 270 clientes de SM02; 30 con partidas abiertas sin correo en el catálogo "
        "(no se envían); 0 retenidos."
    )
    listed = [line for line in lines if re.match(r"  \d{7} ", line)]
    assert len(listed) == 20
    assert "  … y 10 más: rotomail catalog missing --sociedad SM02" in lines
    assert "Traceback" not in text
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert all(f"\n{cliente} " in log for cliente in without)  # the log keeps the full list
    sent = [c for c in ids if c not in without]
    assert statements_by_cliente(records) == dict.fromkeys(sent, 1)

    assert again_code == 0, again
    assert len(again) <= 5, again
    assert again[0] == (
        "Nada que enviar: ya enviado para esta fecha (corrida 1) a los 270 clientes de SM02 "
        "(estado de cuenta al 30/11/2026); use --force para reenviar; 30 con partidas abiertas "
        "sin correo en el catálogo: rotomail catalog missing --sociedad SM02."
    )

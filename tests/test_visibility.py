"""What a statement said, where the clerk looks afterwards (issue 21): the run log (.txt) and
``history RUN --format json`` carry the payments received (``pagos``), the amounts in
dispute (``en_aclaracion``) and the invoice copies (``copias``) of each customer."""

from __future__ import annotations

import json
from pathlib import Path

from smtp_server import SmtpServer

from tests.conftest import Cli
from tests.test_cleared_items import ALL_ITEMS, CUTOFF


def test_the_run_log_and_the_history_carry_payments_and_disputes(
    smtp: SmtpServer, loaded: Cli, home: Path
) -> None:
    result = loaded("ledger", "import", "-", "--yes", "--date", CUTOFF, input=ALL_ITEMS.encode())
    assert result.exit_code == 0, result.output
    disputed = loaded(
        "ledger", "dispute", "SM02", "1006210", "1800000011", "--reason", "Precio distinto"
    )
    assert disputed.exit_code == 0, disputed.output
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output

    [log] = list((home / "logs").glob("*_corrida1_SM02.txt"))
    lines = log.read_text(encoding="utf-8").splitlines()
    [head] = [line for line in lines if line.startswith("Sociedad ")]
    [row] = [line for line in lines if line.startswith("SM02 ")]
    columns = ["Estado", "Pagos", "En aclaración", "Detalle"]
    starts = [head.index(name) for name in columns]
    cells = [row[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    assert cells[:3] == ["enviado", "MXN 3,000.00", "MXN 2,000.00"]

    [entry] = json.loads(loaded("history", "1", "--format", "json").stdout)
    assert entry["pagos"] == "MXN 3,000.00"
    assert entry["en_aclaracion"] == "MXN 2,000.00"
    assert entry["copias"] == {"adjuntas": [], "no_adjuntas": [], "faltantes": 0, "rechazadas": []}

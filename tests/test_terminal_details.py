"""Terminal details of issue 20, each seen as a clerk sees it: the installed console script
in a pseudo-terminal of 80x24 or 120x40 (pexpect), its screen drawn by pyte."""

from __future__ import annotations

import codecs
import email
import json
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Cli
from smtp_server import SmtpServer
from test_terminal_checklist import CTRL_U, ENTER, ESC, ROTOMAIL, Terminal

DATE = "2026-11-30"
CTRL_D = "\x04"


def run(args: list[str], cols: int = 80, rows: int = 24, timeout: float = 120) -> tuple[int, str]:
    """``rotomail ARGS`` in a terminal of ``cols`` x ``rows``; (exit status, screen text)."""
    term = Terminal(ROTOMAIL, args, cols, rows)
    status, _ = term.finish(timeout)
    return status, term.text()


def test_history_at_80_columns_breaks_between_parts(loaded: Cli) -> None:
    assert loaded("send", "--sociedad", "SM02", "--all", "--date", DATE).exit_code == 0
    assert loaded("send", "--sociedad", "SM02", "--all", "--date", DATE, "--dry-run").exit_code == 0
    status, screen = run(["history"])
    assert status == 0, screen
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines[0].startswith("Corrida 2 · ")
    # the start time whole on one line, never folded into "2026-" / "12-06"
    assert len(re.findall(r"· \d{4}-\d{2}-\d{2} \d{2}:\d{2} ·", screen)) == 2
    assert "simulación" in screen and "envío" in screen
    assert "correctos 3" in screen and "terminada" in screen
    assert all(len(line) <= 80 for line in lines)
    assert "┃" not in screen  # no table squeezed into 80 columns


def test_customer_history_names_the_mode_in_spanish(loaded: Cli) -> None:
    assert loaded("send", "--sociedad", "SM02", "--all", "--date", DATE).exit_code == 0
    status, screen = run(["history", "--sociedad", "SM02", "--cliente", "1006210"], 120, 40)
    assert status == 0, screen
    assert "envío" in screen
    assert not re.search(r"\bsend\b", screen), screen


def test_a_servers_code_is_shown_once(smtp: SmtpServer, loaded: Cli) -> None:
    """A refusal whose text repeats its code, and a 250 that does: each code once, on the
    customer's line at the terminal and in the run's history."""
    smtp.reply_at_rcpt("cxp@plomeria.example.mx", "550 550 5.1.1 User unknown", times=None)
    smtp.reply_at_data("250 250 OK", times=None)
    term = Terminal(ROTOMAIL, ["send", "--sociedad", "SM02", "--all", "--date", DATE], 120, 40)
    status, output = term.finish(120)
    assert status == 1, output
    screen = term.text()
    assert "550 5.1.1 User unknown" in screen
    assert "550 550" not in output
    runs = json.loads(loaded("history", "1", "--format", "json").stdout)
    replies = " ".join(str(row) for row in runs)
    assert "250 OK" in replies and "250 250" not in replies
    assert "550 5.1.1 User unknown" in replies and "550 550" not in replies


@pytest.fixture
def many(loaded: Cli) -> Cli:
    """Two hundred customers more to send."""
    master = "Sociedad\tCliente\tNombre\tCorreo\n" + "".join(
        f"SM02\t{3000000 + n}\tCliente Número {n} S.A.\tc{n}@example.com\n" for n in range(200)
    )
    assert loaded("customers", "import", "-", input=master.encode()).exit_code == 0
    ledger = (
        "Sociedad\tCuenta\tNº documento\tClase\tFecha doc.\tVencimiento neto\tImporte en ML\tML\n"
    )
    ledger += "".join(
        f"SM02\t{3000000 + n}\t{5000000 + n}\tRV\t01.11.2026\t30.11.2026\t10,00\tMXN\n"
        for n in range(200)
    )
    result = loaded("ledger", "import", "-", "--date", DATE, "--yes", input=ledger.encode())
    assert result.exit_code == 0, result.output
    paste = "".join(f"SM02\t{3000000 + n}\tc{n}@example.com\n" for n in range(200))
    assert loaded("catalog", "import", "-", "--yes", input=paste.encode()).exit_code == 0
    return loaded


def test_checklist_filter_esc_keeps_the_ticks_and_ocultos_fits_80_columns(many: Cli) -> None:
    term = Terminal(ROTOMAIL, ["send", "--sociedad", "SM02", "--date", DATE], 80, 24)
    term.wait_for(lambda text: "seleccionados" in text and "Cancelar" in text)
    term.send("n")  # none, then tick one found by the filter
    term.send("/ferre" + ENTER)
    screen = term.wait_for(lambda text: re.search(r"mostrando 1 de \d+", text) is not None)
    total = re.search(r"mostrando 1 de (\d+)", screen).group(1)  # type: ignore[union-attr]
    assert int(total) >= 200
    term.send(" ")
    term.wait_for(f"1 de {total} seleccionados")
    term.send("/" + CTRL_U)
    term.send("numero 1")  # a long query: the counts shortened, "ocultos" kept
    term.send(" s.a. del grupo")
    screen = term.wait_for("Filtro:")
    filter_line = next(line for line in screen.splitlines() if "Filtro:" in line)
    assert "ocultos" in filter_line, screen
    assert len(filter_line) <= 80
    term.send(ESC)  # clears the filter, back to the list: nothing lost, still running
    screen = term.wait_for(lambda text: "Filtro:" not in text and "/ para filtrar" in text)
    assert f"1 de {total} seleccionados" in screen
    assert term.child.isalive()
    term.send(ESC)  # a second Esc leaves, nothing sent
    status, output = term.finish()
    assert status == 1, output
    assert "Cancelado: no se envió nada." in output


def test_outbox_run_log_says_saved_not_sent_zero(loaded: Cli, home: Path) -> None:
    status, screen = run(["send", "--sociedad", "SM02", "--all", "--date", DATE], 120, 40)
    assert status == 0, screen
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Guardados en el buzón de salida: 3" in log
    assert "Enviados: 0" not in log
    mailed = next((home / "outbox" / "corrida-1").glob("*_corrida1_SM02.eml"))
    parsed = email.message_from_bytes(mailed.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "Guardados en el buzón de salida: 3" in body
    assert "Enviados: 0" not in body
    assert "Sin correo en el catálogo (no se les envió): 0" in body


PASTE_ROWS = 60


@pytest.fixture
def master_of_60(customers: Cli) -> Cli:
    master = "Sociedad\tCliente\tNombre\tCorreo\n" + "".join(
        f"SM02\t{3000000 + n}\tCliente {n}\tc{n}@example.com\n" for n in range(PASTE_ROWS)
    )
    assert customers("customers", "import", "-", input=master.encode()).exit_code == 0
    return customers


def paste_file(tmp_path: Path) -> Path:
    """58 good rows and 2 unknown customer numbers."""
    rows = [f"SM02\t{3000000 + n}\tc{n}@example.com" for n in range(PASTE_ROWS - 2)]
    rows += ["SM02\t7000001\tx1@example.com", "SM02\t7000002\tx2@example.com"]
    path = tmp_path / "pegado.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_long_paste_shows_a_summary_and_the_errors_once(
    master_of_60: Cli, tmp_path: Path
) -> None:
    path = paste_file(tmp_path)
    term = Terminal("/bin/sh", ["-c", f'cat "{path}" | "{ROTOMAIL}" catalog import'], 120, 40)
    screen = term.wait_for("¿Grabar o Cancelar? [g/c]:", timeout=60)
    assert "60 filas: 58 listas para grabar, 2 con errores." in screen
    assert "Filas con errores (2):" in screen
    unknown = "Cliente 7000001 no encontrado en el maestro de clientes de la sociedad SM02"
    assert "".join(unknown.split()) in "".join(screen.replace("│", "").split())
    assert "c10@example.com" not in term.output.decode()  # the good rows are not listed
    term.send("g" + ENTER)
    status, output = term.finish()
    assert status == 1, output  # two rows were not saved
    assert "Grabadas 58 de 60 filas." in output
    assert output.count("x1@example.com") == 1  # the table is never printed a second time
    # The same paste again: nothing changes, and the change trail says nothing new.
    term = Terminal("/bin/sh", ["-c", f'cat "{path}" | "{ROTOMAIL}" catalog import --yes'], 120, 40)
    status, output = term.finish()
    assert status == 1, output
    assert "Grabadas 58 de 60 filas (58 sin cambios: el catálogo ya las tenía así)." in output
    trail = master_of_60("catalog", "changes", "SM02", "3000001", "--format", "json")
    assert len(json.loads(trail.stdout)) == 1


def test_import_at_a_terminal_reads_pasted_rows_until_ctrl_d(master_of_60: Cli) -> None:
    term = Terminal(ROTOMAIL, ["catalog", "import"], 80, 24)
    term.wait_for("Ctrl-D")
    for n in range(3):
        term.send(f"SM02\t{3000000 + n}\tc{n}@example.com\r", pause=0.05)
    term.send(CTRL_D)
    screen = term.wait_for("¿Grabar o Cancelar? [g/c]:", timeout=60)
    assert "3 filas: 3 listas para grabar, 0 con errores." in screen
    term.send("g" + ENTER)
    status, output = term.finish()
    assert status == 0, output
    assert "Grabadas 3 de 3 filas." in output
    entries = json.loads(master_of_60("catalog", "search", "--format", "json").stdout)
    assert sorted(e["cliente"] for e in entries) == ["3000000", "3000001", "3000002"]


def test_csv_written_with_output_has_a_bom_stdout_never(loaded: Cli, tmp_path: Path) -> None:
    out = tmp_path / "catalogo.csv"
    status, screen = run(["catalog", "export", "--format", "csv", "--output", str(out)])
    assert status == 0, screen
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert "Ferretería" in data.decode("utf-8-sig") or "1004273" in data.decode("utf-8-sig")
    term = Terminal(ROTOMAIL, ["catalog", "export", "--format", "csv"], 80, 24)
    status, output = term.finish()
    assert status == 0
    assert "\ufeff" not in output and output.startswith("Sociedad,Cliente")
    # and it reads back
    again = loaded("catalog", "import", str(out), "--yes")
    assert again.exit_code == 0, again.output

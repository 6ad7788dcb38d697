"""Disputed items (issue 21, item 3): ``ledger dispute|resolve|disputes``, SAP's per-item
dunning block on import, and what a disputed item does to the statement, the e-mail, the
run log and the history."""

from __future__ import annotations

import getpass
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sample_data import COMPANY
from smtp_server import SmtpServer

from rotomail.statement.model import StatementCustomer, StatementItem, build_statement
from tests.conftest import Cli

CUTOFF = "2026-11-30"
HEADER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
)
# Two overdue invoices of 1006210 (60 and 30 days), one of 1004273.
ROWS = (
    "SM02\t0001006210\t1800000101\tRV\tA-3101\t01.09.2026\t01.10.2026\t1.000,00\tMXN\n"
    "SM02\t0001006210\t1800000102\tRV\tA-3102\t01.10.2026\t31.10.2026\t2.500,00\tMXN\n"
    "SM02\t0001004273\t1800000004\tRV\tA-1002\t01.09.2026\t01.10.2026\t2.500,50\tMXN\n"
)
LEDGER = HEADER + ROWS
DISPUTED_ROW = "1800000101 A-3101 Factura 01/09/2026 01/10/2026 En aclaración 1,000.00 MXN"
OVERDUE_ROW = "1800000101 A-3101 Factura 01/09/2026 01/10/2026 60 1,000.00 MXN"
NO_DISPUTES = "No hay documentos en aclaración.\n"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def statement_text(cli: Cli, tmp_path: Path, cliente: str = "1006210") -> str:
    out = tmp_path / f"{cliente}.pdf"
    result = cli("statement", "SM02", cliente, "--date", CUTOFF, "-o", str(out))
    assert result.exit_code == 0, result.output
    return pdf_text(out.read_bytes())


def import_ledger(cli: Cli, text: str = LEDGER) -> str:
    result = cli("ledger", "import", "-", "--yes", "--date", CUTOFF, input=text.encode())
    assert result.exit_code == 0, result.output
    return result.stdout


def dispute(cli: Cli, documento: str = "1800000101", reason: str = "Precio distinto") -> None:
    result = cli("ledger", "dispute", "SM02", "1006210", documento, "--reason", reason)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Documento {documento} en aclaración (1 partidas): sigue en el estado de cuenta y en "
        "el saldo, fuera de lo vencido, hasta «ledger resolve» o su compensación.\n"
    )


def disputes_json(cli: Cli) -> list[dict[str, str]]:
    result = cli("ledger", "disputes", "--sociedad", "SM02", "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_a_disputed_invoice_is_marked_and_left_out_of_overdue(
    smtp: SmtpServer, loaded: Cli, home: Path
) -> None:
    """Done when: ``ledger dispute`` on one of two overdue invoices: the PDF marks it "En
    aclaración", the e-mail's overdue amount is the other one's, the balance is both."""
    import_ledger(loaded)
    dispute(loaded)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    [message] = [m.message for m in smtp.messages if "a@agro.example.mx" in m.rcpt_tos]
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert (
        "Saldo: MXN 3,500.00 · Vencido: MXN 2,500.00\n"
        "En aclaración (no incluido en lo vencido): MXN 1,000.00\n" in body
    )
    html = message.get_body(("html",)).get_content()
    assert "<p>En aclaración (no incluido en lo vencido): MXN 1,000.00</p>" in html
    [attachment] = list(message.iter_attachments())
    text = pdf_text(attachment.get_content())
    assert DISPUTED_ROW in text
    assert "1800000102 A-3102 Factura 01/10/2026 31/10/2026 30 2,500.00 MXN" in text
    # the aging has the other invoice only; the balance has both
    assert "MXN 0.00 2,500.00 0.00 0.00 0.00 3,500.00\n" in text
    assert "En aclaración (no incluido en lo vencido): MXN 1,000.00\n" in text
    assert "Total MXN 3,500.00 MXN" in text

    [row] = json.loads(loaded("history", "1", "--format", "json").stdout)
    assert (row["en_aclaracion"], row["pagos"]) == ("MXN 1,000.00", "")
    assert "copias" in row
    [log] = list((home / "logs").glob("*_corrida1_SM02.txt"))
    lines = log.read_text(encoding="utf-8").splitlines()
    [head] = [line for line in lines if line.startswith("Sociedad") and "Cliente" in line]
    assert head.split()[6:10] == ["Estado", "Pagos", "En", "aclaración"]
    [customer] = [line for line in lines if line.startswith("SM02") and "1006210" in line]
    assert " enviado " in customer and " MXN 1,000.00 " in customer


def test_the_dispute_survives_a_reimport_until_resolved(loaded: Cli, tmp_path: Path) -> None:
    import_ledger(loaded)
    dispute(loaded, reason="Mercancía dañada")
    import_ledger(loaded)  # the same export again: every open-item row is replaced
    assert disputes_json(loaded) == [
        {
            "cliente": "1006210",
            "nombre": "Agroequipos del Bajío S.A. de C.V.",
            "documento": "1800000101",
            "importe": "1,000.00",
            "moneda": "MXN",
            "motivo": "Mercancía dañada",
            "usuario": getpass.getuser(),
            "fecha": disputes_json(loaded)[0]["fecha"],
        }
    ]
    assert DISPUTED_ROW in statement_text(loaded, tmp_path)

    resolved = loaded("ledger", "resolve", "SM02", "1006210", "1800000101")
    assert resolved.exit_code == 0, resolved.output
    assert resolved.stdout == "Aclaración del documento 1800000101 resuelta.\n"
    text = statement_text(loaded, tmp_path)
    assert OVERDUE_ROW in text and "En aclaración" not in text
    assert "MXN 0.00 2,500.00 1,000.00 0.00 0.00 3,500.00\n" in text
    listed = loaded("ledger", "disputes", "--sociedad", "SM02")
    assert listed.exit_code == 0 and listed.stderr == NO_DISPUTES

    changes = json.loads(loaded("catalog", "changes", "SM02", "1006210", "--format", "json").stdout)
    assert [
        (c["usuario"], c["cambio"], c["antes"], c["despues"])
        for c in changes
        if "aclaración" in c["cambio"]
    ] == [
        (getpass.getuser(), "aclaración", "", "en aclaración 1800000101: Mercancía dañada"),
        (
            getpass.getuser(),
            "aclaración resuelta",
            "en aclaración 1800000101: Mercancía dañada",
            "",
        ),
    ]
    again = loaded("ledger", "resolve", "SM02", "1006210", "1800000101")
    assert again.exit_code == 1
    assert again.stderr == (
        "Error: El documento 1800000101 del cliente 1006210 de la sociedad SM02 no está en "
        "aclaración.\n"
    )


def test_a_cleared_document_ends_its_dispute(loaded: Cli, tmp_path: Path) -> None:
    import_ledger(loaded)
    dispute(loaded)
    without = HEADER + "".join(
        line + "\n" for line in ROWS.splitlines() if "1800000101" not in line
    )
    out = import_ledger(loaded, without)
    assert "1 aclaraciones terminadas: sus documentos ya no están abiertos (compensados).\n" in out
    assert disputes_json(loaded) == []
    changes = loaded("catalog", "changes", "SM02", "1006210", "--format", "json")
    assert [c["cambio"] for c in json.loads(changes.stdout) if c["cambio"] != "alta"] == [
        "aclaración",
        "aclaración terminada (compensada)",
    ]
    import_ledger(loaded)  # the document open again (e.g. a reversed payment): not disputed
    assert OVERDUE_ROW in statement_text(loaded, tmp_path)


@pytest.mark.parametrize(
    ("cliente", "documento"), [("1006210", "1899999999"), ("1004273", "1800000101")]
)
def test_disputing_a_document_not_open_is_one_line_and_changes_nothing(
    loaded: Cli, cliente: str, documento: str
) -> None:
    import_ledger(loaded)
    result = loaded("ledger", "dispute", "SM02", cliente, documento, "--reason", "x")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: El cliente {cliente} de la sociedad SM02 no tiene partidas abiertas con el "
        f"documento {documento}; no se marcó nada.\n"
    )
    assert result.stdout == ""
    assert disputes_json(loaded) == []
    changes = loaded("catalog", "changes", "SM02", cliente, "--format", "json")
    assert [c["cambio"] for c in json.loads(changes.stdout)] == ["alta"]  # the fixture's


def test_a_dispute_needs_a_reason(loaded: Cli) -> None:
    import_ledger(loaded)
    result = loaded("ledger", "dispute", "SM02", "1006210", "1800000101", "--reason", "  ")
    assert result.exit_code == 2
    assert result.stderr == "Error: Indique el motivo de la aclaración con --reason.\n"
    assert disputes_json(loaded) == []


@pytest.mark.parametrize("heading", ["Bloqueo reclamación", "Bloq.recl.", "Dunning block", "MANSP"])
def test_sap_dunning_block_column_marks_the_item(loaded: Cli, tmp_path: Path, heading: str) -> None:
    blocked = HEADER.replace("\n", f"\t{heading}\n") + "".join(
        line + ("\tR\n" if "1800000101" in line else "\t\n") for line in ROWS.splitlines()
    )
    out = import_ledger(loaded, blocked)
    assert f"  bloqueo ← «{heading}»\n" in out
    assert (
        "1 partidas con bloqueo de reclamación (bloqueo): en aclaración, fuera de lo vencido.\n"
        in out
    )
    text = statement_text(loaded, tmp_path)
    assert DISPUTED_ROW in text
    assert "MXN 0.00 2,500.00 0.00 0.00 0.00 3,500.00\n" in text
    [row] = disputes_json(loaded)
    assert (row["documento"], row["motivo"], row["usuario"], row["fecha"]) == (
        "1800000101",
        "bloqueo de reclamación en SAP «R»",
        "SAP",
        "",
    )
    refused = loaded("ledger", "resolve", "SM02", "1006210", "1800000101")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: El documento 1800000101 del cliente 1006210 tiene bloqueo de reclamación en SAP "
        "«R»: quítelo en SAP y vuelva a importar las partidas.\n"
    )
    import_ledger(loaded)  # an export without the block: no longer disputed
    assert OVERDUE_ROW in statement_text(loaded, tmp_path)


def test_without_the_block_column_nothing_is_disputed(loaded: Cli) -> None:
    out = import_ledger(loaded)
    assert "  bloqueo ← (no está en el archivo)\n" in out
    assert "bloqueo de reclamación" not in out
    assert disputes_json(loaded) == []


@pytest.mark.parametrize(
    ("idioma", "due", "mark", "line"),
    [
        ("pt", "01/10/2026", "Em contestação", "Em contestação (não incluído no vencido): MXN 1.000,00"),
        ("en", "Oct 1, 2026", "In dispute", "In dispute (not included in overdue): MXN 1,000.00"),
    ],
)  # fmt: skip
def test_the_mark_in_the_customers_language(
    loaded: Cli, tmp_path: Path, idioma: str, due: str, mark: str, line: str
) -> None:
    import_ledger(loaded)
    dispute(loaded)
    assert loaded("catalog", "add", "SM02", "1006210", "a@agro.example.mx", "--idioma", idioma)
    text = statement_text(loaded, tmp_path)
    assert f"{due} {mark} " in text
    assert line in text


def test_summary_figures_of_a_disputed_item() -> None:
    cutoff = date(2026, 11, 30)
    items = [
        StatementItem("1", "RV", "A", None, date(2026, 10, 1), Decimal("1000"), "MXN", "", "", "x"),
        StatementItem("2", "RV", "B", None, date(2026, 10, 31), Decimal("2500"), "MXN"),
        StatementItem("3", "RV", "C", None, date(2026, 12, 31), Decimal("100"), "MXN"),
    ]
    statement = build_statement(
        COMPANY, StatementCustomer("SM02", "1006210", "Agro"), items, cutoff
    )
    [summary] = statement.summaries
    assert summary.balance == Decimal("3600.00")
    assert summary.disputed == Decimal("1000.00")
    assert summary.overdue == Decimal("2500.00")
    assert summary.buckets == tuple(Decimal(v) for v in ("100.00", "2500.00", "0", "0", "0"))
    assert statement.disputed() == {"MXN": Decimal("1000.00")}
    assert [line.disputed for line in statement.lines] == [True, False, False]

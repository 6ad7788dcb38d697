"""All-items exports (cleared items), the payments received since the last statement and
configurable aging buckets, from the import to the PDF and the e-mail (issue 21)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sample_data import COMPANY_CONFIG
from smtp_server import SmtpServer
from sqlalchemy import Engine, select

from rotomail.company import CompanyProfile
from rotomail.statement.model import (
    ClearedItem,
    StatementCustomer,
    StatementItem,
    build_statement,
    payments_received,
)
from rotomail.statement.pdf import render_statement_pdf
from rotomail.store.db import open_engine
from rotomail.store.models import ClearedLedgerItem, OpenItem, table_of
from tests.conftest import Cli

CUTOFF = "2026-11-30"
HEADER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\tDoc.compensación\tFecha compensación\n"
)
OPEN_ROWS = (
    "SM02\t0001006210\t1800000010\tRV\tA-2010\t01.10.2026\t31.10.2026\t1.000,00\tMXN\t\t\n"
    "SM02\t0001006210\t1800000011\tRV\tA-2011\t01.09.2026\t01.10.2026\t2.000,00\tMXN\t\t\n"
    "SM02\t0001006210\t1800000012\tRV\tA-2012\t20.11.2026\t20.12.2026\t500,00\tMXN\t\t\n"
)
# Two invoice/payment pairs, each cleared by the payment: one on 15.11.2026 (within the
# 30 days before the cut-off), one on 31.07.2026 (months before).
CLEARED_ROWS = (
    "SM02\t0001006210\t1800000005\tRV\tA-2005\t01.09.2026\t01.10.2026\t3.000,00\tMXN\t"
    "1400000050\t15.11.2026\n"
    "SM02\t0001006210\t1400000050\tDZ\tTRANSF-77\t15.11.2026\t15.11.2026\t3.000,00-\tMXN\t"
    "1400000050\t15.11.2026\n"
    "SM02\t0001006210\t1800000001\tRV\tA-2001\t01.06.2026\t01.07.2026\t4.000,00\tMXN\t"
    "1400000020\t31.07.2026\n"
    "SM02\t0001006210\t1400000020\tDZ\tTRANSF-12\t31.07.2026\t31.07.2026\t4.000,00-\tMXN\t"
    "1400000020\t31.07.2026\n"
)
ALL_ITEMS = HEADER + OPEN_ROWS + CLEARED_ROWS
PAYMENTS_TITLE = "Pagos y abonos recibidos desde el"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def statement_text(cli: Cli, tmp_path: Path, day: str = CUTOFF, cliente: str = "1006210") -> str:
    out = tmp_path / f"{cliente}_{day}.pdf"
    result = cli("statement", "SM02", cliente, "--date", day, "-o", str(out))
    assert result.exit_code == 0, result.output
    return pdf_text(out.read_bytes())


def sections(text: str) -> tuple[str, str]:
    """(the payments section, the detail of open items) of a statement's text."""
    head, _, detail = text.partition("Detalle de partidas abiertas")
    _, _, payments = head.partition(PAYMENTS_TITLE)
    return payments, detail


@pytest.fixture
def engine(db_url: str, customers: Cli) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def test_all_items_export_imports_cleared_items_apart(customers: Cli, engine: Engine) -> None:
    result = customers("ledger", "import", "-", "--date", CUTOFF, input=ALL_ITEMS.encode())
    assert result.exit_code == 0, result.output
    assert "  doc_compensacion ← «Doc.compensación»\n" in result.stdout
    assert "  fecha_compensacion ← «Fecha compensación»\n" in result.stdout
    assert "Partidas abiertas al 30/11/2026 importadas (SM02: 3).\n" in result.stdout
    assert (
        "Partidas compensadas (SM02: 4): no son abiertas; los pagos y abonos entre ellas van "
        "al estado de cuenta.\n" in result.stdout
    )
    open_item, cleared = table_of(OpenItem), table_of(ClearedLedgerItem)
    with engine.connect() as connection:
        open_docs = connection.execute(select(open_item.c.documento)).scalars().all()
        cleared_rows = connection.execute(
            select(cleared.c.documento, cleared.c.doc_compensacion, cleared.c.fecha_compensacion)
        ).all()
    assert sorted(open_docs) == ["1800000010", "1800000011", "1800000012"]
    assert sorted(tuple(row) for row in cleared_rows) == [
        ("1400000020", "1400000020", date(2026, 7, 31)),
        ("1400000050", "1400000050", date(2026, 11, 15)),
        ("1800000001", "1400000020", date(2026, 7, 31)),
        ("1800000005", "1400000050", date(2026, 11, 15)),
    ]


def test_all_items_statement_lists_open_items_and_the_recent_payment(
    customers: Cli, tmp_path: Path
) -> None:
    """Done when: three open invoices with the right aging; the payment cleared in the last
    30 days in the payments section, not the one cleared months before."""
    assert customers("ledger", "import", "-", input=ALL_ITEMS.encode()).exit_code == 0
    text = statement_text(customers, tmp_path)
    payments, detail = sections(text)
    # the summary: Por vencer 500, 1–30 1,000, 31–60 2,000; balance 3,500 (cleared items
    # are not open: no paid invoice "122 días vencidos", no payment as a credit)
    assert "MXN 500.00 1,000.00 2,000.00 0.00 0.00 3,500.00" in text
    assert "1800000011 A-2011 Factura 01/09/2026 01/10/2026 60 2,000.00 MXN" in detail
    assert "1800000010 A-2010 Factura 01/10/2026 31/10/2026 30 1,000.00 MXN" in detail
    assert "1800000012 A-2012 Factura 20/11/2026 20/12/2026 500.00 MXN" in detail
    assert "Total MXN 3,500.00 MXN" in detail
    for cleared in ("1800000005", "1400000050", "1800000001", "1400000020"):
        assert cleared not in detail
    assert " 31/10/2026\n" in text  # since: the 30 days before the cut-off (no statement yet)
    assert "1400000050 TRANSF-77 Pago 15/11/2026 15/11/2026 A-2005 3,000.00 MXN" in payments
    assert "Total MXN 3,000.00 MXN" in payments
    assert "TRANSF-12" not in text and "1400000020" not in text and "A-2001" not in text


def test_files_without_clearing_columns_have_no_payments_section(
    customers: Cli, tmp_path: Path
) -> None:
    open_only = (
        "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
        "Importe en ML\tML\n"
        + "".join(line.rsplit("\t", 2)[0] + "\n" for line in OPEN_ROWS.splitlines())
    )
    result = customers("ledger", "import", "-", "--date", CUTOFF, input=open_only.encode())
    assert result.exit_code == 0, result.output
    assert "  fecha_compensacion ← (no está en el archivo)\n" in result.stdout
    assert "compensadas" not in result.stdout
    text = statement_text(customers, tmp_path)
    assert PAYMENTS_TITLE not in text
    assert "MXN 500.00 1,000.00 2,000.00 0.00 0.00 3,500.00" in text


def test_clearing_columns_named_by_column_map_and_config(customers: Cli, home: Path) -> None:
    renamed = ALL_ITEMS.replace("Doc.compensación", "Compens.").replace(
        "Fecha compensación", "Día pago"
    )
    result = customers(
        "ledger",
        "import",
        "-",
        "--date",
        CUTOFF,
        "--column",
        "doc_compensacion=Compens.",
        "--column",
        "fecha_compensacion=Día pago",
        input=renamed.encode(),
    )
    assert result.exit_code == 0, result.output
    assert "  fecha_compensacion ← «Día pago»\n" in result.stdout
    assert "Partidas abiertas al 30/11/2026 importadas (SM02: 3).\n" in result.stdout
    (home / "config.toml").write_text(
        COMPANY_CONFIG + '\n[import.ledger]\ndoc_compensacion = "Compens."\n'
        'fecha_compensacion = "Día pago"\n',
        encoding="utf-8",
    )
    again = customers("ledger", "import", "-", "--date", CUTOFF, input=renamed.encode())
    assert again.exit_code == 0, again.output
    assert "  doc_compensacion ← «Compens.»\n" in again.stdout
    assert "Partidas compensadas (SM02: 4)" in again.stdout


@pytest.mark.parametrize(
    ("aug", "reason"),
    [
        (
            "SM02\t0001006210\t1\tDZ\tX\t01.11.2026\t01.11.2026\t1,00-\tMXN\t14\t31.11.2026\n",
            "Línea 2: Fecha de compensación «31.11.2026» no es una fecha válida "
            "(use DD.MM.AAAA o DD/MM/AAAA)",
        ),
        (
            "SM02\t0001006210\t1\tDZ\tX\t01.11.2026\t01.11.2026\t1,00-\tMXN\t14\t\n",
            "Línea 2: Doc. compensación «14» sin fecha de compensación",
        ),
    ],
)
def test_unreadable_clearing_is_refused(customers: Cli, aug: str, reason: str) -> None:
    result = customers("ledger", "import", "-", "--date", CUTOFF, input=(HEADER + aug).encode())
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 1 filas rechazadas; no se importó nada (use --skip-bad para importar las "
        f"demás):\n  {reason}\n"
    )


def test_payments_since_the_previous_statement_and_the_email_line(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path
) -> None:
    result = loaded("ledger", "import", "-", "--yes", "--date", CUTOFF, input=ALL_ITEMS.encode())
    assert result.exit_code == 0, result.output
    # Before any statement: the 30 days before 10.12.2026 include the payment of 15.11.
    assert "TRANSF-77" in sections(statement_text(loaded, tmp_path, "2026-12-10"))[0]

    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    [message] = [m.message for m in smtp.messages if "a@agro.example.mx" in m.rcpt_tos]
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert (
        "Saldo: MXN 3,500.00 · Vencido: MXN 3,000.00\n"
        "Pagos y abonos recibidos desde el 31/10/2026: MXN 3,000.00\n\n" in body
    )
    html = message.get_body(("html",)).get_content()
    assert "<p>Pagos y abonos recibidos desde el 31/10/2026: MXN 3,000.00</p>" in html
    [attachment] = list(message.iter_attachments())
    payments, _ = sections(pdf_text(attachment.get_content()))
    assert "1400000050 TRANSF-77 Pago 15/11/2026 15/11/2026 A-2005 3,000.00 MXN" in payments
    assert "TRANSF-12" not in payments
    runs = json.loads(loaded("history", "1", "--format", "json").stdout)
    assert [row["pagos"] for row in runs] == ["MXN 3,000.00"]

    # After the statement of 30.11 the customer is told only of what cleared since then.
    later = statement_text(loaded, tmp_path, "2026-12-10")
    assert PAYMENTS_TITLE not in later and "TRANSF-77" not in later


def test_email_without_payments_keeps_todays_text(smtp: SmtpServer, loaded: Cli) -> None:
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    [message] = [m.message for m in smtp.messages if "pagos@ferrelopez.example.mx" in m.rcpt_tos]
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Pagos" not in body
    assert "Vencido: MXN 2,500.50\n\nCualquier duda" in body
    [attachment] = list(message.iter_attachments())
    assert PAYMENTS_TITLE not in pdf_text(attachment.get_content())
    runs = json.loads(loaded("history", "1", "--format", "json").stdout)
    assert [row["pagos"] for row in runs] == [""]


def test_payments_section_in_the_customers_language(customers: Cli, tmp_path: Path) -> None:
    assert customers("ledger", "import", "-", input=ALL_ITEMS.encode()).exit_code == 0
    assert customers("catalog", "add", "SM02", "1006210", "a@x.example", "--idioma", "en")
    english = statement_text(customers, tmp_path)
    assert "Payments and credits received since Oct 31, 2026" in english
    assert "Document Reference Type Date Applied Paid Amount Currency" in english
    assert "TRANSF-77 Payment" in english
    assert customers("catalog", "add", "SM02", "1006210", "a@x.example", "--idioma", "pt")
    portuguese = statement_text(customers, tmp_path)
    assert "Pagamentos e créditos recebidos desde 31/10/2026" in portuguese
    assert "TRANSF-77 Pagamento" in portuguese


# --- aging buckets ------------------------------------------------------------------------


def aging_ledger(*days_overdue: int) -> str:
    cutoff = date.fromisoformat(CUTOFF)
    rows = [
        f"SM02\t0001006210\t18000001{n:02d}\tRV\tB-{days}\t01.01.2026\t"
        f"{cutoff - timedelta(days=days):%d.%m.%Y}\t{days}0,00\tMXN\n"
        for n, days in enumerate(days_overdue)
    ]
    header = HEADER.rsplit("\t", 2)[0] + "\n"
    return header + "".join(rows)


def test_aging_buckets_from_config(customers: Cli, home: Path, tmp_path: Path) -> None:
    """Done when: with aging = [30, 60, 90, 120] an item 100 days overdue sits in 91–120 and
    one of 183 days in "Más de 120"."""
    (home / "config.toml").write_text(
        COMPANY_CONFIG + "\n[statement]\naging = [30, 60, 90, 120]\n", encoding="utf-8"
    )
    ledger = aging_ledger(100, 183)
    assert (
        customers("ledger", "import", "-", "--date", CUTOFF, input=ledger.encode()).exit_code == 0
    )
    text = statement_text(customers, tmp_path)
    assert "Moneda Por vencer 1–30 31–60 61–90 91–120 Más de 120 días Saldo\n" in text
    assert "MXN 0.00 0.00 0.00 0.00 1,000.00 1,830.00 2,830.00\n" in text
    assert " 100 1,000.00 MXN" in text and " 183 1,830.00 MXN" in text


def test_default_aging_buckets_stay(customers: Cli, tmp_path: Path) -> None:
    ledger = aging_ledger(100, 183)
    assert (
        customers("ledger", "import", "-", "--date", CUTOFF, input=ledger.encode()).exit_code == 0
    )
    text = statement_text(customers, tmp_path)
    assert "Moneda Por vencer 1–30 31–60 61–90 Más de 90 días Saldo\n" in text
    assert "MXN 0.00 0.00 0.00 0.00 2,830.00 2,830.00\n" in text


def test_aging_labels_in_english_and_portuguese(customers: Cli, home: Path, tmp_path: Path) -> None:
    (home / "config.toml").write_text(
        COMPANY_CONFIG + "\n[statement]\naging = [45, 120]\n", encoding="utf-8"
    )
    assert customers("ledger", "import", "-", "--date", CUTOFF, input=aging_ledger(50).encode())
    customers("catalog", "add", "SM02", "1006210", "a@x.example", "--idioma", "en")
    assert "Currency Not yet due 1–45 46–120 Over 120 days Balance\n" in statement_text(
        customers, tmp_path
    )
    customers("catalog", "add", "SM02", "1006210", "a@x.example", "--idioma", "pt")
    assert "Moeda A vencer 1–45 46–120 Mais de 120 dias Saldo\n" in statement_text(
        customers, tmp_path
    )


@pytest.mark.parametrize(
    "value",
    ["[60, 30]", "[]", "[30, 60, 90, 120, 150, 180, 210]", "[0, 30]", "[30.5]", '"30"', "[30, 30]"],
)
def test_a_bad_aging_list_is_one_line_naming_the_key(
    customers: Cli, home: Path, value: str
) -> None:
    (home / "config.toml").write_text(
        COMPANY_CONFIG + f"\n[statement]\naging = {value}\n", encoding="utf-8"
    )
    result = customers("statement", "SM02", "1006210", "-o", str(home / "x.pdf"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Configuración inválida: statement.aging = «")
    assert result.stderr.endswith(
        "debe ser una lista de 1 a 6 números enteros de días entre 1 y 3650, de menor a mayor, "
        "p. ej. [30, 60, 90, 120].\n"
    )
    assert result.stderr.count("\n") == 1


def test_a_long_payments_section_repeats_its_header_on_each_page() -> None:
    cutoff = date(2026, 11, 30)
    cleared = [
        ClearedItem(
            f"14{n:08d}", "DZ", f"T-{n}", cutoff, Decimal("-10.00"), "MXN", f"14{n:08d}", cutoff
        )
        for n in range(70)
    ]
    invoice = StatementItem("1800000001", "RV", "A-1", None, cutoff, Decimal("5.00"), "MXN")
    statement = build_statement(
        CompanyProfile(code="SM02", name="Tinacos Ejemplo S.A. de C.V."),
        StatementCustomer("SM02", "1006210", "Agroequipos", ""),
        [invoice],
        cutoff,
        payments=payments_received(cleared, cutoff, None),
    )
    pages = [
        page.extract_text() for page in PdfReader(io.BytesIO(render_statement_pdf(statement))).pages
    ]
    assert len(pages) == 2
    payments_head = "Documento Referencia Tipo Fecha Aplicado Pagó Importe Moneda"
    assert all(payments_head in page for page in pages)
    assert sum(page.count(" 10.00 MXN") for page in pages) == 70
    assert "Total MXN 700.00 MXN" in pages[1]
    assert "Detalle de partidas abiertas" in pages[1]
    assert pages[1].endswith("Página 2 de 2")

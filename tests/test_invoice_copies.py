"""Invoice copies (issue 21, item 5): each open invoice's and each received payment's CFDI,
its PDF and XML, travel with the statement: byte for byte, up to a size cap, a missing file
counted, a path out of the folder refused; the ledger's Asignación is an item field."""

from __future__ import annotations

import email
import json
import os
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sample_data import COMPANY_CONFIG, LEDGER_TSV
from smtp_server import SmtpServer
from sqlalchemy import select

from rotomail.company import copy_path
from rotomail.store.db import open_engine
from rotomail.store.models import OpenItem, table_of
from tests.conftest import Cli
from tests.test_cleared_items import ALL_ITEMS, CUTOFF

# Not valid PDFs or CFDIs: bytes that must arrive unchanged (every byte value, a BOM, CRLF).
PDF_BYTES = b"%PDF-1.7\r\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
XML_BYTES = (
    '\ufeff<?xml version="1.0" encoding="UTF-8"?>\r\n<cfdi:Comprobante Folio="A-1001" '
    'Total="1160.00" LugarExpedicion="76000">Ñandú · €</cfdi:Comprobante>\n'
).encode()


def configure(home: Path, extra: str = 'invoice_copies = "cfdi/{referencia}"\n') -> None:
    (home / "config.toml").write_text(COMPANY_CONFIG + extra, encoding="utf-8")


def put(home: Path, name: str, data: bytes) -> Path:
    path = home / "cfdi" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def received(smtp: SmtpServer, address: str) -> EmailMessage:
    [message] = [m.message for m in smtp.messages if address in m.rcpt_tos]
    return message


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename() or "": part.get_content() for part in message.iter_attachments()}


def copias(cli: Cli, run: int = 1) -> list[dict[str, object]]:
    result = cli("history", str(run), "--format", "json")
    assert result.exit_code == 0, result.output
    return [row["copias"] for row in json.loads(result.stdout)]


def run_log(home: Path) -> str:
    [log] = (home / "logs").glob("*_corrida1_*.txt")
    return log.read_text(encoding="utf-8")


def test_invoice_copies_travel_with_the_statement_byte_for_byte(
    smtp: SmtpServer, loaded: Cli, home: Path
) -> None:
    """Done when: an invoice's PDF and XML in the folder travel with its statement, byte for
    byte (the MIME parts the server received are the files)."""
    configure(home)
    put(home, "A-1001.pdf", PDF_BYTES)
    put(home, "A-1001.xml", XML_BYTES)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output

    message = received(smtp, "a@agro.example.mx")
    parts = list(message.iter_attachments())
    assert [p.get_filename() for p in parts] == [
        "1006210_20261130.pdf",
        "A-1001.pdf",
        "A-1001.xml",
    ]
    assert [p.get_content_type() for p in parts[1:]] == ["application/pdf", "application/xml"]
    files = attachments(message)
    assert files["A-1001.pdf"] == PDF_BYTES
    assert files["A-1001.xml"] == XML_BYTES
    # Nothing was left out: the e-mail has no line about copies.
    assert "Copias" not in message.get_body(("plain",)).get_content()

    # The credit note NC-17 is not an invoice; B-77 (USD) has no files: two missing, counted.
    assert copias(loaded) == [
        {
            "adjuntas": ["A-1001.pdf", "A-1001.xml"],
            "no_adjuntas": [],
            "faltantes": 2,
            "rechazadas": [],
        }
    ]
    log = run_log(home)
    assert (
        "Copias de facturas: 2 adjuntas, 2 faltantes, 0 no adjuntas por tamaño, "
        "0 rechazadas (listadas al final)\n" in log
    )
    assert "\nCopias de facturas:\n" in log


def test_without_invoice_copies_nothing_changes(smtp: SmtpServer, loaded: Cli, home: Path) -> None:
    put(home, "A-1001.pdf", PDF_BYTES)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    assert list(attachments(received(smtp, "a@agro.example.mx"))) == ["1006210_20261130.pdf"]
    assert copias(loaded) == [{"adjuntas": [], "no_adjuntas": [], "faltantes": 0, "rechazadas": []}]
    assert "Copias de facturas" not in run_log(home)


def test_copies_beyond_the_size_cap_are_named_not_attached(
    smtp: SmtpServer, loaded: Cli, home: Path
) -> None:
    configure(home, 'invoice_copies = "cfdi/{referencia}"\ninvoice_copies_max_mb = 0.01\n')
    put(home, "A-1001.pdf", PDF_BYTES)  # 1 KiB and a little: fits in 10 KiB
    put(home, "A-1001.xml", XML_BYTES)
    put(home, "B-77.pdf", os.urandom(12_000))  # does not fit any more
    put(home, "B-77.xml", XML_BYTES)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output

    message = received(smtp, "a@agro.example.mx")
    assert list(attachments(message)) == ["1006210_20261130.pdf", "A-1001.pdf", "A-1001.xml"]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    line = (
        "Copias de facturas no adjuntas por el tamaño del correo (límite 0.01 MB): "
        "B-77.pdf, B-77.xml"
    )
    assert f"\n{line}\n" in text
    assert f"<p>{line}</p>" in message.get_body(("html",)).get_content()
    assert copias(loaded) == [
        {
            "adjuntas": ["A-1001.pdf", "A-1001.xml"],
            "no_adjuntas": ["B-77.pdf", "B-77.xml"],
            "faltantes": 0,
            "rechazadas": [],
        }
    ]
    log = run_log(home)
    assert "2 adjuntas, 0 faltantes, 2 no adjuntas por tamaño" in log
    assert "no adjuntas (tamaño): B-77.pdf, B-77.xml" in log


def test_dry_run_lists_what_would_be_attached(loaded: Cli, home: Path) -> None:
    configure(home)
    put(home, "A-1001.pdf", PDF_BYTES)
    put(home, "A-1001.xml", XML_BYTES)
    result = loaded("send", "--sociedad", "SM02", "--date", CUTOFF, "--all", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Copias de 1006210: adjuntas: A-1001.pdf, A-1001.xml; faltantes 2\n" in result.stdout
    assert "Copias de 1004273: faltantes 2\n" in result.stdout  # A-1002 has no files


def test_the_outbox_eml_carries_the_copies(loaded: Cli, home: Path) -> None:
    configure(home)  # no SMTP host: the outbox channel
    put(home, "A-1001.pdf", PDF_BYTES)
    put(home, "A-1001.xml", XML_BYTES)
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert result.exit_code == 0, result.output
    eml = next((home / "outbox" / "corrida-1").glob("1006210_*.eml")).read_bytes()
    message = email.message_from_bytes(eml, policy=default)
    assert isinstance(message, EmailMessage)
    files = attachments(message)
    assert files["A-1001.pdf"] == PDF_BYTES
    assert files["A-1001.xml"] == XML_BYTES


def test_a_payments_cfdi_travels_with_the_statement(
    smtp: SmtpServer, loaded: Cli, home: Path
) -> None:
    """The payment in the payments section (TRANSF-77) brings its CFDI de pago; the one
    cleared months before (TRANSF-12) is not on the statement, and neither is its CFDI."""
    result = loaded("ledger", "import", "-", "--yes", "--date", CUTOFF, input=ALL_ITEMS.encode())
    assert result.exit_code == 0, result.output
    configure(home)
    put(home, "TRANSF-77.pdf", PDF_BYTES)
    put(home, "TRANSF-77.xml", XML_BYTES)
    put(home, "TRANSF-12.pdf", PDF_BYTES)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    files = attachments(received(smtp, "a@agro.example.mx"))
    assert list(files) == ["1006210_20261130.pdf", "TRANSF-77.pdf", "TRANSF-77.xml"]
    assert files["TRANSF-77.xml"] == XML_BYTES
    # three open invoices without files: six missing
    assert copias(loaded)[0]["faltantes"] == 6


def test_a_path_out_of_the_folder_is_refused(smtp: SmtpServer, loaded: Cli, home: Path) -> None:
    ledger = LEDGER_TSV.replace("A-1001", "../secreto")
    result = loaded("ledger", "import", "-", "--yes", "--date", CUTOFF, input=ledger.encode())
    assert result.exit_code == 0, result.output
    configure(home)
    (home / "cfdi").mkdir()
    (home / "secreto.pdf").write_bytes(b"not for the customer")
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    assert list(attachments(received(smtp, "a@agro.example.mx"))) == ["1006210_20261130.pdf"]
    [copies] = copias(loaded)
    assert copies["rechazadas"] == ["1800000001: cfdi/../secreto"]
    assert "rechazadas (fuera de la carpeta): 1800000001: cfdi/../secreto" in run_log(home)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'invoice_copies = "cfdi/{folio}"',
            "invoice_copies = «cfdi/{folio}»: {folio} no es un campo de la partida; use "
            "{referencia}, {documento}, {asignacion}.",
        ),
        (
            "invoice_copies_max_mb = 0",
            "Configuración inválida: companies.SM02.invoice_copies_max_mb = «0» ({config}); "
            "debe ser un número de megabytes mayor que 0 y hasta 100.",
        ),
        (
            'invoice_copies_max_mb = "10"',
            "Configuración inválida: companies.SM02.invoice_copies_max_mb = «10» ({config}); "
            "debe ser un número de megabytes mayor que 0 y hasta 100.",
        ),
    ],
)
def test_bad_invoice_copies_settings_are_one_line(
    loaded: Cli, home: Path, setting: str, message: str
) -> None:
    configure(home, setting + "\n")
    result = loaded("send", "--sociedad", "SM02", "--date", CUTOFF, "--all", "--dry-run")
    assert result.exit_code == 2
    config = home / "config.toml"
    expected = message.replace("{config}", str(config))
    if expected.startswith("invoice_copies"):
        expected = f"{config}: [companies.SM02] {expected}"
    assert result.stderr == f"Error: {expected}\n"


ASSIGNED = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tAsignación\tFecha doc.\t"
    "Vencimiento neto\tImporte en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t5F3A9C2E-UUID\t01.10.2026\t31.10.2026\t"
    "1.160,00\tMXN\n"
)


def test_asignacion_is_read_and_names_the_copies(
    smtp: SmtpServer, loaded: Cli, home: Path, db_url: str
) -> None:
    result = loaded("ledger", "import", "-", "--yes", "--date", CUTOFF, input=ASSIGNED.encode())
    assert result.exit_code == 0, result.output
    assert "  asignacion ← «Asignación»\n" in result.stdout
    engine = open_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(select(table_of(OpenItem).c.asignacion)).scalars().all()
    finally:
        engine.dispose()
    assert stored == ["5F3A9C2E-UUID"]

    configure(home, 'invoice_copies = "cfdi/{asignacion}"\n')
    put(home, "5F3A9C2E-UUID.xml", XML_BYTES)
    sent = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", CUTOFF)
    assert sent.exit_code == 0, sent.output
    files = attachments(received(smtp, "a@agro.example.mx"))
    assert files["5F3A9C2E-UUID.xml"] == XML_BYTES


def test_asignacion_by_column_option(customers: Cli) -> None:
    renamed = ASSIGNED.replace("Asignación", "Folio fiscal")
    result = customers(
        "ledger",
        "import",
        "-",
        "--date",
        CUTOFF,
        "--column",
        "asignacion=Folio fiscal",
        input=renamed.encode(),
    )
    assert result.exit_code == 0, result.output
    assert "  asignacion ← «Folio fiscal»\n" in result.stdout


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("cfdi/{referencia}", "A-1001", "/h/cfdi/A-1001"),
        ("cfdi/{referencia}", "../x", None),
        ("cfdi/{referencia}", "..", None),
        ("cfdi/{referencia}", "sub/../../x", None),
        ("cfdi/{referencia}", "/etc/passwd", "/h/cfdi/etc/passwd"),
        ("{referencia}", "/etc/passwd", None),
        ("/srv/cfdi/{referencia}", "A-1001", "/srv/cfdi/A-1001"),
        ("/srv/cfdi/{referencia}", "../../etc/x", None),
    ],
)
def test_an_item_field_never_takes_the_path_out_of_the_folder(
    pattern: str, value: str, expected: str | None
) -> None:
    path = copy_path("/h", pattern, {"referencia": value})
    assert (str(path) if path is not None else None) == expected

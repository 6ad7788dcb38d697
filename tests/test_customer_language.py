"""Each customer's statement and e-mail in their language: master (SAP key or ISO code),
catalog override, company fallback; document types in words; the e-mail's figures."""

from __future__ import annotations

import email
import io
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Cli
from pypdf import PdfReader

from rotomail.statement.labels import document_type_text

DATE = "2026-11-30"
# Two more customers in the master: an English one (SAP key E) and one whose catalog entry
# asks for Portuguese although the master says Spanish.
MORE_CUSTOMERS = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
    "SM02\t0001008950\tRio Bravo Building Supply LLC\tXEXX010101000\tap@riobravo.example.com\tE\n"
    "SM02\t0001002000\tMateriais Exemplo Ltda.\t\tcontas@materiais.example.com\tes\n"
)
# No "*" subtotal rows: this file is about languages, not control totals.
LEDGER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.10.2026\t1.160,00\tMXN\n"
    "SM02\t0001006210\t1800000002\tDG\tNC-17\t05.11.2026\t05.11.2026\t160,00-\tMXN\n"
    "SM02\t0001008950\t1800000010\tRV\tUS-1\t01.09.2026\t01.10.2026\t2.500,00\tUSD\n"
    "SM02\t0001008950\t1800000011\tDZ\tPAY-1\t15.11.2026\t15.11.2026\t500,00-\tUSD\n"
    "SM02\t0001002000\t1800000020\tRV\tBR-1\t01.11.2026\t15.12.2026\t1.234,50\tMXN\n"
    "SM02\t0001002000\t1800000021\tZR\tBR-2\t01.11.2026\t15.12.2026\t100,00\tMXN\n"
)


@pytest.fixture
def languages(customers: Cli, home: Path) -> Cli:
    config = (home / "config.toml").read_text(encoding="utf-8")
    config += (
        '\n[document_types.ZR]\nes = "Refacturación"\nen = "Rebilling"\npt = "Refaturamento"\n'
    )
    (home / "config.toml").write_text(config, encoding="utf-8")
    assert customers("customers", "import", "-", input=MORE_CUSTOMERS.encode()).exit_code == 0
    result = customers("ledger", "import", "-", "--date", DATE, input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    for cliente, correos, extra in [
        ("1006210", "a@agro.example.mx", []),
        ("1008950", "ap@riobravo.example.com", []),
        ("1002000", "contas@materiais.example.com", ["--idioma", "P"]),
    ]:
        result = customers("catalog", "add", "SM02", cliente, correos, *extra)
        assert result.exit_code == 0, result.output
    return customers


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def message(path: Path) -> tuple[str, str]:
    """(subject, decoded text body) of a sent .eml."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(("plain",))
    assert body is not None
    return str(parsed["Subject"]), body.get_content()


@pytest.mark.parametrize(
    ("cliente", "idioma", "in_pdf", "subject", "in_body"),
    [
        (
            "1006210",
            "es",
            ["Estado de cuenta", "Factura", "Nota de crédito", "1,160.00", "Por vencer"],
            "Estado de Cuenta Tinacos Ejemplo S.A. de C.V.",
            [
                "Estimado Cliente: Agroequipos del Bajío S.A. de C.V.",
                "No. de cliente: 1006210 · Fecha de corte: 30/11/2026",
                "Saldo: MXN 1,000.00 · Vencido: MXN 1,000.00",
            ],
        ),
        (
            "1008950",
            "en",
            ["Account statement", "Invoice", "Payment", "Not yet due", "2,500.00"],
            "Account Statement Tinacos Ejemplo S.A. de C.V.",
            [
                "Dear Customer: Rio Bravo Building Supply LLC",
                "Customer no.: 1008950 · Statement date: Nov 30, 2026",
                "Balance: USD 2,000.00 · Overdue: USD 2,000.00",
            ],
        ),
        (
            "1002000",
            "pt",
            ["Extrato de conta", "Fatura", "Refaturamento", "1.234,50", "A vencer"],
            "Extrato de Conta Tinacos Ejemplo S.A. de C.V.",
            [
                "Prezado Cliente: Materiais Exemplo Ltda.",
                "Nº do cliente: 1002000 · Data de corte: 30/11/2026",
                "Saldo: MXN 1.334,50 · Vencido: 0,00",
            ],
        ),
    ],
)
def test_each_customer_gets_their_language(
    languages: Cli,
    home: Path,
    cliente: str,
    idioma: str,
    in_pdf: list[str],
    subject: str,
    in_body: list[str],
) -> None:
    result = languages("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output
    folder = home / "outbox" / "corrida-1"
    text = pdf_text(folder / f"{cliente}_20261130.pdf")
    for expected in in_pdf:
        assert expected in text
    sent_subject, body = message(next(folder.glob(f"{cliente}_20261130*.eml")))
    assert sent_subject == subject
    for expected in in_body:
        assert expected in body
    runs = json.loads(languages("history", "--format", "json", "1").stdout)
    assert {row["cliente"]: row["idioma"] for row in runs}[cliente] == idioma
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert any(cliente in line and f" {idioma} " in line for line in log.splitlines())


def test_statement_command_uses_the_customers_language(languages: Cli, tmp_path: Path) -> None:
    out = tmp_path / "en.pdf"
    result = languages("statement", "SM02", "1008950", "--date", DATE, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert "Account statement" in text
    assert "Invoice" in text


def test_company_language_is_the_fallback(customers: Cli, home: Path, tmp_path: Path) -> None:
    config = (home / "config.toml").read_text(encoding="utf-8")
    (home / "config.toml").write_text(config + 'language = "en"\n', encoding="utf-8")
    no_language = "Sociedad\tCliente\tNombre\nSM02\t0001007777\tSin Idioma S.A.\n"
    assert customers("customers", "import", "-", input=no_language.encode()).exit_code == 0
    out = tmp_path / "s.pdf"
    result = customers("statement", "SM02", "1007777", "--date", DATE, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Account statement" in pdf_text(out)


@pytest.mark.parametrize(
    ("paste", "idioma", "message"),
    [
        ("Sociedad\tCliente\tCorreo\tIdioma\nSM02\t1006210\ta@agro.example.mx\tE\n", "en", ""),
        ("Sociedad\tCliente\tCorreo\tIdioma\nSM02\t1006210\ta@agro.example.mx\tpt\n", "pt", ""),
        ("Sociedad\tCliente\tCorreo\tIdioma\nSM02\t1006210\ta@agro.example.mx\t\n", "", ""),
        (
            "Sociedad\tCliente\tCorreo\tIdioma\nSM02\t1006210\ta@agro.example.mx\tX\n",
            None,
            "Idioma «X» no válido: use S, E o P (claves de SAP) o es, en, pt.",
        ),
    ],
)
def test_catalog_paste_with_an_idioma_column(
    customers: Cli, paste: str, idioma: str | None, message: str
) -> None:
    if idioma is None:  # without --yes: the plan shows each row's message
        result = customers("catalog", "import", "-", "--format", "json", input=paste.encode())
        assert result.exit_code == 1
        assert json.loads(result.stdout)[0]["mensaje"] == message
        assert customers("catalog", "search", "--format", "json").stdout.strip() == "[]"
        return
    result = customers("catalog", "import", "-", "--yes", "--format", "json", input=paste.encode())
    assert result.exit_code == 0, result.output
    changes = json.loads(
        customers("catalog", "changes", "SM02", "1006210", "--format", "json").stdout
    )
    expected = "a@agro.example.mx" + (f" ({idioma})" if idioma else "")
    assert changes[-1]["despues"] == expected


def test_without_a_header_extra_columns_stay_addresses(customers: Cli) -> None:
    paste = "SM02\t1006210\ta@agro.example.mx\tb@agro.example.mx\n"
    result = customers("catalog", "import", "-", "--yes", "--format", "json", input=paste.encode())
    assert result.exit_code == 0, result.output
    rows = json.loads(customers("catalog", "search", "--format", "json").stdout)
    assert rows[0]["correos"] == ["a@agro.example.mx", "b@agro.example.mx"]


def test_catalog_add_refuses_an_unknown_language(customers: Cli) -> None:
    result = customers("catalog", "add", "SM02", "1006210", "a@agro.example.mx", "--idioma", "fr")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Idioma «fr» no válido: use S, E o P (claves de SAP) o es, en, pt.\n"
    )


@pytest.mark.parametrize(
    ("code", "lang", "custom", "expected"),
    [
        ("RV", "es", None, "Factura"),
        ("DR", "en", None, "Invoice"),
        ("DG", "es", None, "Nota de crédito"),
        ("DG", "en", None, "Credit memo"),
        ("DZ", "pt", None, "Pagamento"),
        ("AB", "es", None, "Documento contable"),
        ("DA", "en", None, "Customer document"),
        ("KR", "pt", None, "Fatura de fornecedor"),
        ("KZ", "es", None, "Pago a proveedor"),
        ("SA", "en", None, "G/L document"),
        ("RE", "es", None, "Factura de proveedor"),
        ("rv", "en", None, "Invoice"),
        ("ZR", "es", None, "ZR"),  # unknown: the code as is
        ("ZR", "en", {"ZR": {"es": "Refacturación", "en": "Rebilling"}}, "Rebilling"),
        ("ZR", "pt", {"ZR": {"es": "Refacturación"}}, "Refacturación"),  # falls back to es
        ("RV", "es", {"RV": {"es": "Factura de venta"}}, "Factura de venta"),  # company wins
    ],
)
def test_document_type_in_words(
    code: str, lang: str, custom: dict[str, dict[str, str]] | None, expected: str
) -> None:
    assert document_type_text(code, lang, custom) == expected


def test_document_types_table_must_name_languages(customers: Cli, home: Path) -> None:
    config = (home / "config.toml").read_text(encoding="utf-8")
    (home / "config.toml").write_text(
        config + '\n[document_types.ZR]\nfr = "x"\n', encoding="utf-8"
    )
    result = customers("statement", "SM02", "1006210", "--date", DATE, "-o", "/dev/null")
    assert result.exit_code == 2
    assert (
        "clave desconocida «document_types.ZR.fr»; ¿quiso decir «document_types.ZR.pt»?"
        in result.stderr
    )


def test_unknown_field_in_a_customers_language_is_a_configuration_error(
    languages: Cli, home: Path
) -> None:
    """Only the English customer uses the English template: its typo still stops the run
    before anything is recorded."""
    folder = home / "templates" / "en"
    folder.mkdir(parents=True)
    (folder / "statement.txt").write_text("Balance ${balanse}\n", encoding="utf-8")
    result = languages("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 2
    assert "usa la variable ${balanse}, que no existe" in result.stderr
    assert "${overdue}" in result.stderr  # the new fields are listed as available
    assert json.loads(languages("history", "--format", "json").stdout) == []

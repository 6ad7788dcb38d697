"""Any name, any reader: names beyond windows-1252 printed as written (Noto Sans embedded
only where needed), names no font has flagged per customer, English dates as "Nov 5,
2026", and the company's phone and address per language."""

from __future__ import annotations

import email
import io
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Cli
from pypdf import PdfReader

MORE_CUSTOMERS = (
    "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n"
    "SM02\t0001005001\tZażółć Gęślą Jaźń Sp. z o.o.\t\tbiuro@zazolc.example.com\tS\n"
    "SM02\t0001005002\tООО Ромашка\t\tinfo@romashka.example.com\tS\n"
    "SM02\t0001005003\t北京建材有限公司\t\tcaigou@beijing.example.com\tS\n"
    "SM02\t0001008950\tRio Bravo Building Supply LLC\tXEXX010101000\tap@riobravo.example.com\tE\n"
)
LEDGER = (
    "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
    "Importe en ML\tML\n"
    "SM02\t0001006210\t1800000001\tRV\tA-1001\t01.10.2026\t31.10.2026\t1.160,00\tMXN\n"
    "SM02\t0001005001\t1800000030\tRV\tPL-1\t01.10.2026\t31.10.2026\t1.000,00\tMXN\n"
    "SM02\t0001005002\t1800000031\tRV\tRU-1\t01.10.2026\t31.10.2026\t2.000,00\tMXN\n"
    "SM02\t0001005003\t1800000032\tRV\tCN-1\t01.10.2026\t31.10.2026\t3.000,00\tMXN\n"
    "SM02\t0001008950\t1800000010\tRV\tUS-1\t12.09.2026\t12.10.2026\t2.500,00\tUSD\n"
    "SM02\t0001008950\t1800000011\tDZ\tPAY-1\t03.11.2026\t03.11.2026\t500,00-\tUSD\n"
)
DATE = "2026-11-05"
CATALOG = [
    ("1006210", "a@agro.example.mx"),
    ("1005001", "biuro@zazolc.example.com"),
    ("1005002", "info@romashka.example.com"),
    ("1005003", "caigou@beijing.example.com"),
    ("1008950", "ap@riobravo.example.com"),
]
DD_MM_YYYY = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b")


@pytest.fixture
def names(customers: Cli, home: Path) -> Cli:
    config = (home / "config.toml").read_text(encoding="utf-8")
    config += (
        'address = "Av. Industria 100, Querétaro, Qro."\n'
        "[companies.SM02.en]\n"
        'phone = "+1 800 000 0000 option 2"\n'
        'address = "100 Industria Ave., Queretaro, Mexico"\n'
    )
    (home / "config.toml").write_text(config, encoding="utf-8")
    assert customers("customers", "import", "-", input=MORE_CUSTOMERS.encode()).exit_code == 0
    result = customers("ledger", "import", "-", "--date", DATE, input=LEDGER.encode())
    assert result.exit_code == 0, result.output
    for cliente, correo in CATALOG:
        assert customers("catalog", "add", "SM02", cliente, correo).exit_code == 0
    return customers


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def parts(path: Path) -> tuple[str, str, str, bytes]:
    """(subject, text body, html body, the PDF) of an .eml in the outbox."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    pdf = next(p for p in parsed.iter_attachments() if p.get_content_type() == "application/pdf")
    return str(parsed["Subject"]), text.get_content(), html.get_content(), pdf.get_content()


def test_polish_russian_and_chinese_names(names: Cli, home: Path) -> None:
    result = names("send", "--sociedad", "SM02", "--all", "--verbose")
    assert result.exit_code == 0, result.output
    folder = home / "outbox" / "corrida-1"
    polish = (folder / "1005001_20261105.pdf").read_bytes()
    russian = (folder / "1005002_20261105.pdf").read_bytes()
    assert "Zażółć Gęślą Jaźń Sp. z o.o." in pdf_text(polish)
    assert "ООО Ромашка" in pdf_text(russian)
    assert b"NotoSans" in polish and b"NotoSans" in russian
    # the usual Latin statement embeds no font
    latin = (folder / "1006210_20261105.pdf").read_bytes()
    assert b"/FontFile" not in latin and b"NotoSans" not in latin
    # the Chinese name: "?" in the PDF, one Spanish line in the output and in the log
    assert "CLIENTE\n????????\n" in pdf_text((folder / "1005003_20261105.pdf").read_bytes())
    warning = (
        "Aviso: el estado de cuenta de 1005003 北京建材有限公司 imprime «?» en lugar de "
        "«北京建材有限公司»: ninguna fuente del PDF tiene esos caracteres."
    )
    assert result.stdout.count(warning) == 1
    assert "1005001" not in "".join(
        line for line in result.stdout.splitlines() if line.startswith("Aviso")
    )
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "Avisos: 1 (listados al final)" in log
    assert log.rstrip().endswith(warning)


def test_a_name_no_font_has_is_flagged_under_cron_too(names: Cli, home: Path) -> None:
    """Without --verbose (cron) the customers sent are not listed, the warning is."""
    result = names("send", "--sociedad", "SM02", "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Aviso: el estado de cuenta de 1005003 ") == 1


def test_statement_command_flags_it(names: Cli, tmp_path: Path) -> None:
    out = tmp_path / "cn.pdf"
    result = names("statement", "SM02", "1005003", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Aviso: el estado de cuenta de 1005003 " in result.stderr
    result = names("statement", "SM02", "1005002", "-o", str(tmp_path / "ru.pdf"))
    assert result.exit_code == 0 and "Aviso" not in result.stderr
    assert "ООО Ромашка" in pdf_text((tmp_path / "ru.pdf").read_bytes())


def test_english_statement_has_no_dd_mm_yyyy(names: Cli, home: Path) -> None:
    """A US reader takes 05/11/2026 for May 11: the English PDF (head, item table) and the
    e-mail (text and HTML) say "Nov 5, 2026"; the English phone and address are used."""
    result = names("send", "--sociedad", "SM02", "--all")
    assert result.exit_code == 0, result.output
    folder = home / "outbox" / "corrida-1"
    subject, text, html, pdf = parts(next(folder.glob("1008950_20261105*.eml")))
    document = pdf_text(pdf)
    for where, content in (("pdf", document), ("text", text), ("html", html), ("subj", subject)):
        assert not DD_MM_YYYY.search(content), (where, DD_MM_YYYY.search(content))
    assert "Statement date: Nov 5, 2026" in document
    assert "US-1 Invoice Sep 12, 2026 Oct 12, 2026 24 2,500.00 USD" in document
    assert "Statement date: Nov 5, 2026" in text and "Statement date: Nov 5, 2026" in html
    assert "+1 800 000 0000 option 2" in document and "+1 800 000 0000 option 2" in text
    assert "100 Industria Ave., Queretaro, Mexico" in document
    assert "opción 2" not in document + text + html
    # the Spanish customer keeps the company's own phone, address and dates
    _, spanish_text, _, spanish_pdf = parts(next(folder.glob("1006210_20261105*.eml")))
    spanish = pdf_text(spanish_pdf)
    assert "Fecha de corte: 05/11/2026" in spanish and "05/11/2026" in spanish_text
    assert "800 000 0000 opción 2" in spanish and "Av. Industria 100, Querétaro" in spanish
    assert "option 2" not in spanish + spanish_text


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[companies.SM02.en]\nfax = "1"\n', "companies.SM02.en.fax"),
        ("[companies.SM02.en]\nphone = 5\n", "companies.SM02.en.phone"),
        ("[companies.SM02]\nen = 5\n", "[companies.SM02.en] debe ser una tabla"),
    ],
)
def test_per_language_profile_is_checked(
    customers: Cli, home: Path, table: str, message: str
) -> None:
    config = (home / "config.toml").read_text(encoding="utf-8")
    if table.startswith("[companies.SM02]\n"):
        config += table.removeprefix("[companies.SM02]\n")
    else:
        config += table
    (home / "config.toml").write_text(config, encoding="utf-8")
    result = customers("send", "--sociedad", "SM02", "--all")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output

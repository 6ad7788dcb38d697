"""The statement PDF, read back with pypdf."""

from __future__ import annotations

import io
import re
import tomllib
import warnings
from collections import defaultdict
from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sample_data import COMPANY

from rotomail.cli.demo import DEMO_CONFIG
from rotomail.company import CompanyProfile
from rotomail.inputs.parsers import parse_customers, parse_ledger
from rotomail.statement.labels import format_amount, format_date, labels
from rotomail.statement.model import Statement, StatementCustomer, StatementItem, build_statement
from rotomail.statement.pdf import (
    needs_unicode_font,
    pdf_text,
    render_statement_pdf,
    uncovered,
    unicode_text,
)

CUT = date(2024, 3, 31)
CUSTOMER = StatementCustomer("SM02", "0001006210", "Ferretería Ñandú S.A. de C.V.", "FNA990101XY2")


def items(count: int) -> list[StatementItem]:
    """``count`` items over every aging bucket, MXN and USD, with credit notes."""
    result = []
    for n in range(count):
        due = CUT - timedelta(days=(n * 7) % 150 - 20)
        tipo = ("RV", "RV", "DG", "RV", "DZ")[n % 5]
        amount = Decimal(1000 + n * 37) + Decimal(n % 100) / 100
        result.append(
            StatementItem(
                documento=str(1_800_000_000 + n),
                tipo=tipo,
                referencia=f"A-{n:05d}",
                fecha_documento=due - timedelta(days=30),
                vencimiento=due,
                importe=amount if tipo == "RV" else -amount,
                moneda="USD" if n % 3 == 0 else "MXN",
            )
        )
    return result


def statement(
    count: int = 12, company: CompanyProfile = COMPANY, customer: StatementCustomer = CUSTOMER
) -> Statement:
    return build_statement(company, customer, items(count), CUT)


def pages_text(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_statement_contents() -> None:
    st = statement()
    (text,) = pages_text(render_statement_pdf(st))
    for expected in (
        "Tinacos Ejemplo S.A. de C.V.",
        "RFC: TEJ010101AB1",
        "Estado de cuenta",
        "Fecha de corte: 31/03/2024",
        "Ferretería Ñandú S.A. de C.V.",
        "1006210",
        "FNA990101XY2",
        "Resumen por moneda",
        "Por vencer",
        "Más de 90 días",
        "Días vencidos",
        "Cuentas por Cobrar: tel. 800 000 0000 opción 2 · cobranza@example.mx",
        "Página 1 de 1",
    ):
        assert expected in text
    assert "0001006210" not in text
    assert "Sin saldo pendiente" not in text
    for summary in st.summaries:
        total = format_amount(summary.balance, "es")
        assert f"Total {summary.moneda} {total}" in text
        assert text.count(total) >= 2  # in the summary and in the detail's total
    for line in st.lines:
        assert line.item.documento in text
        assert format_amount(line.importe, "es") in text


def test_credit_notes_print_as_negative() -> None:
    st = statement()
    (text,) = pages_text(render_statement_pdf(st))
    credits = [line for line in st.lines if line.importe < 0]
    assert credits
    for line in credits:
        assert f"-{format_amount(-line.importe, 'es')}" in text


def test_zero_statement_says_so() -> None:
    st = build_statement(COMPANY, CUSTOMER, [], CUT)
    (text,) = pages_text(render_statement_pdf(st))
    assert "Sin saldo pendiente" in text
    assert "Ferretería Ñandú S.A. de C.V." in text
    assert "Página 1 de 1" in text
    assert "Documento" not in text  # no empty detail table


def test_netting_to_zero_shows_items_and_says_no_balance() -> None:
    pair = items(1)[0]
    credit = replace(pair, documento="1400000001", tipo="DG", importe=-pair.importe)
    st = build_statement(COMPANY, CUSTOMER, [pair, credit], CUT)
    (text,) = pages_text(render_statement_pdf(st))
    assert "Sin saldo pendiente" in text
    assert "1400000001" in text
    assert f"Total {pair.moneda} 0.00" in text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "pt",
            ["Extrato de conta", "Data de corte: 31/03/2024", "A vencer", "Mais de 90 dias",
             "Página 1 de 1", "Contas a Receber"],
        ),
        (
            "en",
            ["Account statement", "Statement date: Mar 31, 2024", "Not yet due", "Over 90 days",
             "Page 1 of 1", "Accounts Receivable", "Days overdue"],
        ),
    ],
)  # fmt: skip
def test_other_languages(lang: str, expected: list[str]) -> None:
    st = statement(company=replace(COMPANY, language=lang))
    (text,) = pages_text(render_statement_pdf(st))
    for label in expected:
        assert label in text
    assert "Estado de cuenta" not in text
    for summary in st.summaries:
        assert format_amount(summary.balance, lang) in text
    if lang == "pt":
        assert re.search(r"\d\.\d{3},\d{2}", text)  # 1.234,56


@pytest.mark.parametrize(
    "name",
    [
        "Ōsaka Trading 株式会社",
        "Café 👍🏽 ☕ Ελληνικά Ltd",
        "Ñandú\tline\nbreak\x00 Œuvre “quoted” – €",
        "Ｆｕｌｌｗｉｄｔｈ ﬁne Straße",
        "",
    ],
)
def test_any_unicode_name_renders(name: str) -> None:
    customer = replace(CUSTOMER, nombre=name)
    company = replace(COMPANY, name=f"{name} Holding", phone="☎ 800 000 0000")
    st = statement(company=company, customer=customer)
    (text,) = pages_text(render_statement_pdf(st))
    assert "Página 1 de 1" in text
    printable = unicode_text if needs_unicode_font(st) else pdf_text
    assert printable(name).strip().split(" ")[0] in text


@pytest.mark.parametrize(
    "name",
    [
        "Zażółć Gęślą Jaźń Sp. z o.o.",
        "ООО Ромашка",
        "Łódź Budowa Sp. z o.o.",
        "Ελληνικά Δομικά Α.Ε.",
        "Công ty Xây dựng Đà Nẵng",
        "Čokoláda s.r.o. Şişli Ağır Sanayi",
    ],
)
def test_names_beyond_windows_1252_are_printed_as_written(name: str) -> None:
    """Polish, Russian, Greek, Vietnamese, Czech and Turkish names come out of the PDF as
    they went in (Noto Sans embedded), in the customer block and the company's name; the
    statement's labels and figures too."""
    customer = replace(CUSTOMER, nombre=name)
    company = replace(COMPANY, address=f"ul. {name}, Warszawa")
    st = statement(company=company, customer=customer)
    pdf = render_statement_pdf(st)
    (text,) = pages_text(pdf)
    assert name in text
    assert f"ul. {name}, Warszawa" in text
    assert "Estado de cuenta" in text and "Página 1 de 1" in text
    assert "?" not in text
    assert b"NotoSans" in pdf and b"/FontFile2" in pdf
    assert uncovered(st) == ""
    assert len(pdf) < 60_000  # a subset of the font, not the whole of it


def test_a_latin_statement_embeds_no_font() -> None:
    """The usual statement (Spanish, Portuguese, windows-1252) stays in the core font:
    no font file in the PDF, the same size as before."""
    customer = replace(CUSTOMER, nombre="Ferretería Ñandú “La Económica” – São Paulo €")
    st = statement(customer=customer)
    assert not needs_unicode_font(st)
    pdf = render_statement_pdf(st)
    assert b"/FontFile" not in pdf and b"NotoSans" not in pdf
    assert b"/Helvetica" in pdf
    assert customer.nombre in pages_text(pdf)[0]


def test_characters_no_font_has_are_named() -> None:
    """A Chinese name: the Latin part printed, the rest "?", and ``uncovered`` names the
    characters (the run warns with them)."""
    customer = replace(CUSTOMER, nombre="Пекин 北京建材 Ltd")
    st = statement(customer=customer)
    (text,) = pages_text(render_statement_pdf(st))
    assert "Пекин ???? Ltd" in text
    assert uncovered(st) == "北京建材"
    assert uncovered(statement()) == ""


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("Ferretería Ñandú, São Paulo, Curaçao", "Ferretería Ñandú, São Paulo, Curaçao"),
        ("Ōsaka Trading 株式会社", "Osaka Trading ????"),
        ("Łódź Ελλάδα", "?ódz ??????"),  # ó is Latin-1, ź folds to z, Ł and Greek do not
        ("€ – “x” … Œ", "€ – “x” … Œ"),  # windows-1252 has them
        ("ﬁn Ｆｕｌｌ", "fin Full"),
        ("a\tb\nc", "a b c"),
        ("thumbs 👍🏽", "thumbs ??"),
        ("zero\u200dwidth\ufe0f", "zerowidth"),
    ],
)
def test_pdf_text_fallback(raw: str, printed: str) -> None:
    assert pdf_text(raw) == printed
    pdf_text(raw).encode("windows-1252")  # always printable in the core fonts


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("Łódź Ελλάδα Москва", "Łódź Ελλάδα Москва"),
        ("Ōsaka Trading 株式会社", "Ōsaka Trading ????"),
        ("e\u0301 composed", "é composed"),  # NFC
        ("a\tb\nc\x00", "a b c "),
        ("ﬁn Ｆｕｌｌ", "fin Full"),  # compatibility forms the font lacks: their letters
        ("zero\u200dwidth", "zerowidth"),
    ],
)
def test_unicode_text_fallback(raw: str, printed: str) -> None:
    assert unicode_text(raw) == printed


def test_long_texts_are_cut_not_overflowing() -> None:
    customer = replace(CUSTOMER, nombre="Distribuidora " * 20)
    long_ref = replace(items(1)[0], referencia="REFERENCIA-MUY-LARGA-" * 5)
    company = replace(COMPANY, name="Compañía Industrial " * 8)
    st = build_statement(company, customer, [long_ref], CUT)
    (text,) = pages_text(render_statement_pdf(st))
    assert "…" in text
    assert "Página 1 de 1" in text


def test_headers_fit_in_every_language() -> None:
    for lang in ("es", "pt", "en"):
        st = statement(company=replace(COMPANY, language=lang))
        (text,) = pages_text(render_statement_pdf(st))
        assert "…" not in text, lang


def test_many_items_span_pages_with_page_numbers() -> None:
    st = statement(500)
    pages = pages_text(render_statement_pdf(st))
    count = len(pages)
    assert count >= 5
    for number, text in enumerate(pages, start=1):
        assert f"Página {number} de {count}" in text
        assert "Documento" in text  # the table header repeats
    assert "Página 2 de" in pages[1]
    assert "Estado de cuenta" in pages[1]  # continuation header
    everything = "\n".join(pages)
    for line in st.lines:
        assert line.item.documento in everything
    for summary in st.summaries:
        assert f"Total {summary.moneda} {format_amount(summary.balance, 'es')}" in everything


def test_ten_or_more_pages_number_cleanly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fpdf2 warns when the page alias is too narrow
        pdf = render_statement_pdf(statement(700))
    pages = pages_text(pdf)
    assert len(pages) >= 10
    assert f"Página 10 de {len(pages)}" in pages[9]


def test_long_contact_line_is_cut_before_the_page_number() -> None:
    company = replace(COMPANY, phone="800 000 0000 " * 12, reply_to="cobranza@example.mx")
    (text,) = pages_text(render_statement_pdf(statement(company=company)))
    assert "Cuentas por Cobrar: tel. 800 000 0000" in text
    assert "…" in text
    assert "Página 1 de 1" in text


def footer_fonts(
    pdf: bytes, starts: tuple[str, ...] = ("Página", "Cuentas por Cobrar")
) -> list[set[tuple[str, float]]]:
    """Per page, the (font, size) of the footer's texts (those beginning with ``starts``)."""
    pages: list[set[tuple[str, float]]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.startswith(starts):
            pages[-1].add((str(font["/BaseFont"]), round(size * tm[0], 2)))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        pages.append(set())
        page.extract_text(visitor_text=visit)
    return pages


def test_footers_are_regular_small_text_on_every_page() -> None:
    """Each footer is drawn as its page closes, after the page's bold total row: it selects
    its own font."""
    pages = footer_fonts(render_statement_pdf(statement(120)))
    assert len(pages) == 3
    assert all(found == {("/Helvetica", 7.5)} for found in pages), pages


# --- the demo's statements with the installed fpdf2 ------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_DATE = date(2026, 11, 30)  # the key date of examples/partidas_abiertas.txt


def demo_statements() -> list[Statement]:
    """The statements ``rotomail demo`` sends: examples/' open items and customer master,
    the demo's companies, each customer in its language."""
    tables = tomllib.loads(DEMO_CONFIG)["companies"]
    companies = {code: CompanyProfile(code=code, **table) for code, table in tables.items()}
    master = parse_customers((EXAMPLES / "clientes_sap.csv").read_bytes(), "clientes_sap.csv")
    customers = {(c.sociedad, c.cliente): c for c in master.rows}
    ledger = parse_ledger((EXAMPLES / "partidas_abiertas.txt").read_bytes(), "partidas.txt")
    items: dict[tuple[str, str], list[StatementItem]] = defaultdict(list)
    for row in ledger.rows:
        item = StatementItem(
            **{f.name: getattr(row, f.name) for f in fields(StatementItem) if hasattr(row, f.name)}
        )
        items[row.sociedad, row.cliente].append(item)
    statements = []
    for (sociedad, cliente), open_items in items.items():
        record = customers[sociedad, cliente]
        customer = StatementCustomer(sociedad, cliente, record.nombre, record.rfc)
        statements.append(
            build_statement(
                companies[sociedad], customer, open_items, DEMO_DATE, language=record.idioma
            )
        )
    return statements


def test_demo_statements_render_with_the_installed_fpdf2() -> None:
    """fpdf2 has no upper bound in pyproject.toml: whatever release is installed must draw
    every demo statement (both companies, three languages) with all its text, the page
    numbers and the footer's font, and without a warning (a deprecation of something
    pdf.py calls fails here before the release that removes it)."""
    statements = demo_statements()
    assert {st.lang for st in statements} == {"es", "pt", "en"}
    assert {st.company.code for st in statements} == {"SM02", "SB01"}
    for st in statements:
        lb = labels(st.lang)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pdf = render_statement_pdf(st)
        pages = pages_text(pdf)
        context = f"{st.company.code} {st.cliente} with fpdf2 {version('fpdf2')}"
        text = "\n".join(pages)
        for expected in (
            st.company.name,
            st.customer.nombre,
            f"{lb.rfc}: {st.customer.rfc}",
            lb.title,
            f"{lb.cutoff_date}: {format_date(DEMO_DATE, st.lang)}",
            lb.contact_line(st.company.phone, st.company.reply_to),
        ):
            assert pdf_text(expected) in text, (expected, context)
        for line in st.lines:
            due = format_date(line.item.vencimiento, st.lang)
            amount = format_amount(line.importe, st.lang)
            for expected in (line.item.documento, line.item.referencia, due, amount):
                assert expected in text, (expected, context)
        for summary in st.summaries:
            total = f"{lb.total} {summary.moneda} {format_amount(summary.balance, st.lang)}"
            assert total in text, (total, context)
        for number, page in enumerate(pages, start=1):
            assert lb.page.format(page=number, pages=len(pages)) in page, context
        footer = (lb.page.split("{")[0], lb.contact_line(st.company.phone, "")[:10])
        assert all(found == {("/Helvetica", 7.5)} for found in footer_fonts(pdf, footer)), context


PAYING = replace(COMPANY, bank="Banco Ejemplo", clabe="999180001234567899")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "es",
            [
                "Instrucciones de pago",
                "Banco: Banco Ejemplo",
                "CLABE: 999 180 00123456789 9",
                "Beneficiario: Tinacos Ejemplo S.A. de C.V.",
                "Referencia (su número de cliente): 1006210",
            ],
        ),
        ("pt", ["Instruções de pagamento", "Referência (seu número de cliente): 1006210"]),
        ("en", ["Payment instructions", "Beneficiary: Tinacos", "Reference (your customer"]),
    ],
)
def test_payment_instructions(lang: str, expected: list[str]) -> None:
    first_page = pages_text(
        render_statement_pdf(statement(company=replace(PAYING, language=lang)))
    )[0]
    for text in expected:
        assert text in first_page


@pytest.mark.parametrize(
    ("company", "count"),
    [
        (COMPANY, 12),  # no CLABE configured
        (PAYING, 0),  # nothing open: nothing to pay
    ],
)
def test_no_payment_instructions(company: CompanyProfile, count: int) -> None:
    text = "\n".join(pages_text(render_statement_pdf(statement(count, company=company))))
    assert "Instrucciones de pago" not in text
    assert "CLABE" not in text


def test_no_payment_instructions_when_the_customer_is_in_credit() -> None:
    credit = [replace(item, importe=-abs(item.importe)) for item in items(6)]
    text = pages_text(render_statement_pdf(build_statement(PAYING, CUSTOMER, credit, CUT)))[0]
    assert "Instrucciones de pago" not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("999180001234567899", "999180001234567899"),
        ("999 180 00123456789 9", "999180001234567899"),
        ("999-180-00123456789-9", "999180001234567899"),
    ],
)
def test_normalize_clabe(raw: str, expected: str) -> None:
    from rotomail.company import normalize_clabe

    assert normalize_clabe(raw) == expected


def test_a_disputed_item_in_a_unicode_statement() -> None:
    """The disputed mark is italic in Helvetica; Noto Sans is shipped upright only, so a
    statement set in it prints the mark upright instead of failing."""
    disputed = replace(items(1)[0], aclaracion="precio")
    customer = replace(CUSTOMER, nombre="ООО Ромашка")
    st = build_statement(COMPANY, customer, [disputed, *items(2)], CUT)
    assert needs_unicode_font(st)
    (text,) = pages_text(render_statement_pdf(st))
    assert "ООО Ромашка" in text
    assert "En aclaración" in text

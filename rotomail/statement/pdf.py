"""Render a ``Statement`` as a PDF (fpdf2), Letter portrait.

Layout: letterhead (the company's logo when it has one, legal name, address and RFC,
title and cut-off date), the customer,
a summary per currency with the aging buckets and the balance, the payments and credits
received since the previous statement (when there are any), the open items grouped by
currency and sorted by due date with a total per currency, and a footer on every page
with the AR contact line and "Página X de Y". Table headers repeat on every page.

Parts: ``_Canvas`` is the page frame (pages, logo, fonts, text placed in boxes) and each
section draws on it alone: ``_Letterhead``, ``_AgingSummary``, ``_PaymentBlock``,
``_PaymentsSection``, ``_DetailTable`` and ``_Footer``; ``_Renderer`` only puts them in order. Everything is
written in the customer's language (``Statement.lang``), document types in words.

Drawing: only fpdf2's public API. Text is placed with ``FPDF.text()`` at positions
computed here from ``FPDF.get_string_width()`` (right-aligned amounts, texts cut with
"…"), bands with ``FPDF.rect()``; pagination is done by hand. The footer is
``FPDF.footer()``, which fpdf2 calls as each page closes; the page count comes from
fpdf2's page-count alias (``alias_nb_pages``), substituted when the document is output.

Fonts: a statement whose text is all in windows-1252 (Spanish and Portuguese plus – … €
“ ”, the usual statement) is set in fpdf2's core Helvetica and embeds no font. One whose
text needs more (a Polish, Russian, Greek, Vietnamese… name) is set in Noto Sans, a
TrueType font shipped in ``fonts/`` (Latin, Greek and Cyrillic with their extensions,
licence ``fonts/OFL.txt``), added with fpdf2's ``add_font()``, which embeds the glyphs used
(a subset). Text is made printable by ``pdf_text()`` (core font) or ``unicode_text()``
(Noto Sans): controls become spaces; a character the font lacks becomes its base letter
(NFKD) where the font has that, else "?". ``uncovered()`` names the characters of a
statement that no font prints (Chinese, Arabic…), so a run can say so for that customer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import groupby
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

from rotomail.company import format_clabe
from rotomail.statement.labels import (
    Labels,
    document_type_text,
    for_due_date_source,
    format_amount,
    format_date,
    labels,
    resolve_language,
)
from rotomail.statement.model import Statement, StatementLine

FONT = "helvetica"
ENCODING = "windows-1252"  # fpdf2 declares core fonts as WinAnsiEncoding
UNICODE_FONT = "notosans"  # for a statement whose text is not all windows-1252
FONT_DIR = Path(__file__).resolve().parent / "fonts"
UNICODE_FONT_FILES = {"": "NotoSans-Regular.ttf", "B": "NotoSans-Bold.ttf"}

PAGE_W, PAGE_H = 215.9, 279.4  # Letter, mm
MARGIN = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN
FOOTER_Y = PAGE_H - 14.0  # rule above the footer; content ends above it
CONTENT_BOTTOM = FOOTER_Y - 3.0
PAD = 1.5  # horizontal padding inside a table cell
ROW_H = 5.0
HEAD_H = 6.0
LOGO_H = 12.0  # letterhead logo height, mm (width follows the image's proportions)
FOOTER_PT = 7.5
PAGE_NUMBER_W = 40.0  # the footer's right part, "Página 12 de 12"
# The page-count alias: fpdf2 reserves the width of one "0" per character of it, and
# pdf_text() never leaves this control character in a text.
PAGES_ALIAS = "\x7f"
ROWS_PER_PAGE_MIN = 40  # a continuation page holds 43 to 46 detail rows

Color = tuple[int, int, int]
INK = (33, 37, 41)
MUTED = (108, 117, 125)
HEAD_FILL = (222, 226, 230)
ZEBRA_FILL = (246, 247, 248)
TOTAL_FILL = (233, 236, 239)
RULE = (173, 181, 189)


@dataclass(frozen=True)
class _Column:
    width: float
    align: str  # "L" | "R" | "C"


DATE_W = 20.5  # a date column: "Sep 28, 2026" (English) at 8 pt, in either font
# documento, referencia, tipo (in words), fecha, vencimiento, días vencidos, importe, moneda
_DETAIL = (
    _Column(23.0, "L"),
    _Column(27.0, "L"),
    _Column(27.9, "L"),
    _Column(DATE_W, "C"),
    _Column(DATE_W, "C"),
    _Column(21.0, "R"),
    _Column(30.0, "R"),
    _Column(16.0, "C"),
)
# documento, referencia, tipo, fecha, aplicado (clearing date), pagó, importe, moneda
_PAYMENTS = (
    _Column(22.0, "L"),
    _Column(25.0, "L"),
    _Column(22.0, "L"),
    _Column(DATE_W, "C"),
    _Column(DATE_W, "C"),
    _Column(33.9, "L"),
    _Column(26.0, "R"),
    _Column(16.0, "C"),
)
_CURRENCY_W = 20.9  # the summary's currency column; the buckets and the balance share the rest
assert abs(sum(c.width for c in _DETAIL) - CONTENT_W) < 0.01
_DAYS = 5  # the detail's days overdue column: a disputed item says "En aclaración" there
assert abs(sum(c.width for c in _PAYMENTS) - CONTENT_W) < 0.01


def _summary_columns(buckets: int) -> tuple[_Column, ...]:
    """moneda, the aging buckets (Por vencer, 1–30 … más de N días) and the balance."""
    width = (CONTENT_W - _CURRENCY_W) / (buckets + 1)
    return (_Column(_CURRENCY_W, "C"), *(_Column(width, "R") for _ in range(buckets + 1)))


@lru_cache(maxsize=8192)
def pdf_text(text: str) -> str:
    """``text`` made printable in the core fonts: "Ōsaka 株式会社" -> "Osaka ????"."""
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return "".join(_fold(ch) for ch in text)
    if text.isprintable():
        return text
    return "".join(_fold(ch) for ch in text)


def _fold(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in ("Cc", "Zl", "Zp"):  # tabs, newlines, controls
        return " "
    if category in ("Cf", "Mn", "Me") or ch == "\ufe0f":  # joiners, variation selectors
        return ""
    if ch.isprintable() and _encodable(ch):
        return ch
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(_encodable(c) and c.isprintable() for c in base):
        return base
    return "?"


def _encodable(ch: str) -> bool:
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


@cache
def unicode_coverage() -> frozenset[str]:
    """The characters Noto Sans prints (both styles have the same ones)."""
    with TTFont(FONT_DIR / UNICODE_FONT_FILES[""], lazy=True) as font:
        return frozenset(map(chr, font.getBestCmap()))


@lru_cache(maxsize=8192)
def unicode_text(text: str) -> str:
    """``text`` made printable in Noto Sans: "Łódź 北京" -> "Łódź ??"."""
    covered = unicode_coverage()
    text = unicodedata.normalize("NFC", text)
    if text.isprintable() and covered.issuperset(text):
        return text
    return "".join(_unicode_fold(ch, covered) for ch in text)


def _unicode_fold(ch: str, covered: frozenset[str]) -> str:
    category = unicodedata.category(ch)
    if category in ("Cc", "Zl", "Zp"):
        return " "
    if category in ("Cf", "Mn", "Me"):
        return ""
    if ch in covered and ch.isprintable():
        return ch
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and covered.issuperset(base) and base.isprintable():
        return base
    return "?"


def statement_texts(statement: Statement) -> Iterator[str]:
    """The statement's own texts (its labels are in windows-1252): the company's, the
    customer's, the contact line's and every item's."""
    company, customer = statement.company, statement.customer
    yield from (company.name, company.address, company.rfc, company.bank, statement.cliente)
    yield from (customer.nombre, customer.rfc, *statement.contact)
    custom = statement.document_types
    tipos: set[str] = set()
    for line in statement.lines:
        item = line.item
        yield from (item.documento, item.referencia, line.moneda)
        tipos.add(item.tipo)
    if statement.payments is not None:
        for payment in statement.payments.lines:
            cleared = payment.item
            yield from (cleared.documento, cleared.referencia, payment.moneda, *payment.settled)
            tipos.add(cleared.tipo)
    lang = resolve_language(statement.lang)
    yield from (document_type_text(tipo, lang, custom) for tipo in tipos)


def needs_unicode_font(statement: Statement) -> bool:
    """True when some text of the statement is not in windows-1252: it is set in Noto Sans."""
    try:
        "\n".join(statement_texts(statement)).encode(ENCODING)
    except UnicodeEncodeError:
        return True
    return False


def uncovered(statement: Statement) -> str:
    """The characters of the statement that no font of its PDF prints (they show as "?"),
    each once, in order of appearance; "" for nearly every statement."""
    if not needs_unicode_font(statement):
        return ""
    found: dict[str, None] = {}
    for text in statement_texts(statement):
        for ch in unicodedata.normalize("NFC", text):
            if _unicode_fold(ch, unicode_coverage()) == "?":
                found[ch] = None
    return "".join(found)


def _page_count_digits(statement: Statement) -> int:
    """The digits of a generous estimate of the page count: the footer reserves room for
    that many (so "Página 1 de 3" ends at the margin when the estimate has as many
    digits as the count, which is nearly always)."""
    rows = len(statement.lines) + 8 * len(statement.summaries)
    if statement.payments is not None:
        rows += len(statement.payments.lines) + 8
    return len(str(2 + rows // ROWS_PER_PAGE_MIN))


def statement_labels(statement: Statement, lang: str) -> Labels:
    """The labels in ``lang``, the due-date column named for what the ledger import used."""
    return for_due_date_source(labels(lang), statement.due_date_source, lang)


class _StatementPDF(FPDF):
    """The document: Letter portrait, core fonts in windows-1252, pages broken by hand,
    and ``draw_footer`` called by fpdf2 as each page closes (``FPDF.footer()``)."""

    def __init__(
        self,
        statement: Statement,
        lb: Labels,
        pages_alias: str = PAGES_ALIAS,
        draw_footer: Callable[[], None] = lambda: None,
        unicode: bool = False,
    ) -> None:
        super().__init__(orientation="P", unit="mm", format="letter")
        self.draw_footer = draw_footer
        self.core_fonts_encoding = ENCODING
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_compression(True)
        self.set_creator("rotomail")
        printable = unicode_text if unicode else pdf_text
        self.set_title(printable(f"{lb.title} {statement.cliente}"))
        self.set_author(printable(statement.company.name))
        self.alias_nb_pages(pages_alias)
        if unicode:
            for style, name in UNICODE_FONT_FILES.items():
                self.add_font(UNICODE_FONT, style, FONT_DIR / name)

    def footer(self) -> None:
        self.draw_footer()


# (font family, style "" or "B") -> character -> width in mm at 1 pt, filled by
# _Canvas.width()
_CHAR_WIDTHS: dict[tuple[str, str], dict[str, float]] = {}


class _Canvas:
    """The page frame: pages, fonts and colours, and text placed in boxes.

    Everything the sections draw goes through here; ``y`` is the pen's position. When a
    row does not fit, ``ensure_room`` starts a new page and calls ``on_new_page`` (the
    continuation header).
    """

    def __init__(self, pdf: FPDF, logo: str = "", unicode: bool = False) -> None:
        self.pdf = pdf
        self.logo = logo
        self.y = MARGIN
        self.on_new_page: Callable[[], None] = lambda: None
        self.color = INK
        self.family = UNICODE_FONT if unicode else FONT
        self.printable: Callable[[str], str] = unicode_text if unicode else pdf_text

    def font(self, style: str, size_pt: float, color: Color = INK) -> None:
        """Font and text colour. PDF paints text with the fill colour: keeping both equal
        spares fpdf2 wrapping every ``text()`` in its own colour state."""
        if self.family == UNICODE_FONT:  # shipped upright only: italic text stays upright
            style = style.replace("I", "")
        self.pdf.set_font(self.family, style, size_pt)
        self.pdf.set_text_color(*color)
        self.pdf.set_fill_color(*color)
        self.color = color

    def width(self, text: str) -> float:
        """Width in mm of printable ``text`` in the current font: the sum of its
        characters' widths (fpdf2 applies no kerning here), each measured once per
        process, font and style with ``FPDF.get_string_width()``. Measuring every text with
        it would nearly double the time of a statement."""
        pdf = self.pdf
        widths = _CHAR_WIDTHS.setdefault((self.family, pdf.font_style), {})
        try:
            per_pt = sum(map(widths.__getitem__, text))
        except KeyError:
            for ch in set(text).difference(widths):
                widths[ch] = pdf.get_string_width(ch) / pdf.font_size_pt
            per_pt = sum(map(widths.__getitem__, text))
        return per_pt * pdf.font_size_pt

    def fit(self, text: str, room: float) -> tuple[str, float]:
        """``text`` (made printable) and its width, cut with "…" to fit ``room`` mm."""
        text = self.printable(text)
        w = self.width(text)
        if w <= room:
            return text, w
        while text and w > room:
            text = text[:-1]
            w = self.width(text.rstrip() + "…")
        text = text.rstrip() + "…"
        return text, self.width(text)

    def wrap(self, text: str, room: float, max_lines: int) -> list[str]:
        """Printable ``text`` broken at spaces into at most ``max_lines`` lines of ``room``
        mm; the last line is cut with "…" by ``text()`` when it still does not fit."""
        lines: list[str] = []
        words = text.split()
        while words and len(lines) < max_lines - 1:
            line = words.pop(0)
            while words and self.width(f"{line} {words[0]}") <= room:
                line = f"{line} {words.pop(0)}"
            lines.append(line)
        if words:
            lines.append(" ".join(words))
        return lines or [""]

    def text(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """Write ``text`` in the box (x, y, w, h), vertically centred, padded, clipped."""
        if not text:
            return
        text, tw = self.fit(text, w - 2 * PAD)
        if align == "R":
            x += w - PAD - tw
        elif align == "C":
            x += (w - tw) / 2
        else:
            x += PAD
        self.pdf.text(x, y + h / 2 + 0.35 * self.pdf.font_size, text)

    def fill(self, y: float, h: float, color: Color) -> None:
        """A band of ``color`` across the content width."""
        pdf = self.pdf
        pdf.set_fill_color(*color)
        pdf.rect(MARGIN, y, CONTENT_W, h, style="F")
        pdf.set_fill_color(*self.color)

    def rule(self, y: float, color: Color = RULE, width: float = 0.2) -> None:
        self.pdf.set_draw_color(*color)
        self.pdf.set_line_width(width)
        self.pdf.line(MARGIN, y, PAGE_W - MARGIN, y)

    def row(
        self,
        columns: Sequence[_Column],
        values: Sequence[str],
        h: float = ROW_H,
        aligns: Sequence[str] | None = None,
    ) -> None:
        """One table row: a value per column."""
        x = MARGIN
        for i, (column, value) in enumerate(zip(columns, values, strict=True)):
            self.text(x, self.y, column.width, h, value, aligns[i] if aligns else column.align)
            x += column.width
        self.y += h

    def header_row(self, columns: Sequence[_Column], values: Sequence[str]) -> None:
        self.fill(self.y, HEAD_H, HEAD_FILL)
        self.font("B", 7.5)
        self.row(columns, values, HEAD_H, aligns=[c.align for c in columns])

    def new_page(self) -> None:
        self.pdf.add_page()
        self.font("", 8)
        self.y = MARGIN
        if self.logo:
            # fpdf2 embeds the image once and has later pages reference it
            self.pdf.image(self.logo, x=MARGIN, y=MARGIN, h=LOGO_H)
            self.y = MARGIN + LOGO_H + 2

    def ensure_room(self, h: float) -> bool:
        """Start a continuation page when ``h`` mm do not fit; True if one was started."""
        if self.y + h <= CONTENT_BOTTOM:
            return False
        self.new_page()
        self.on_new_page()
        return True


class _Section:
    """A part of the statement drawn on the canvas, in the statement's language."""

    def __init__(self, canvas: _Canvas, statement: Statement, lang: str) -> None:
        self.canvas = canvas
        self.st = statement
        self.lang = lang
        self.lb: Labels = statement_labels(statement, lang)

    def section_title(self, title: str, note: str = "") -> None:
        c = self.canvas
        c.font("B", 10)
        c.text(MARGIN, c.y, CONTENT_W, 6, title)
        if note:
            c.font("", 7.5, MUTED)
            c.text(MARGIN, c.y, CONTENT_W, 6, note, "R")
        c.y += 7


class _Letterhead(_Section):
    """The first page's head (company, title, cut-off date, customer) and the short head
    of continuation pages."""

    def draw(self) -> None:
        self.company()
        self.customer_block()

    def company(self) -> None:
        c, st, lb = self.canvas, self.st, self.lb
        title_w = 70.0
        c.font("B", 15)
        c.text(PAGE_W - MARGIN - title_w, c.y, title_w, 7, lb.title, "R")
        c.font("", 9, MUTED)
        cutoff = f"{lb.cutoff_date}: {format_date(st.statement_date, self.lang)}"
        c.text(PAGE_W - MARGIN - title_w, c.y + 7, title_w, 5, cutoff, "R")

        # the legal name: one line at 13 pt down to 11 pt, else two lines at 10 pt
        name_w = CONTENT_W - title_w - 4
        name = c.printable(st.company.name)
        size = 13.0
        c.font("B", size)
        while size > 11 and c.width(name) > name_w - 2 * PAD:
            size -= 0.5
            c.font("B", size)
        if c.width(name) > name_w - 2 * PAD:
            c.font("B", 10)
        name_lines = c.wrap(name, name_w - 2 * PAD, 2)
        for n, line in enumerate(name_lines):
            c.text(MARGIN, c.y + 5 * n, name_w, 7 if len(name_lines) == 1 else 5, line)
        next_y = c.y + (7 if len(name_lines) == 1 else 10)
        if st.company.address:
            c.font("", 9, MUTED)
            c.text(MARGIN, next_y, name_w, 5, st.company.address)
            next_y += 5
        if st.company.rfc:
            c.font("", 9, MUTED)
            c.text(MARGIN, next_y, name_w, 5, f"{lb.rfc}: {st.company.rfc}")
        c.y = next_y + 7
        c.rule(c.y, INK, 0.5)
        c.y += 4

    def customer_block(self) -> None:
        c, st, lb = self.canvas, self.st, self.lb
        c.font("", 7.5, MUTED)
        c.text(MARGIN, c.y, CONTENT_W, 4, lb.customer.upper())
        c.y += 4
        c.font("B", 11)
        for line in c.wrap(c.printable(st.customer.nombre), CONTENT_W - 2 * PAD, 2):
            c.text(MARGIN, c.y, CONTENT_W, 6, line)
            c.y += 5.5
        c.y += 0.5
        c.font("", 9)
        details = f"{lb.customer_number}: {st.cliente}"
        if st.customer.rfc:
            details += f"     {lb.rfc}: {st.customer.rfc}"
        c.text(MARGIN, c.y, CONTENT_W, 5, details)
        c.y += 8

    def continuation(self) -> None:
        c, st, lb = self.canvas, self.st, self.lb
        c.font("B", 9)
        c.text(MARGIN, c.y, CONTENT_W * 0.6, 5, st.company.name)
        c.font("", 8, MUTED)
        cutoff = format_date(st.statement_date, self.lang)
        right = f"{lb.title} · {lb.customer} {st.cliente} · {cutoff}"
        c.text(MARGIN + CONTENT_W * 0.4, c.y, CONTENT_W * 0.6, 5, right, "R")
        c.y += 6
        c.rule(c.y, INK, 0.3)
        c.y += 3


class _AgingSummary(_Section):
    """One row per currency: the aging buckets and the balance; or "no balance"."""

    def draw(self) -> None:
        c, lb, lang = self.canvas, self.lb, self.lang
        self.section_title(lb.summary, lb.aging_basis)
        headings = lb.buckets(self.st.aging)
        columns = _summary_columns(len(headings))
        if self.st.summaries:
            c.header_row(columns, (lb.currency, *headings, lb.balance))
        balance_x = PAGE_W - MARGIN - columns[-1].width
        for summary in self.st.summaries:
            c.font("", 8.5)
            buckets = [format_amount(amount, lang) for amount in summary.buckets]
            c.row(columns[:-1], (summary.moneda, *buckets), ROW_H + 1)
            c.font("B", 8.5)
            balance = format_amount(summary.balance, lang)
            c.text(balance_x, c.y - ROW_H - 1, columns[-1].width, ROW_H + 1, balance, "R")
            c.rule(c.y)
        disputed = self.st.disputed()
        if disputed:
            c.font("I", 8)
            amounts = " · ".join(f"{m} {format_amount(a, lang)}" for m, a in disputed.items())
            c.text(MARGIN, c.y, CONTENT_W, ROW_H, lb.disputed_line.format(amounts=amounts), "R")
            c.y += ROW_H
        if self.st.is_zero:
            c.y += 3 if self.st.summaries else 0
            c.fill(c.y, 10, TOTAL_FILL)
            c.font("B", 11)
            c.text(MARGIN, c.y, CONTENT_W, 10, lb.no_balance, "C")
            c.y += 10
        c.y += 6


class _PaymentBlock(_Section):
    """Bank, CLABE, beneficiary and reference, when the company gave a CLABE and the
    customer owes something."""

    def draw(self) -> None:
        c, st, lb = self.canvas, self.st, self.lb
        company = st.company
        if not company.clabe or not any(summary.balance > 0 for summary in st.summaries):
            return
        self.section_title(lb.payment)
        half = CONTENT_W / 2
        pairs = [
            ((lb.bank, company.bank), ("CLABE", format_clabe(company.clabe))),
            ((lb.beneficiary, company.name), (lb.payment_reference, st.cliente)),
        ]
        c.fill(c.y, 2 * ROW_H + 2, TOTAL_FILL)
        c.y += 1
        for left, right in pairs:
            for x, (label, value) in ((MARGIN, left), (MARGIN + half, right)):
                if value:
                    c.font("", 9)
                    c.text(x, c.y, half, ROW_H, f"{label}: {value}")
            c.y += ROW_H
        c.y += 7


class _PagedTable(_Section):
    """A table whose header repeats under the continuation head of every new page."""

    def __init__(
        self, canvas: _Canvas, statement: Statement, lang: str, continuation: Callable[[], None]
    ) -> None:
        super().__init__(canvas, statement, lang)
        self.continuation = continuation

    def new_page_head(self) -> None:
        self.continuation()
        self.header()

    def header(self) -> None:
        raise NotImplementedError


class _PaymentsSection(_PagedTable):
    """Payments and credit notes received since the previous statement, by currency, each
    with what it paid; absent when there are none. The header repeats on a new page."""

    def header(self) -> None:
        lb = self.lb
        self.canvas.header_row(
            _PAYMENTS,
            (
                lb.col_document,
                lb.col_reference,
                lb.col_type,
                lb.col_date,
                lb.col_cleared,
                lb.col_settled,
                lb.col_amount,
                lb.col_currency,
            ),
        )
        self.canvas.font("", 8)

    def draw(self) -> None:
        payments = self.st.payments
        if payments is None:
            return
        c, lang, lb = self.canvas, self.lang, self.lb
        if c.y + 7 + HEAD_H + 2 * ROW_H > CONTENT_BOTTOM:
            c.new_page()
            self.continuation()
        self.section_title(lb.payments.format(date=format_date(payments.since, lang)))
        self.header()
        totals = payments.totals()
        by_currency = sorted(payments.lines, key=lambda line: line.moneda)
        for moneda, group in groupby(by_currency, key=lambda line: line.moneda):
            for n, line in enumerate(group):
                c.ensure_room(ROW_H)
                if n % 2:
                    c.fill(c.y, ROW_H, ZEBRA_FILL)
                item = line.item
                c.row(
                    _PAYMENTS,
                    (
                        item.documento,
                        item.referencia,
                        document_type_text(item.tipo, lang, self.st.document_types),
                        format_date(item.fecha_documento, lang) if item.fecha_documento else "",
                        format_date(item.fecha_compensacion, lang),
                        ", ".join(line.settled),
                        format_amount(line.importe, lang),
                        line.moneda,
                    ),
                )
            c.ensure_room(ROW_H + 1)
            c.fill(c.y, ROW_H + 1, TOTAL_FILL)
            c.rule(c.y, INK, 0.3)
            c.font("B", 8.5)
            label_w = sum(col.width for col in _PAYMENTS[:-2])
            c.text(MARGIN, c.y, label_w, ROW_H + 1, f"{lb.total} {moneda}", "R")
            x = MARGIN + label_w
            amount = format_amount(totals[moneda], lang)
            c.text(x, c.y, _PAYMENTS[-2].width, ROW_H + 1, amount, "R")
            c.text(x + _PAYMENTS[-2].width, c.y, _PAYMENTS[-1].width, ROW_H + 1, moneda, "C")
            c.y += ROW_H + 1
            c.font("", 8)
        c.y += 6


class _DetailTable(_PagedTable):
    """The open items by currency, in due-date order, with a total per currency; the
    header repeats on every page."""

    def __init__(
        self, canvas: _Canvas, statement: Statement, lang: str, continuation: Callable[[], None]
    ) -> None:
        super().__init__(canvas, statement, lang, continuation)
        custom = statement.document_types
        self._types: dict[str, str] = {}
        for line in statement.lines:
            tipo = line.item.tipo
            if tipo not in self._types:
                self._types[tipo] = document_type_text(tipo, lang, custom)

    def header(self) -> None:
        lb = self.lb
        self.canvas.header_row(
            _DETAIL,
            (
                lb.col_document,
                lb.col_reference,
                lb.col_type,
                lb.col_date,
                lb.col_due,
                lb.col_days,
                lb.col_amount,
                lb.col_currency,
            ),
        )
        self.canvas.font("", 8)  # the rows' font

    def draw(self) -> None:
        if not self.st.lines:
            return
        c = self.canvas
        if c.y + 7 + HEAD_H + 2 * ROW_H > CONTENT_BOTTOM:
            c.new_page()
            self.new_page_head()
        else:
            self.section_title(self.lb.detail)
            self.header()
        by_currency = sorted(self.st.lines, key=lambda line: line.moneda)  # stable: keeps due order
        for index, (moneda, group) in enumerate(groupby(by_currency, key=lambda ln: ln.moneda)):
            rows = list(group)
            if index:
                c.y += 2
                # keep a currency's first rows (or all of a short one) with its header
                c.ensure_room(min(len(rows), 3) * ROW_H + ROW_H + 1)
            self.rows(rows)
            self.total_row(moneda)

    def rows(self, lines: list[StatementLine]) -> None:
        c, lang, types = self.canvas, self.lang, self._types
        c.font("", 8)
        for n, line in enumerate(lines):
            c.ensure_room(ROW_H)
            if n % 2:
                c.fill(c.y, ROW_H, ZEBRA_FILL)
            item = line.item
            values = (
                item.documento,
                item.referencia,
                types[item.tipo],
                format_date(item.fecha_documento, lang) if item.fecha_documento else "",
                format_date(item.vencimiento, lang),
                str(line.dias_vencidos) if line.dias_vencidos else "",
                format_amount(line.importe, lang),
                line.moneda,
            )
            if line.disputed:
                self.disputed_row(values)
            else:
                c.row(_DETAIL, values)

    def disputed_row(self, values: Sequence[str]) -> None:
        """A disputed item's row: "En aclaración" in the days column, smaller to fit."""
        c, x = self.canvas, MARGIN
        for index, (column, value) in enumerate(zip(_DETAIL, values, strict=True)):
            if index == _DAYS:
                c.font("I", 6.5)
                c.text(x, c.y, column.width, ROW_H, self.lb.disputed, column.align)
                c.font("", 8)
            else:
                c.text(x, c.y, column.width, ROW_H, value, column.align)
            x += column.width
        c.y += ROW_H

    def total_row(self, moneda: str) -> None:
        c = self.canvas
        summary = self.st.summary_for(moneda)
        assert summary is not None
        c.ensure_room(ROW_H + 1)
        c.fill(c.y, ROW_H + 1, TOTAL_FILL)
        c.rule(c.y, INK, 0.3)
        c.font("B", 8.5)
        label_w = sum(col.width for col in _DETAIL[:-2])
        c.text(MARGIN, c.y, label_w, ROW_H + 1, f"{self.lb.total} {moneda}", "R")
        x = MARGIN + label_w
        amount = format_amount(summary.balance, self.lang)
        c.text(x, c.y, _DETAIL[-2].width, ROW_H + 1, amount, "R")
        c.text(x + _DETAIL[-2].width, c.y, _DETAIL[-1].width, ROW_H + 1, moneda, "C")
        c.y += ROW_H + 1


class _Footer(_Section):
    """A rule, the AR contact line (cut with "…" to leave room for the page number) and
    "Página X de Y", in its own font whatever the page ended with."""

    def __init__(self, canvas: _Canvas, statement: Statement, lang: str, pages: str) -> None:
        super().__init__(canvas, statement, lang)
        self.pages = pages  # the page-count alias

    def draw(self) -> None:
        c, pdf, lb = self.canvas, self.canvas.pdf, self.lb
        c.rule(FOOTER_Y)
        c.font("", FOOTER_PT, MUTED)
        number_x = PAGE_W - MARGIN - PAGE_NUMBER_W
        # cell(): the page number is fpdf2's alias, filled in when the document is output
        contact = self.lb.contact_line(*self.st.contact)
        if contact:
            room = number_x - 5 - MARGIN
            pdf.set_xy(MARGIN, FOOTER_Y + 1.5)
            pdf.cell(room, 4, c.fit(contact, room - 2 * PAD)[0], align="L")
        pdf.set_xy(number_x, FOOTER_Y + 1.5)
        page = lb.page.format(page=pdf.page_no(), pages=self.pages)
        pdf.cell(PAGE_NUMBER_W, 4, page, align="R")


class _Renderer:
    """Puts the sections on the pages, in order."""

    def __init__(self, statement: Statement) -> None:
        lang = resolve_language(statement.lang)
        self.lb = statement_labels(statement, lang)
        pages = PAGES_ALIAS * _page_count_digits(statement)
        unicode = needs_unicode_font(statement)
        self.pdf = _StatementPDF(statement, self.lb, pages, self.draw_footer, unicode)
        self.canvas = _Canvas(self.pdf, statement.company.logo, unicode)
        self.letterhead = _Letterhead(self.canvas, statement, lang)
        self.summary = _AgingSummary(self.canvas, statement, lang)
        self.payment = _PaymentBlock(self.canvas, statement, lang)
        self.payments = _PaymentsSection(self.canvas, statement, lang, self.letterhead.continuation)
        self.detail = _DetailTable(self.canvas, statement, lang, self.letterhead.continuation)
        self.footer = _Footer(self.canvas, statement, lang, pages)

    def draw_footer(self) -> None:
        self.footer.draw()

    def render(self) -> bytes:
        self.canvas.new_page()
        self.letterhead.draw()
        self.summary.draw()
        self.payment.draw()
        self.canvas.on_new_page = self.payments.new_page_head
        self.payments.draw()
        self.canvas.on_new_page = self.detail.new_page_head
        self.detail.draw()
        return bytes(self.pdf.output())


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes (Letter portrait, in the customer's or company's language)."""
    return _Renderer(statement).render()

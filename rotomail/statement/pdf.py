"""Render a ``Statement`` as a PDF (fpdf2), Letter portrait.

Layout: letterhead (company legal name and RFC, title and cut-off date), the customer,
a summary per currency with the aging buckets and the balance, the open items grouped by
currency and sorted by due date with a total per currency, and a footer on every page
with the AR contact line and "Página X de Y". Table headers repeat on every page.

Speed: rows are drawn with ``FPDF.text()`` at positions computed here (right-aligned
amounts measured with the font's width table), which is about five times cheaper than
``cell()`` and twenty times cheaper than ``table()``; pagination is done by hand.

Fonts: fpdf2's core Helvetica (WinAnsi / windows-1252, which covers Spanish and
Portuguese plus – … € “ ”). Text outside it is folded by ``pdf_text()``: accents are
stripped (NFKD) where that gives a printable letter, anything else becomes "?". So any
Unicode name renders without failing, at no cost for the usual Latin text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import groupby

from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from fpdf.util import escape_parens

from rotomail.company import format_clabe
from rotomail.statement.labels import (
    Labels,
    for_due_date_source,
    format_amount,
    format_date,
    labels,
    resolve_language,
)
from rotomail.statement.model import Statement, StatementLine

FONT = "helvetica"
ENCODING = "windows-1252"  # fpdf2 declares core fonts as WinAnsiEncoding

PAGE_W, PAGE_H = 215.9, 279.4  # Letter, mm
MARGIN = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN
FOOTER_Y = PAGE_H - 14.0  # rule above the footer; content ends above it
CONTENT_BOTTOM = FOOTER_Y - 3.0
PAD = 1.5  # horizontal padding inside a table cell
ROW_H = 5.0
HEAD_H = 6.0
PT = 25.4 / 72  # mm per point
# fpdf2 reserves the width of one "0" per character of the total-pages alias: an alias
# as long as the page count's digits keeps "Página 1 de 3" flush with the right margin.
ALIAS_CHAR = "\u00a4"
ROWS_PER_PAGE_MIN = 40  # a full continuation page holds about 47 detail rows

Color = tuple[int, int, int]
INK = (33, 37, 41)
MUTED = (108, 117, 125)
HEAD_FILL = (222, 226, 230)
ZEBRA_FILL = (246, 247, 248)
TOTAL_FILL = (233, 236, 239)
RULE = (173, 181, 189)
_UNSET: Color = (-1, -1, -1)


@dataclass(frozen=True)
class _Column:
    width: float
    align: str  # "L" | "R" | "C"


# documento, referencia, tipo, fecha, vencimiento, días vencidos, importe, moneda
_DETAIL = (
    _Column(25.0, "L"),
    _Column(35.9, "L"),
    _Column(11.0, "C"),
    _Column(20.0, "C"),
    _Column(21.0, "C"),
    _Column(23.0, "R"),
    _Column(33.0, "R"),
    _Column(17.0, "C"),
)
# moneda, por vencer, 1–30, 31–60, 61–90, más de 90 días, saldo
_SUMMARY = (_Column(20.9, "C"), *(_Column(27.5, "R") for _ in range(6)))
assert abs(sum(c.width for c in _DETAIL) - CONTENT_W) < 0.01
assert abs(sum(c.width for c in _SUMMARY) - CONTENT_W) < 0.01


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


@cache
def _char_widths(fontkey: str) -> dict[str, int]:
    """Glyph widths (1/1000 em) of a core font, keyed by the Unicode character."""
    table = CORE_FONTS_CHARWIDTHS[fontkey]
    widths = {}
    for code in range(256):
        try:
            char = bytes([code]).decode(ENCODING)
        except UnicodeDecodeError:
            continue
        widths[char] = table[chr(code)]
    return widths


def _encodable(ch: str) -> bool:
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _pages_alias(statement: Statement) -> str:
    """An alias with one character per digit of a generous estimate of the page count."""
    rows = len(statement.lines) + 3 * len(statement.summaries)
    estimate = 2 + rows // ROWS_PER_PAGE_MIN
    return ALIAS_CHAR * len(str(estimate))


class _StatementPDF(FPDF):
    """FPDF with the statement's footer on every page."""

    def __init__(self, contact: str, page_label: str, pages_alias: str) -> None:
        super().__init__(orientation="P", unit="mm", format="letter")
        self.contact = contact
        self.page_label = page_label
        self.pages_alias = pages_alias
        self.alias_nb_pages(pages_alias, align="L")

    def footer(self) -> None:
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(MARGIN, FOOTER_Y, PAGE_W - MARGIN, FOOTER_Y)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        self.set_xy(MARGIN, FOOTER_Y + 1.5)
        room = CONTENT_W - 45  # what the page number leaves
        while self.get_string_width(self.contact) > room:  # cut once, on the first page
            self.contact = self.contact[:-2].rstrip() + "…"
        if self.contact:
            self.cell(room, 4, self.contact, align="L")
        self.set_xy(PAGE_W - MARGIN - 40, FOOTER_Y + 1.5)
        page = self.page_label.format(page=self.page_no(), pages=self.pages_alias)
        self.cell(40, 4, page, align="R")


class _Renderer:
    def __init__(self, statement: Statement, fast_text: bool = True) -> None:
        self.st = statement
        self.fast_text = fast_text
        self.lang = resolve_language(statement.company.language)
        self.lb: Labels = for_due_date_source(
            labels(self.lang), statement.due_date_source, self.lang
        )
        company = statement.company
        contact = self.lb.contact_line(company.phone, company.reply_to)
        pdf = _StatementPDF(pdf_text(contact), self.lb.page, _pages_alias(statement))
        pdf.core_fonts_encoding = ENCODING
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_compression(True)
        pdf.set_creator("rotomail")
        pdf.set_title(pdf_text(f"{self.lb.title} {statement.cliente}"))
        pdf.set_author(pdf_text(company.name))
        self.pdf = pdf
        self.y = MARGIN
        self._size_pt = 0.0
        self._style = ""
        self._color = _UNSET
        self._widths: dict[str, int] = {}

    # -- primitives ------------------------------------------------------------------

    def font(self, style: str, size_pt: float, color: Color = INK) -> None:
        if (style, size_pt) != (self._style, self._size_pt):
            self.pdf.set_font(FONT, style, size_pt)
            self._style, self._size_pt = style, size_pt
            font = self.pdf.current_font
            assert font is not None
            self._widths = _char_widths(font.fontkey)
        self.color(color)

    def color(self, color: Color) -> None:
        """Text colour. PDF paints text with the fill colour: keeping both equal spares
        fpdf2 wrapping every ``text()`` in its own colour state."""
        if color != self._color:
            self.pdf.set_text_color(*color)
            self.pdf.set_fill_color(*color)
            self._color = color

    def width(self, text: str) -> float:
        """Width in mm of printable ``text`` in the current font."""
        widths = self._widths
        return sum(widths[c] for c in text) * self._size_pt * 0.001 * PT

    def fit(self, text: str, room: float) -> tuple[str, float]:
        """``text`` (made printable) and its width, cut with "…" to fit ``room`` mm."""
        text = pdf_text(text)
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
            tx = x + w - PAD - tw
        elif align == "C":
            tx = x + (w - tw) / 2
        else:
            tx = x + PAD
        ty = y + h / 2 + 0.35 * self._size_pt * PT
        pdf = self.pdf
        if self.fast_text and pdf.current_font_is_set_on_page:
            # The bytes FPDF.text() writes in this state (core font already set on the
            # page, text colour equal to fill colour, no underline), without its ~10 µs of
            # checks per call, most of a statement's rendering time.
            # tests/test_pdf.py checks the PDFs are byte-identical either way.
            encoded = escape_parens(text.encode(ENCODING))
            pdf._out(b"BT %.2f %.2f Td (%s) Tj ET" % (tx * pdf.k, (pdf.h - ty) * pdf.k, encoded))
        else:
            pdf.text(tx, ty, text)

    def fill(self, y: float, h: float, color: Color) -> None:
        self.pdf.set_fill_color(*color)
        self.pdf.rect(MARGIN, y, CONTENT_W, h, style="F")
        self.pdf.set_fill_color(*self._color)

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
        self._size_pt = 0.0  # the footer changed font and colours: set them again
        self._color = _UNSET
        self.font("", 8)
        self.y = MARGIN

    def ensure_room(self, h: float) -> bool:
        """Start a continuation page when ``h`` mm do not fit; True if one was started."""
        if self.y + h <= CONTENT_BOTTOM:
            return False
        self.new_page()
        self.continuation_header()
        return True

    # -- sections --------------------------------------------------------------------

    def letterhead(self) -> None:
        st, lb = self.st, self.lb
        title_w = 70.0
        self.font("B", 15)
        self.text(PAGE_W - MARGIN - title_w, self.y, title_w, 7, lb.title, "R")
        self.font("", 9, MUTED)
        cutoff = f"{lb.cutoff_date}: {format_date(st.statement_date, self.lang)}"
        self.text(PAGE_W - MARGIN - title_w, self.y + 7, title_w, 5, cutoff, "R")

        # the legal name: one line at 13 pt down to 11 pt, else two lines at 10 pt
        name_w = CONTENT_W - title_w - 4
        name = pdf_text(st.company.name)
        size = 13.0
        self.font("B", size)
        while size > 11 and self.width(name) > name_w - 2 * PAD:
            size -= 0.5
            self.font("B", size)
        if self.width(name) > name_w - 2 * PAD:
            self.font("B", 10)
        name_lines = self.wrap(name, name_w - 2 * PAD, 2)
        for n, line in enumerate(name_lines):
            self.text(MARGIN, self.y + 5 * n, name_w, 7 if len(name_lines) == 1 else 5, line)
        rfc_y = self.y + (7 if len(name_lines) == 1 else 10)
        if st.company.rfc:
            self.font("", 9, MUTED)
            self.text(MARGIN, rfc_y, name_w, 5, f"{lb.rfc}: {st.company.rfc}")
        self.y = rfc_y + 7
        self.rule(self.y, INK, 0.5)
        self.y += 4

    def customer_block(self) -> None:
        st, lb = self.st, self.lb
        self.font("", 7.5, MUTED)
        self.text(MARGIN, self.y, CONTENT_W, 4, lb.customer.upper())
        self.y += 4
        self.font("B", 11)
        for line in self.wrap(pdf_text(st.customer.nombre), CONTENT_W - 2 * PAD, 2):
            self.text(MARGIN, self.y, CONTENT_W, 6, line)
            self.y += 5.5
        self.y += 0.5
        self.font("", 9)
        details = f"{lb.customer_number}: {st.cliente}"
        if st.customer.rfc:
            details += f"     {lb.rfc}: {st.customer.rfc}"
        self.text(MARGIN, self.y, CONTENT_W, 5, details)
        self.y += 8

    def section_title(self, title: str, note: str = "") -> None:
        self.font("B", 10)
        self.text(MARGIN, self.y, CONTENT_W, 6, title)
        if note:
            self.font("", 7.5, MUTED)
            self.text(MARGIN, self.y, CONTENT_W, 6, note, "R")
        self.y += 7

    def summary(self) -> None:
        lb, lang = self.lb, self.lang
        self.section_title(lb.summary, lb.aging_basis)
        if self.st.summaries:
            self.header_row(_SUMMARY, (lb.currency, *lb.buckets, lb.balance))
        balance_x = PAGE_W - MARGIN - _SUMMARY[-1].width
        for summary in self.st.summaries:
            self.font("", 8.5)
            buckets = [format_amount(amount, lang) for amount in summary.buckets]
            self.row(_SUMMARY[:-1], (summary.moneda, *buckets), ROW_H + 1)
            self.font("B", 8.5)
            balance = format_amount(summary.balance, lang)
            self.text(balance_x, self.y - ROW_H - 1, _SUMMARY[-1].width, ROW_H + 1, balance, "R")
            self.rule(self.y)
        if self.st.is_zero:
            self.y += 3 if self.st.summaries else 0
            self.fill(self.y, 10, TOTAL_FILL)
            self.font("B", 11)
            self.text(MARGIN, self.y, CONTENT_W, 10, lb.no_balance, "C")
            self.y += 10
        self.y += 6

    def payment(self) -> None:
        """Bank, CLABE, beneficiary and reference, when the company gave a CLABE and the
        customer owes something."""
        st, lb = self.st, self.lb
        company = st.company
        if not company.clabe or not any(summary.balance > 0 for summary in st.summaries):
            return
        self.section_title(lb.payment)
        half = CONTENT_W / 2
        pairs = [
            ((lb.bank, company.bank), ("CLABE", format_clabe(company.clabe))),
            ((lb.beneficiary, company.name), (lb.payment_reference, st.cliente)),
        ]
        self.fill(self.y, 2 * ROW_H + 2, TOTAL_FILL)
        self.y += 1
        for left, right in pairs:
            for x, (label, value) in ((MARGIN, left), (MARGIN + half, right)):
                if value:
                    self.font("", 9)
                    self.text(x, self.y, half, ROW_H, f"{label}: {value}")
            self.y += ROW_H
        self.y += 7

    def detail_header(self) -> None:
        lb = self.lb
        self.header_row(
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
        self.font("", 8)  # the rows' font

    def continuation_header(self) -> None:
        st, lb = self.st, self.lb
        self.font("B", 9)
        self.text(MARGIN, self.y, CONTENT_W * 0.6, 5, st.company.name)
        self.font("", 8, MUTED)
        cutoff = format_date(st.statement_date, self.lang)
        right = f"{lb.title} · {lb.customer} {st.cliente} · {cutoff}"
        self.text(MARGIN + CONTENT_W * 0.4, self.y, CONTENT_W * 0.6, 5, right, "R")
        self.y += 6
        self.rule(self.y, INK, 0.3)
        self.y += 3
        self.detail_header()

    def detail(self) -> None:
        if not self.st.lines:
            return
        lb = self.lb
        if self.y + 7 + HEAD_H + 2 * ROW_H > CONTENT_BOTTOM:
            self.new_page()
            self.continuation_header()
        else:
            self.section_title(lb.detail)
            self.detail_header()
        by_currency = sorted(self.st.lines, key=lambda line: line.moneda)  # stable: keeps due order
        for index, (moneda, group) in enumerate(groupby(by_currency, key=lambda ln: ln.moneda)):
            rows = list(group)
            if index:
                self.y += 2
                # keep a currency's first rows (or all of a short one) with its header
                self.ensure_room(min(len(rows), 3) * ROW_H + ROW_H + 1)
            self.detail_rows(rows)
            self.total_row(moneda)

    def detail_rows(self, lines: list[StatementLine]) -> None:
        lang = self.lang
        self.font("", 8)
        for n, line in enumerate(lines):
            self.ensure_room(ROW_H)
            if n % 2:
                self.fill(self.y, ROW_H, ZEBRA_FILL)
            item = line.item
            self.row(
                _DETAIL,
                (
                    item.documento,
                    item.referencia,
                    item.tipo,
                    format_date(item.fecha_documento, lang) if item.fecha_documento else "",
                    format_date(item.vencimiento, lang),
                    str(line.dias_vencidos) if line.dias_vencidos else "",
                    format_amount(line.importe, lang),
                    line.moneda,
                ),
            )

    def total_row(self, moneda: str) -> None:
        summary = self.st.summary_for(moneda)
        assert summary is not None
        self.ensure_room(ROW_H + 1)
        self.fill(self.y, ROW_H + 1, TOTAL_FILL)
        self.rule(self.y, INK, 0.3)
        self.font("B", 8.5)
        label_w = sum(c.width for c in _DETAIL[:-2])
        self.text(MARGIN, self.y, label_w, ROW_H + 1, f"{self.lb.total} {moneda}", "R")
        x = MARGIN + label_w
        amount = format_amount(summary.balance, self.lang)
        self.text(x, self.y, _DETAIL[-2].width, ROW_H + 1, amount, "R")
        self.text(x + _DETAIL[-2].width, self.y, _DETAIL[-1].width, ROW_H + 1, moneda, "C")
        self.y += ROW_H + 1

    def render(self) -> bytes:
        self.new_page()
        self.letterhead()
        self.customer_block()
        self.summary()
        self.payment()
        self.detail()
        return bytes(self.pdf.output())


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes (Letter portrait, in the company's language)."""
    return _Renderer(statement).render()

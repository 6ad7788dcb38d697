"""Render a ``Statement`` as a PDF (fpdf2), Letter portrait.

Layout: letterhead (the company's logo when it has one, legal name, address and RFC,
title and cut-off date), the customer,
a summary per currency with the aging buckets and the balance, the open items grouped by
currency and sorted by due date with a total per currency, and a footer on every page
with the AR contact line and "Página X de Y". Table headers repeat on every page.

Parts: ``_Canvas`` is the page frame (pages, logo, fonts, text placed in boxes) and each
section draws on it alone: ``_Letterhead``, ``_AgingSummary``, ``_PaymentBlock`` and
``_DetailTable``; ``_Renderer`` only puts them in order. Everything is written in the
customer's language (``Statement.lang``), document types in words.

Speed: text is placed at positions computed here (right-aligned amounts measured with the
font's width table) and written straight into the page's content stream, one text object
per table row, as ``FPDF.text()`` would write it cell by cell (``direct=False`` draws
through ``FPDF.text()`` and ``FPDF.rect()``; a test rasterises both and finds the pages
pixel-identical). That is many times cheaper than ``cell()`` or ``table()``. Pagination is
done by hand, and the footers are written last, on every page, once the page count is
known. This leans on two fpdf2 internals, ``_out`` (append to the current page's content
stream) and ``_set_font_for_page`` (select a font there): pyproject.toml keeps fpdf2 at
2.8.x, and the tests fail if either changes.

Fonts: fpdf2's core Helvetica (WinAnsi / windows-1252, which covers Spanish and
Portuguese plus – … € “ ”). Text outside it is folded by ``pdf_text()``: accents are
stripped (NFKD) where that gives a printable letter, anything else becomes "?". So any
Unicode name renders without failing, at no cost for the usual Latin text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import groupby
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS
from fpdf.image_datastructures import RasterImageInfo
from fpdf.image_parsing import get_img_info

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

PAGE_W, PAGE_H = 215.9, 279.4  # Letter, mm
MARGIN = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN
FOOTER_Y = PAGE_H - 14.0  # rule above the footer; content ends above it
CONTENT_BOTTOM = FOOTER_Y - 3.0
PAD = 1.5  # horizontal padding inside a table cell
ROW_H = 5.0
HEAD_H = 6.0
PT = 25.4 / 72  # mm per point
LOGO_H = 12.0  # letterhead logo height, mm (width follows the image's proportions)
FOOTER_PT = 7.5
PAGE_NUMBER_W = 40.0  # the footer's right part, "Página 12 de 12"

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


# documento, referencia, tipo (in words), fecha, vencimiento, días vencidos, importe, moneda
_DETAIL = (
    _Column(23.0, "L"),
    _Column(27.0, "L"),
    _Column(27.9, "L"),
    _Column(18.0, "C"),
    _Column(19.0, "C"),
    _Column(21.0, "R"),
    _Column(34.0, "R"),
    _Column(16.0, "C"),
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


def _rgb(color: Color) -> bytes:
    return b"%.4f %.4f %.4f" % (color[0] / 255, color[1] / 255, color[2] / 255)


def _escaped(text: str) -> bytes:
    """``text`` as a PDF string literal's contents (core fonts: windows-1252)."""
    encoded = text.encode(ENCODING)
    return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


@lru_cache(maxsize=8)
def _logo_info(path: str, mtime_ns: int) -> RasterImageInfo:
    """The logo decoded and compressed once per process (and per file version), not once
    per statement: parsing a PNG costs more than the rest of a short statement."""
    return get_img_info(path)


def _preload_logo(pdf: FPDF, path: str) -> None:
    """Hand the decoded logo to this document's image cache (skipped for images with an
    ICC profile, which fpdf2 must register in the document itself)."""
    info = _logo_info(path, Path(path).stat().st_mtime_ns)
    if info.get("iccp") is None and path not in pdf.image_cache.images:
        own = RasterImageInfo(info)
        own.update(i=len(pdf.image_cache.images) + 1, usages=0, iccp_i=None)
        pdf.image_cache.images[path] = own


class _Canvas:
    """The page frame: pages, fonts and colours, and text placed in boxes.

    Everything the sections draw goes through here; ``y`` is the pen's position. When a
    row does not fit, ``ensure_room`` starts a new page and calls ``on_new_page`` (the
    continuation header). With ``direct`` (the default), text and fills are written
    straight into the page's content stream (``FPDF.pages[n].contents``, fpdf2's documented
    page buffer); without it, through ``FPDF.text()`` and ``FPDF.rect()``.
    """

    def __init__(self, pdf: FPDF, direct: bool = True, logo: str = "") -> None:
        self.pdf = pdf
        self.direct = direct
        self.logo = logo
        self.y = MARGIN
        self.on_new_page: Callable[[], None] = lambda: None
        self._size_pt = 0.0
        self._style = ""
        self._color = _UNSET
        self._widths: dict[str, int] = {}

    def font(self, style: str, size_pt: float, color: Color = INK) -> None:
        if (style, size_pt) != (self._style, self._size_pt):
            self.pdf.set_font(FONT, style, size_pt)
            self._style, self._size_pt = style, size_pt
            font = self.pdf.current_font
            assert font is not None
            self._widths = _char_widths(font.fontkey)
            if self.direct:  # select it in the page's stream now, as FPDF.text() would
                self.pdf._out(self.pdf._set_font_for_page(font, size_pt))
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
        return sum(map(self._widths.__getitem__, text)) * self._size_pt * (0.001 * PT)

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

    def _place(self, x: float, w: float, text: str, align: str) -> tuple[str, float]:
        """``text`` fitted into a box ``w`` mm wide at ``x``, padded, and where it starts."""
        text, tw = self.fit(text, w - 2 * PAD)
        if align == "R":
            return text, x + w - PAD - tw
        if align == "C":
            return text, x + (w - tw) / 2
        return text, x + PAD

    def _baseline(self, y: float, h: float) -> float:
        """Where text vertically centred in a box (y, h) sits, in mm from the top."""
        return y + h / 2 + 0.35 * self._size_pt * PT

    def _draw(self, placed: list[tuple[str, float]], baseline: float) -> None:
        """Texts placed on one baseline (mm from the top)."""
        if self.direct:
            self._draw_direct(placed, baseline)
        else:
            for text, tx in placed:
                self.pdf.text(tx, baseline, text)

    def _draw_direct(self, placed: list[tuple[str, float]], baseline: float) -> None:
        """The texts as one text object in the page's content stream."""
        self.pdf._out(b"BT " + self._shows(placed, baseline) + b" ET")

    def _shows(self, placed: list[tuple[str, float]], baseline: float) -> bytes:
        """The operators that show each text at its place, inside a text object."""
        pdf = self.pdf
        k = pdf.k
        y = b"%.2f" % ((pdf.h - baseline) * k)
        return b" ".join(
            [b"1 0 0 1 %.2f %s Tm (%s) Tj" % (tx * k, y, _escaped(t)) for t, tx in placed]
        )

    def text(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        """Write ``text`` in the box (x, y, w, h), vertically centred, padded, clipped."""
        if text:
            self._draw([self._place(x, w, text, align)], self._baseline(y, h))

    def fill(self, y: float, h: float, color: Color) -> None:
        """A band of ``color`` across the content width."""
        pdf = self.pdf
        if self.direct:
            k = pdf.k
            pdf._out(
                b"q %s rg %.2f %.2f %.2f %.2f re f Q"
                % (_rgb(color), MARGIN * k, (pdf.h - y) * k, CONTENT_W * k, -h * k)
            )
            return
        pdf.set_fill_color(*color)
        pdf.rect(MARGIN, y, CONTENT_W, h, style="F")
        pdf.set_fill_color(*self._color)

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
        """One table row: a value per column, in one text object."""
        placed = []
        x = MARGIN
        for i, (column, value) in enumerate(zip(columns, values, strict=True)):
            if value:
                placed.append(
                    self._place(x, column.width, value, aligns[i] if aligns else column.align)
                )
            x += column.width
        if placed:
            self._draw(placed, self._baseline(self.y, h))
        self.y += h

    def header_row(self, columns: Sequence[_Column], values: Sequence[str]) -> None:
        self.fill(self.y, HEAD_H, HEAD_FILL)
        self.font("B", 7.5)
        self.row(columns, values, HEAD_H, aligns=[c.align for c in columns])

    def new_page(self) -> None:
        self.pdf.add_page()
        self._size_pt = 0.0  # a new page: set the font and colours again
        self._color = _UNSET
        self.font("", 8)
        self.y = MARGIN
        if self.logo:
            if self.pdf.page == 1:
                _preload_logo(self.pdf, self.logo)
            # fpdf2 keeps the image after its first use: later pages only reference it.
            self.pdf.image(self.logo, x=MARGIN, y=MARGIN, h=LOGO_H)
            self.y = MARGIN + LOGO_H + 2

    def ensure_room(self, h: float) -> bool:
        """Start a continuation page when ``h`` mm do not fit; True if one was started."""
        if self.y + h <= CONTENT_BOTTOM:
            return False
        self.new_page()
        self.on_new_page()
        return True

    def footers(self, contact: str, page_label: str) -> None:
        """The footer of every page, once the page count is known: a rule, the AR contact
        line (cut with "…" to leave room for the page number) and "Página X de Y".

        Each footer is added after its page's content, in a graphics state of its own with
        its colours and font selected in it (the page's last ones may be any)."""
        pdf = self.pdf
        pages = pdf.page
        # measure in the footer's font; each footer selects it in its page's stream below
        self._size_pt, self._style = FOOTER_PT, ""
        self._widths = _char_widths(FONT)
        number_x = PAGE_W - MARGIN - PAGE_NUMBER_W
        contact_room = number_x - 5 - MARGIN
        placed_contact = [self._place(MARGIN, contact_room, contact, "L")] if contact else []
        baseline = self._baseline(FOOTER_Y + 1.5, 4)
        rule_y = (pdf.h - FOOTER_Y) * pdf.k
        font = pdf.fonts[FONT]  # regular Helvetica: every page has text in it
        for number in range(1, pages + 1):
            pdf.page = number
            # selects the font in this page's stream and adds it to the page's resources
            select = pdf._set_font_for_page(font, FOOTER_PT, wrap_in_text_object=False)
            page = page_label.format(page=number, pages=pages)
            placed = [*placed_contact, self._place(number_x, PAGE_NUMBER_W, page, "R")]
            pdf._out(
                b"q %s RG %.2f w %.2f %.2f m %.2f %.2f l S %s rg BT %s %s ET Q"
                % (
                    _rgb(RULE),
                    0.2 * pdf.k,
                    MARGIN * pdf.k,
                    rule_y,
                    (PAGE_W - MARGIN) * pdf.k,
                    rule_y,
                    _rgb(MUTED),
                    select.encode("ascii"),
                    self._shows(placed, baseline),
                )
            )


def statement_labels(statement: Statement, lang: str) -> Labels:
    """The labels in ``lang``, the due-date column named for what the ledger import used."""
    return for_due_date_source(labels(lang), statement.due_date_source, lang)


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
        name = pdf_text(st.company.name)
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
        for line in c.wrap(pdf_text(st.customer.nombre), CONTENT_W - 2 * PAD, 2):
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
        if self.st.summaries:
            c.header_row(_SUMMARY, (lb.currency, *lb.buckets, lb.balance))
        balance_x = PAGE_W - MARGIN - _SUMMARY[-1].width
        for summary in self.st.summaries:
            c.font("", 8.5)
            buckets = [format_amount(amount, lang) for amount in summary.buckets]
            c.row(_SUMMARY[:-1], (summary.moneda, *buckets), ROW_H + 1)
            c.font("B", 8.5)
            balance = format_amount(summary.balance, lang)
            c.text(balance_x, c.y - ROW_H - 1, _SUMMARY[-1].width, ROW_H + 1, balance, "R")
            c.rule(c.y)
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


class _DetailTable(_Section):
    """The open items by currency, in due-date order, with a total per currency; the
    header repeats on every page."""

    def __init__(
        self, canvas: _Canvas, statement: Statement, lang: str, continuation: Callable[[], None]
    ) -> None:
        super().__init__(canvas, statement, lang)
        self.continuation = continuation
        custom = statement.document_types
        self._types: dict[str, str] = {}
        for line in statement.lines:
            tipo = line.item.tipo
            if tipo not in self._types:
                self._types[tipo] = document_type_text(tipo, lang, custom)

    def new_page_head(self) -> None:
        self.continuation()
        self.header()

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
            c.row(
                _DETAIL,
                (
                    item.documento,
                    item.referencia,
                    types[item.tipo],
                    format_date(item.fecha_documento, lang) if item.fecha_documento else "",
                    format_date(item.vencimiento, lang),
                    str(line.dias_vencidos) if line.dias_vencidos else "",
                    format_amount(line.importe, lang),
                    line.moneda,
                ),
            )

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


def _new_pdf(statement: Statement, lb: Labels) -> FPDF:
    company = statement.company
    pdf = FPDF(orientation="P", unit="mm", format="letter")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_compression(True)
    pdf.set_creator("rotomail")
    pdf.set_title(pdf_text(f"{lb.title} {statement.cliente}"))
    pdf.set_author(pdf_text(company.name))
    return pdf


class _Renderer:
    """Puts the sections on the pages, in order."""

    def __init__(self, statement: Statement, direct: bool = True) -> None:
        lang = resolve_language(statement.lang)
        self.lb = statement_labels(statement, lang)
        self.company = statement.company
        self.pdf = _new_pdf(statement, self.lb)
        self.canvas = _Canvas(self.pdf, direct, statement.company.logo)
        self.letterhead = _Letterhead(self.canvas, statement, lang)
        self.summary = _AgingSummary(self.canvas, statement, lang)
        self.payment = _PaymentBlock(self.canvas, statement, lang)
        self.detail = _DetailTable(self.canvas, statement, lang, self.letterhead.continuation)
        self.canvas.on_new_page = self.detail.new_page_head

    def render(self) -> bytes:
        self.canvas.new_page()
        self.letterhead.draw()
        self.summary.draw()
        self.payment.draw()
        self.detail.draw()
        contact = self.lb.contact_line(self.company.phone, self.company.reply_to)
        self.canvas.footers(contact, self.lb.page)
        return bytes(self.pdf.output())


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes (Letter portrait, in the customer's or company's language)."""
    return _Renderer(statement).render()

"""Reading spreadsheet-ish input: a file or stdin; CSV/TSV/SAP lists in any usual encoding; XLSX.

Everything ends up as a list of :class:`Row` (the source line number plus the cells as text), so
the importers never care where the data came from:

* text (``.csv``, ``.tsv``, ``.txt``, a clipboard paste): the delimiter is detected once per file
  among tab, ``;``, ``,`` and ``|``; SAP's unconverted lists (``|a|b|``) lose their outer pipes
  and their dashed rule lines; quoted cells may hold delimiters and newlines (Excel's clipboard);
* ``.xlsx``: the first sheet, through openpyxl, cells converted to text;
* ``.xls`` that is really an HTML table (a common "Excel" export): the first table's rows.

Line numbers are the physical line where the row starts (the sheet row for XLSX), so messages can
point the user at the right place.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import sys
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO, NamedTuple

from rotomail.errors import DataError

MAX_INPUT_BYTES = 64 * 1024 * 1024  # what is read whole: a pasted catalogue
# Streamed imports (ledger, master) keep memory flat; this only stops a runaway input
# (a device, a wrong file). A 1,000,000-item FBL5N is about 80 MB.
MAX_STREAMED_BYTES = 4 * 1024 * 1024 * 1024
_HEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
HEADER_SEARCH_ROWS = 30

_TOO_BIG_PASTE = "La entrada supera el límite de 64 MB para esta orden."
_TOO_BIG = "La entrada supera el límite de 4 GB; compruebe que es la exportación correcta."
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy binary .xls
_DELIMITERS = ("\t", ";", ",", "|")
_SAMPLE_LINES = 200
_SAMPLE_CHARS = 200_000
_RULE_CELL = re.compile(r"^[-=_+ ]+$")
_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html|table|\?xml[^>]*>\s*<html)", re.IGNORECASE)
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


class Row(NamedTuple):
    line: int  # 1-based physical line (text) or sheet row (XLSX) where the row starts
    cells: list[str]


# --------------------------------------------------------------------------------------- bytes


def read_bytes(source: str | Path | BinaryIO) -> bytes:
    """All bytes of a file, of stdin (``"-"``) or of an open binary stream, at most 64 MB."""
    if isinstance(source, str) and source == "-":
        return _read_limited(sys.stdin.buffer)
    if isinstance(source, str | Path):
        with _open_file(Path(source)) as stream:
            return _read_limited(stream)
    return _read_limited(source)


def _open_file(path: Path) -> BinaryIO:
    """``path`` opened for reading; a missing file, a folder or no permission is one line."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError(f"No se encontró el archivo: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} es una carpeta, no un archivo.") from None
    except PermissionError:
        raise DataError(f"No se puede leer el archivo {path}: permiso denegado.") from None
    except OSError as exc:
        raise DataError(f"No se pudo leer el archivo {path}: {exc.strerror or exc}") from None


def _read_limited(stream: BinaryIO) -> bytes:
    limit = MAX_INPUT_BYTES
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    if total > limit:
        raise DataError(_TOO_BIG_PASTE)
    return b"".join(parts)


def _looks_utf16le(data: bytes) -> bool:
    """UTF-16 LE without a BOM: ASCII text with a NUL after every character."""
    sample = data[:400]
    if len(sample) < 4 or len(sample) % 2:
        return False
    odd = sample[1::2]
    return odd.count(0) >= 0.9 * len(odd) and sample[0::2].count(0) == 0


# ---------------------------------------------------------------------------------------- rows


def read_rows(data: bytes, name: str = "") -> list[Row]:
    """The non-blank rows of an input, cells stripped, trailing empty cells dropped."""
    return list(iter_rows(io.BytesIO(data), name, limit=None))


@contextmanager
def open_source(source: str | Path) -> Iterator[BinaryIO]:
    """A file (or stdin for ``"-"``) opened for streaming; errors become one Spanish line."""
    if isinstance(source, str) and source == "-":
        yield sys.stdin.buffer
        return
    with _open_file(Path(source)) as stream:
        yield stream


def iter_rows(
    stream: BinaryIO, name: str = "", *, limit: int | None = MAX_STREAMED_BYTES
) -> Iterator[Row]:
    """The non-blank rows of an input read as a stream: memory does not grow with its size.

    Text is decoded and split as it is read; an ``.xlsx`` is read sheet row by sheet row
    (from stdin it is buffered first: a zip needs its end). ``limit`` is a sanity cap on
    the bytes read (``None``: none).
    """
    counted = _Counted(stream, limit)
    head = counted.peek(_HEAD_BYTES)
    lowered = name.lower()
    if head.startswith(_ZIP_MAGIC) or lowered.endswith((".xlsx", ".xlsm")):
        yield from _xlsx_rows(counted.read_all())
        return
    if head.startswith(_OLE_MAGIC):
        raise DataError(
            "El archivo es un .xls antiguo (binario); ábralo en Excel y guárdelo como .xlsx o .csv."
        )
    encoding = _encoding(head)
    text = _decoded_lines(counted, encoding)
    if _HTML_START.match(head[:1024].removeprefix(b"\xef\xbb\xbf")):
        yield from _html_rows(text)
        return
    yield from _text_rows(text)


class _Counted:
    """A binary stream that counts what it yields and refuses more than ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int | None) -> None:
        self._stream = stream
        self._limit = limit
        self._pending = b""
        self.total = 0

    def peek(self, size: int) -> bytes:
        while len(self._pending) < size:
            chunk = self._stream.read(size - len(self._pending))
            if not chunk:
                break
            self._pending += chunk
        return self._pending[:size]

    def chunks(self) -> Iterator[bytes]:
        while True:
            if self._pending:
                chunk, self._pending = self._pending, b""
            else:
                chunk = self._stream.read(_CHUNK)
            if not chunk:
                return
            self.total += len(chunk)
            if self._limit is not None and self.total > self._limit:
                raise DataError(_TOO_BIG)
            yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


def _encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes: BOM, UTF-16 LE, UTF-8 or CP1252."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if _looks_utf16le(head):
        return "utf-16-le"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252-or-latin1"
    return "utf-8-or-cp1252"


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)  # the five bytes CP1252 leaves undefined: read as Latin-1


def _fallback_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 read as CP1252 (a file saved by Excel on Windows)."""
    assert isinstance(error, UnicodeDecodeError)
    return "".join(_cp1252_char(byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error("rotomail-cp1252", _fallback_cp1252)


def _decoded_lines(counted: _Counted, encoding: str) -> Iterator[str]:
    """Lines of text, ending in ``\\n`` only, NULs dropped, decoded chunk by chunk."""
    decoder: codecs.IncrementalDecoder
    if encoding == "utf-8-or-cp1252":
        decoder = codecs.getincrementaldecoder("utf-8")(errors="rotomail-cp1252")
    elif encoding == "cp1252-or-latin1":
        decoder = codecs.getincrementaldecoder("cp1252")(errors="rotomail-latin1")
    else:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending = ""
    first = True
    try:
        for chunk in counted.chunks():
            text = decoder.decode(chunk)
            if first:
                text, first = text.removeprefix("\ufeff"), False
            pending += text.replace("\x00", "")
            if pending.endswith("\r"):
                continue  # a \r\n may be split across chunks
            pending = pending.replace("\r\n", "\n").replace("\r", "\n")
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                yield line + "\n"
        pending += decoder.decode(b"", final=True).replace("\x00", "")
    except UnicodeDecodeError:
        label = encoding.removesuffix("-sig").upper()
        raise DataError(
            f"El archivo no es texto {label} válido; guárdelo de nuevo como CSV UTF-8."
        ) from None
    pending = pending.replace("\r\n", "\n").replace("\r", "\n")
    for line in pending.split("\n"):
        if line:
            yield line + "\n"


codecs.register_error("rotomail-latin1", _fallback_cp1252)


def _clean(cells: Sequence[str]) -> list[str]:
    cleaned = [cell.strip() for cell in cells]
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    return cleaned


def _is_rule(cells: list[str]) -> bool:
    """A rule line (``|-----|-----|``, ``=====`` or ``_____``) drawn by SAP between blocks."""
    filled = [cell for cell in cells if cell]
    return (
        bool(filled)
        and all(_RULE_CELL.match(cell) for cell in filled)
        and sum(len(cell) - cell.count(" ") - cell.count("+") for cell in filled) >= 3
    )


def detect_delimiter(text: str) -> str | None:
    """The column delimiter of a text table, or ``None`` when the text has a single column.

    Tab wins whenever most lines hold one (nobody types tabs inside a cell), the pipe when most
    lines are framed ``|...|`` (SAP lists); otherwise the candidate whose per-line count is most
    consistent and highest (``;`` with ``1.234,56`` amounts, ``,`` with ``;``-joined e-mails).
    """
    sample = _QUOTED.sub("", text[:_SAMPLE_CHARS])  # quoted cells may contain any delimiter
    lines = [line for line in sample.split("\n") if line.strip()][:_SAMPLE_LINES]
    if not lines:
        return None
    if sum("\t" in line for line in lines) * 2 >= len(lines):
        return "\t"
    framed = sum(line.strip().startswith("|") and line.strip().endswith("|") for line in lines)
    if framed * 2 >= len(lines):
        return "|"
    best: tuple[int, int] = (0, 0)
    chosen: str | None = None
    for delimiter in _DELIMITERS:
        counts = Counter(line.count(delimiter) for line in lines)
        counts.pop(0, None)
        if not counts:
            continue
        mode, freq = max(counts.items(), key=lambda item: (item[1], item[0]))
        score = (freq * mode, mode)
        if score > best:
            best, chosen = score, delimiter
    return chosen


class _Lines:
    """Lines handed to the csv reader, remembering the last one (the framing check needs it)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.last = ""

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.last = line
            yield line


def _text_rows(lines: Iterator[str]) -> Iterator[Row]:
    sample: list[str] = []
    size = 0
    for physical_line in lines:
        sample.append(physical_line)
        size += len(physical_line)
        if len(sample) >= _SAMPLE_LINES * 5 or size >= _SAMPLE_CHARS:
            break
    delimiter = detect_delimiter("".join(sample))
    physical = itertools.chain(sample, lines)
    framed = delimiter == "|"
    if delimiter is None:
        for number, text in enumerate(physical, start=1):
            cells = _clean([text])
            if cells and not _is_rule(cells):
                yield Row(number, cells)
        return
    source = _Lines(physical)
    reader = csv.reader(
        source,
        delimiter=delimiter,
        quotechar='"',
        # SAP lists never quote: a lone quote in a text must not swallow the following lines.
        quoting=csv.QUOTE_NONE if framed else csv.QUOTE_MINIMAL,
        strict=False,
    )
    start = 1
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if framed and cells and source.last.lstrip().startswith("|"):
                cells = cells[1:]  # the empty cell before the leading "|" of a SAP list line
            cleaned = _clean(cells)
            if cleaned and not _is_rule(cleaned):
                yield Row(line, cleaned)
    except csv.Error:
        raise DataError(
            f"Línea {start}: una celda entre comillas no se cierra o es demasiado larga; "
            "revise las comillas."
        ) from None


# ---------------------------------------------------------------------------------------- xlsx


def cell_text(value: object) -> str:
    """An Excel cell as text: dates ISO, integral floats without ``.0``, no float noise."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, bool):
        return "VERDADERO" if value else "FALSO"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        try:
            return str(Decimal(repr(value)))
        except InvalidOperation:
            return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[Row]:
    import openpyxl  # deferred: only XLSX input pays for the import

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, zipfile.LargeZipFile):
        raise DataError("El archivo no es un Excel (.xlsx) válido o está dañado.") from None
    except Exception as exc:  # openpyxl raises many kinds on malformed workbooks
        raise DataError(f"No se pudo abrir el archivo Excel (.xlsx): {exc}") from None
    try:
        if not workbook.worksheets:
            raise DataError("El archivo Excel no tiene hojas.")
        sheet = workbook.worksheets[0]
        reset = getattr(sheet, "reset_dimensions", None)
        if reset is not None:
            reset()  # ignore a stored dimension: some writers claim A1:XFD1048576
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cleaned = _clean([cell_text(value) for value in values])
            if cleaned:
                yield Row(number, cleaned)
    except DataError:
        raise
    except Exception as exc:  # malformed sheet XML surfaces only while iterating
        raise DataError(f"No se pudo leer la hoja del archivo Excel (.xlsx): {exc}") from None
    finally:
        workbook.close()


# ---------------------------------------------------------------------------------------- html


class _TableParser(HTMLParser):
    """The rows of the first ``<table>`` of an HTML document (an ``.xls`` that is a web page)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._depth = 0
        self._done = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self._close_row()
            self._row = []
        elif self._depth == 1 and tag in ("td", "th") and self._row is not None:
            self._close_cell()
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table" and self._depth:
            self._depth -= 1
            if not self._depth:
                self._close_row()
                self._done = True

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            self.rows.append(self._row)
        self._row = None


def _html_rows(lines: Iterator[str]) -> Iterator[Row]:
    parser = _TableParser()
    number = 0

    def ready() -> Iterator[Row]:
        nonlocal number
        for cells in parser.rows:
            number += 1
            cleaned = _clean(cells)
            if cleaned and not _is_rule(cleaned):
                yield Row(number, cleaned)
        parser.rows.clear()

    for line in lines:
        parser.feed(line)
        yield from ready()
    parser.close()
    parser._close_row()
    yield from ready()


# -------------------------------------------------------------------------------------- header


@lru_cache(maxsize=4096)
def normalize_header(text: str) -> str:
    """A header cell reduced for alias matching.

    Case-folded, accents stripped, ``Nº``/``N°``/``No.``/``Nro`` all become ``no``, dots and
    underscores become spaces, blanks collapsed: ``" Nº  doc. "`` -> ``"no doc"``.
    """
    text = text.replace("º", "o").replace("°", "o")  # N°/Nº -> No before NFKD
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"[._:]", " ", text)
    words = ["no" if word == "nro" else word for word in text.split()]
    return " ".join(words)


def find_header(
    rows: Sequence[Row],
    aliases: dict[str, tuple[str, ...]],
    required: set[str],
) -> tuple[int, dict[str, int]] | None:
    """The index (into ``rows``) of the header row and its ``field -> column`` map.

    The header is the first of the first 30 rows whose cells name every required field through
    the alias table; title lines above it are skipped. When a field appears twice, the first
    column wins.
    """
    lookup = {normalize_header(alias): field for field, names in aliases.items() for alias in names}
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for column, cell in enumerate(row.cells):
            field = lookup.get(normalize_header(cell))
            if field is not None and field not in columns:
                columns[field] = column
        if required <= columns.keys():
            return index, columns
    return None


def cell_at(row: Row, column: int | None) -> str:
    """The cell at ``column``, ``""`` when the column is absent or the row is short."""
    if column is None or column >= len(row.cells):
        return ""
    return row.cells[column]

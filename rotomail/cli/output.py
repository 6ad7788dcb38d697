"""Printing tables: Rich on a terminal; plain text, TSV, CSV or JSON when piped or asked.

Plain output is stable: no colour, no truncation, no terminal-width wrapping.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import errno
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from rotomail.errors import UsageError
from rotomail.tables import plain_table


class Format(StrEnum):
    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"


class ListingFormat(StrEnum):
    """A listing that may also be written as a spreadsheet (xlsx needs a file, ``-o``)."""

    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def _cell(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


def _tsv_line(row: Sequence[Any]) -> str:
    """One TSV line: the cells as ``_cell`` writes them, a tab inside a cell as a space.

    Rows of text cells, the usual kind, are joined in one call (a 10,000-row search in 3 ms
    instead of 7); a row with other cells, or a tab inside one, cell by cell. (A subclass
    of str is written as its text here; rotomail passes none.)
    """
    try:
        line = "\t".join(row)
    except TypeError:  # a list, a number or None among the cells
        pass
    else:
        if line.count("\t") == len(row) - 1:
            return line
    return "\t".join([_cell(v).replace("\t", " ") for v in row])


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Format = Format.table,
    json_keys: Sequence[str] | None = None,
) -> str:
    """Plain text for ``rows`` in ``fmt``."""
    if fmt is Format.json:
        keys = json_keys or headers
        return (
            json.dumps(
                [dict(zip(keys, row, strict=True)) for row in rows], ensure_ascii=False, indent=2
            )
            + "\n"
        )
    if fmt is Format.table:
        if not rows:
            return ""
        return plain_table(headers, [[_cell(v).replace("\n", " ") for v in row] for row in rows])
    if fmt is Format.tsv:
        return "".join([_tsv_line(row) + "\n" for row in [headers, *rows]])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: Format = Format.table,
    *,
    title: str | None = None,
    json_keys: Sequence[str] | None = None,
    stream: TextIO | None = None,
) -> None:
    stream = stream or sys.stdout
    if fmt is Format.table and is_terminal(stream):
        # deferred: Rich's console costs ~35 ms, paid only when a person reads the table
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        Console(file=stream).print(table)
        return
    stream.write(render(headers, rows, fmt, json_keys))


def xlsx_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]], sheet: str) -> bytes:
    """A workbook of one sheet: the headers, then the rows (lists joined by ";")."""
    from openpyxl import Workbook  # deferred: 0.2 s, only for xlsx

    book = Workbook(write_only=True)
    worksheet = book.create_sheet(sheet)
    worksheet.append(list(headers))
    for row in rows:
        worksheet.append([";".join(map(str, v)) if isinstance(v, list) else v for v in row])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def write_listing(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: ListingFormat,
    output: Path | None,
    *,
    json_keys: Sequence[str] | None = None,
    sheet: str = "Hoja1",
    footer: str = "",
) -> None:
    """``rows`` in ``fmt`` on stdout, or into the file ``output``; ``footer`` (a line or
    more) follows a table, wherever it goes."""
    footer = footer + "\n" if footer and fmt is ListingFormat.table else ""
    if fmt is ListingFormat.xlsx:
        if output is None:
            raise UsageError("Para xlsx indique el archivo con --output.")
        write_output(output, xlsx_bytes(headers, rows, sheet))
    elif output is not None:
        text = render(headers, rows, Format(fmt.value), json_keys) + footer
        write_output(output, file_bytes(text, Format(fmt.value)))
    else:
        print_table(headers, rows, Format(fmt.value), json_keys=json_keys)
        sys.stdout.write(footer)


def file_bytes(text: str, fmt: Format) -> bytes:
    """A listing's text as a file's bytes: UTF-8, and a CSV with a BOM first, which Excel
    needs to read its accents (a CSV on standard output never has one)."""
    data = text.encode("utf-8")
    return codecs.BOM_UTF8 + data if fmt is Format.csv else data


def write_output(path: Path, data: bytes) -> None:
    """Write a file the user named; a bad path is one Spanish line (exit 2), not a traceback."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"No se puede escribir {path}: {_why_not(path, exc)}") from None


def _why_not(path: Path, exc: OSError) -> str:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return "es una carpeta; indique un archivo."
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return "sin permiso."
    if isinstance(exc, FileNotFoundError) and not path.parent.is_dir():
        return f"la carpeta {path.parent} no existe."
    if isinstance(exc, NotADirectoryError):
        return f"{path.parent} no es una carpeta."
    if exc.errno == errno.ENOSPC:
        return "no queda espacio en el disco."
    return f"error del sistema ({errno.errorcode.get(exc.errno or 0, exc.errno)})."


class SurvivingStream(io.TextIOBase):
    """stdout or stderr for a run: once the reader is gone (``| head``, a closed terminal)
    writing is switched off instead of failing, so the run still finishes, records every
    customer, writes its log and mails it. The descriptor is pointed at /dev/null so the
    interpreter's last flush at exit does not complain either."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed_by_reader = False

    def _off(self) -> None:
        self.closed_by_reader = True
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                self.stream.write(text)
                self.stream.flush()
            except OSError:
                self._off()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self.stream.flush()
            except OSError:
                self._off()

    def isatty(self) -> bool:
        return not self.closed_by_reader and self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def surviving_output() -> Iterator[None]:
    """While a run lasts, output that nobody reads any more never stops it."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SurvivingStream(sys.stdout)
    sys.stderr = SurvivingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved

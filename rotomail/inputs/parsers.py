"""Pure parsers for the three inputs: customer master, open items (FBL5N) and a pasted catalogue.

No database here. Each parser reads rows through :mod:`rotomail.inputs.tabular`, finds the header
through an alias table (headers drift with SAP release, language and layout), and returns
records plus the rows it refused, each refusal naming its line and field in Spanish.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Generic, TypeVar

from rotomail.company import language_code
from rotomail.errors import DataError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.inputs.addresses import normalize_address, split_addresses
from rotomail.inputs.tabular import (
    Row,
    cell_at,
    find_header,
    iter_after_header,
    read_rows,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Reject:
    """A refused row. ``reason`` names the field and value, without the line (callers print
    ``Línea {line}: {reason}``; :attr:`message` gives that text)."""

    line: int
    reason: str

    @property
    def message(self) -> str:
        return f"Línea {self.line}: {self.reason}"


@dataclass
class ParseResult(Generic[T]):
    rows: list[T] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class CustomerRecord:
    line: int
    sociedad: str
    cliente: str
    nombre: str
    rfc: str
    correos: list[str]
    idioma: str  # "es" | "pt" | "en" | "" (unknown or absent)


@dataclass(frozen=True)
class OpenItemRecord:
    line: int
    sociedad: str
    cliente: str
    documento: str
    tipo: str
    referencia: str
    fecha_documento: dt.date | None
    vencimiento: dt.date
    importe: Decimal  # quantized to 0.01; credit notes and payments negative
    moneda: str
    texto: str


@dataclass(frozen=True)
class PasteRecord:
    line: int
    sociedad: str
    cliente: str
    correo_text: str  # as pasted; the caller validates it
    error: str | None  # e.g. "Falta el cliente"
    idioma: str = ""  # the Idioma column as pasted (header rows only); the caller validates it


class _Invalid(Exception):
    """A row-level problem; becomes a Reject with the row's line number."""


# ------------------------------------------------------------------------------ identifiers

_SOCIEDAD = re.compile(r"^[A-Z0-9]{1,4}$")  # SAP BUKRS: CHAR 4
_CLIENTE = re.compile(r"^[A-Z0-9_-]{1,10}$")  # SAP KUNNR: CHAR 10


def _sociedad(raw: str) -> str:
    value = normalize_sociedad(raw)
    if not value:
        raise _Invalid("Falta la sociedad")
    if not _SOCIEDAD.match(value):
        raise _Invalid(f"Sociedad «{raw}» no es válida (hasta 4 letras o dígitos, p. ej. SM02)")
    return value


def _cliente(raw: str) -> str:
    value = normalize_cliente(raw)
    if not value:
        raise _Invalid("Falta el cliente")
    if not _CLIENTE.match(value):
        raise _Invalid(f"Cliente «{raw}» no es válido (hasta 10 letras o dígitos)")
    return value


# -------------------------------------------------------------------------------- customers

CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "sociedad": ("Sociedad", "BUKRS", "Company Code"),
    "cliente": ("Cliente", "Cuenta", "Deudor", "KUNNR", "Customer"),
    "nombre": ("Nombre", "Nombre 1", "NAME1", "Name", "Name 1"),
    "nombre2": ("Nombre 2", "NAME2", "Name 2"),  # continues NAME1 when present
    "rfc": ("RFC", "NIF", "Nº ident. fis. 1", "STCD1", "Tax Number 1"),
    "correo": ("Correo", "Correo electrónico", "SMTP_ADDR", "E-Mail Address"),
    "idioma": ("Idioma", "Clave de idioma", "SPRAS", "Language"),
}
_CUSTOMER_REQUIRED = {"sociedad", "cliente", "nombre"}


def parse_customers(data: bytes, name: str = "") -> ParseResult[CustomerRecord]:
    """Customer master rows (KNA1/KNB1/ADR6 export) keyed by sociedad + cliente.

    A customer on several rows (one per e-mail, as ADR6 joins give) becomes one record whose
    e-mails are the union, in order; the first row's name, RFC and language win unless blank.
    """
    rows = read_rows(data, name)
    found = find_header(rows, CUSTOMER_ALIASES, _CUSTOMER_REQUIRED)
    if found is None:
        raise DataError(
            "No se encontró la fila de encabezados del catálogo de clientes: se esperan las "
            "columnas Sociedad, Cliente y Nombre (y opcionalmente RFC, Correo e Idioma)."
        )
    header_index, columns = found
    result: ParseResult[CustomerRecord] = ParseResult()
    by_key: dict[tuple[str, str], CustomerRecord] = {}
    for row in iter_after_header(rows, header_index):
        try:
            record = _customer(row, columns)
        except _Invalid as problem:
            result.rejects.append(Reject(row.line, str(problem)))
            continue
        if record is None:
            continue
        key = (record.sociedad, record.cliente)
        previous = by_key.get(key)
        if previous is None:
            by_key[key] = record
            result.rows.append(record)
        else:
            _merge(previous, record)
    return result


def _customer(row: Row, columns: dict[str, int]) -> CustomerRecord | None:
    def get(name: str) -> str:
        return cell_at(row, columns.get(name))

    if not any(get(name) for name in CUSTOMER_ALIASES):
        return None  # nothing in the known columns: a footer or a note beside the table
    sociedad = _sociedad(get("sociedad"))
    cliente = _cliente(get("cliente"))
    nombre = " ".join(f"{get('nombre')} {get('nombre2')}".split())
    if not nombre:
        raise _Invalid("Falta el nombre")
    correos: list[str] = []
    for address in split_addresses(get("correo")):
        try:
            normalized = normalize_address(address)
        except DataError as exc:
            raise _Invalid(exc.message) from None
        if normalized.casefold() not in {known.casefold() for known in correos}:
            correos.append(normalized)
    return CustomerRecord(
        line=row.line,
        sociedad=sociedad,
        cliente=cliente,
        nombre=nombre,
        rfc="".join(get("rfc").split()).upper(),
        correos=correos,
        idioma=language_code(get("idioma")),
    )


def _merge(into: CustomerRecord, other: CustomerRecord) -> None:
    known = {address.casefold() for address in into.correos}
    for address in other.correos:
        if address.casefold() not in known:
            known.add(address.casefold())
            into.correos.append(address)
    into.rfc = into.rfc or other.rfc
    into.idioma = into.idioma or other.idioma


# ------------------------------------------------------------------------------ open items

LEDGER_ALIASES: dict[str, tuple[str, ...]] = {
    "sociedad": ("Sociedad", "Soc.", "BUKRS", "Company Code", "CoCd"),
    "cliente": ("Cliente", "Cuenta", "Deudor", "KUNNR", "Account", "Customer"),
    "documento": (
        "Nº documento",
        "Nº doc.",
        "Documento",
        "BELNR",
        "Document Number",
        "DocumentNo",
        "Document No.",
    ),
    "tipo": ("Clase de documento", "Clase", "Clase doc.", "BLART", "Document Type", "Type"),
    "fecha_documento": ("Fecha de documento", "Fecha doc.", "BLDAT", "Document Date", "Doc. Date"),
    "fecha_base": ("Base p.plazo pago", "Fecha base", "ZFBDT", "Baseline Date"),
    "vencimiento": ("Vencimiento neto", "Vencimiento", "Net due date", "Net Due Dt", "Due date"),
    "importe_ml": (
        "Importe en moneda local",
        "Importe en ML",
        "DMBTR",
        "Amount in local currency",
        "Amt in loc.cur.",
    ),
    "moneda_ml": ("Moneda local", "ML", "HWAER", "Local Currency", "LCurr"),
    "importe_md": (
        "Importe en moneda doc.",
        "Importe en MD",
        "WRBTR",
        "Amount in doc. curr.",
        "Importe",
        "Amount",
    ),
    "moneda_md": ("Moneda del documento", "Mon.", "WAERS", "Document currency", "Curr.", "Moneda"),
    "referencia": ("Referencia", "XBLNR", "Reference"),
    "texto": ("Texto", "SGTXT", "Text"),
}
_LEDGER_REQUIRED = {"sociedad", "cliente", "documento"}
_DATE_FIELDS = (  # the due date, or what stands in for it, in order of preference
    ("vencimiento", "Vencimiento"),
    ("fecha_base", "Fecha base"),
    ("fecha_documento", "Fecha de documento"),
)
_SUBTOTAL = re.compile(r"^\*+[\s\d.,-]*$")  # "*", "**", "* 1.234,56-"; not "* urgente"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def parse_ledger(data: bytes, name: str = "") -> ParseResult[OpenItemRecord]:
    """Open items of an FBL5N export (text, SAP list or XLSX).

    Subtotal and total rows (a cell of ``*``/``**``, alone or before an amount, or no document
    number) and blank rows are skipped, never imported nor refused. The amount is the document-currency pair when
    the file has it, else the local-currency pair. The due date is the net due date, else the
    baseline date, else the document date, row by row.
    """
    rows = read_rows(data, name)
    found = find_header(rows, LEDGER_ALIASES, _LEDGER_REQUIRED)
    if found is None:
        raise DataError(
            "No se encontró la fila de encabezados de partidas abiertas: se esperan al menos las "
            "columnas Sociedad, Cliente (o Cuenta), Nº documento, Vencimiento neto, Importe y "
            "Moneda."
        )
    header_index, columns = found
    amount_field, currency_field = _amount_columns(columns)
    if not any(date_field in columns for date_field, _ in _DATE_FIELDS):
        raise DataError(
            "No se encontró la columna de fechas: se espera «Vencimiento neto», «Base p.plazo "
            "pago» o «Fecha de documento»."
        )
    items = [row for row in iter_after_header(rows, header_index) if not _is_subtotal(row, columns)]
    decimal = detect_decimal_separator(cell_at(row, columns[amount_field]) for row in items)
    result: ParseResult[OpenItemRecord] = ParseResult()
    for row in items:
        try:
            record = _open_item(row, columns, amount_field, currency_field, decimal)
        except _Invalid as problem:
            result.rejects.append(Reject(row.line, str(problem)))
        else:
            result.rows.append(record)
    return result


def _amount_columns(columns: dict[str, int]) -> tuple[str, str]:
    if "importe_md" in columns and "moneda_md" in columns:
        return "importe_md", "moneda_md"
    if "importe_ml" in columns and "moneda_ml" in columns:
        return "importe_ml", "moneda_ml"
    raise DataError(
        "No se encontraron las columnas de importe y moneda: se espera «Importe en moneda doc.» "
        "con «Moneda del documento», o «Importe en moneda local» con «Moneda local»."
    )


def _is_subtotal(row: Row, columns: dict[str, int]) -> bool:
    """Subtotal/total lines: an asterisk cell, or no document number (a grouping line).

    Every real FBL5N item has a document number (BELNR), so a line without one is a subtotal,
    a group heading or a repeated title, never an item to import or refuse.
    """
    if any(_SUBTOTAL.match(text) for text in row.cells):
        return True
    return not cell_at(row, columns["documento"])


def _open_item(
    row: Row,
    columns: dict[str, int],
    amount_field: str,
    currency_field: str,
    decimal: str | None,
) -> OpenItemRecord:
    def get(name: str) -> str:
        return cell_at(row, columns.get(name))

    sociedad = _sociedad(get("sociedad"))
    cliente = _cliente(get("cliente"))
    raw_amount = get(amount_field)
    if not raw_amount:
        raise _Invalid("Falta el importe")
    importe = _amount(raw_amount, decimal)
    moneda = get(currency_field).upper()
    if not moneda:
        raise _Invalid("Falta la moneda")
    if not _CURRENCY.match(moneda):
        raise _Invalid(f"Moneda «{get(currency_field)}» no es un código de 3 letras (MXN, USD)")
    fecha_documento = _date(get("fecha_documento"), "Fecha de documento")
    vencimiento: dt.date | None = None
    for date_field, label in _DATE_FIELDS:
        vencimiento = _date(get(date_field), label)
        if vencimiento is not None:
            break
    if vencimiento is None:
        raise _Invalid("Falta el vencimiento")
    return OpenItemRecord(
        line=row.line,
        sociedad=sociedad,
        cliente=cliente,
        documento=get("documento"),
        tipo=get("tipo").upper(),
        referencia=get("referencia"),
        fecha_documento=fecha_documento,
        vencimiento=vencimiento,
        importe=importe,
        moneda=moneda,
        texto=get("texto"),
    )


# ------------------------------------------------------------------------------------ dates

_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_SERIAL = re.compile(r"^\d{5}$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(text: str) -> dt.date | None:
    """``DD.MM.YYYY``, ``DD/MM/YYYY``, ISO or an Excel serial (20000..80000); ``None`` if not.

    Day first always: ``12/31/2026`` is refused, never read as December 31.
    """
    text = text.strip()
    try:
        if match := _DMY.match(text):
            day, _, month, year = match.groups()
            return dt.date(int(year), int(month), int(day))
        if match := _ISO.match(text):
            year, month, day = match.groups()
            return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    if _SERIAL.match(text) and 20000 <= int(text) <= 80000:
        return _EXCEL_EPOCH + dt.timedelta(days=int(text))
    return None


def _date(text: str, label: str) -> dt.date | None:
    if not text:
        return None
    parsed = parse_date(text)
    if parsed is None:
        raise _Invalid(f"{label} «{text}» no es una fecha válida (use DD.MM.AAAA o DD/MM/AAAA)")
    return parsed


# ---------------------------------------------------------------------------------- amounts

_CENT = Decimal("0.01")
_BLANKS = re.compile(r"[ \u00a0\u202f]")
_GROUPED = {
    ",": re.compile(r"^(?:\d{1,3}(?:[. \u00a0\u202f]\d{3})+|\d+)(?:,\d+)?$"),
    ".": re.compile(r"^(?:\d{1,3}(?:[, \u00a0\u202f]\d{3})+|\d+)(?:\.\d+)?$"),
}
_THOUSANDS_ONLY = re.compile(r"^\d{1,3}[.,]\d{3}$")  # "1.234": thousands or decimals?


def _split_sign(text: str) -> tuple[bool, str] | None:
    """(negative, digits) of an amount: SAP's trailing minus, a leading one, or parentheses."""
    body = text.strip().replace("\u2212", "-").removeprefix("$").strip()
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    if body.endswith("-"):
        negative, body = True, body[:-1].rstrip()
    elif body.startswith("-"):
        negative, body = True, body[1:].lstrip()
    elif body.startswith("+"):
        body = body[1:].lstrip()
    body = body.removeprefix("$").strip()
    if not body or body[0] in "+-" or body[-1] in "+-":
        return None
    return negative, body


def _vote(text: str) -> str | None:
    """The decimal separator one amount proves (``","`` or ``"."``), ``None`` if it proves none."""
    split = _split_sign(text)
    if split is None:
        return None
    body = _BLANKS.sub("", split[1])
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        return "," if body.rfind(",") > body.rfind(".") else "."
    if commas or dots:
        separator, count = (",", commas) if commas else (".", dots)
        if count > 1:  # a decimal separator appears once at most: this one groups thousands
            return "." if separator == "," else ","
        if _THOUSANDS_ONLY.match(body):
            return None
        return separator
    return None


def detect_decimal_separator(texts: Iterable[str]) -> str | None:
    """The file's decimal separator by majority of the amounts that prove one; ``None`` if tied."""
    votes = {",": 0, ".": 0}
    for text in texts:
        vote = _vote(text)
        if vote is not None:
            votes[vote] += 1
    if votes[","] == votes["."]:
        return None
    return "," if votes[","] > votes["."] else "."


def parse_amount(text: str, decimal: str | None) -> Decimal | None:
    """An amount as Decimal to the cent; ``None`` when it is not one under ``decimal``.

    With ``decimal=None`` (the file proved no notation) each amount must prove its own, so
    ``1.234`` alone is refused as ambiguous.
    """
    split = _split_sign(text)
    if split is None:
        return None
    negative, body = split
    separator = decimal or _vote(text)
    if separator is None:
        if any(char in body for char in ".,"):
            return None
        separator = "."
    if not _GROUPED[separator].match(body):
        return None
    group = "." if separator == "," else ","
    digits = _BLANKS.sub("", body).replace(group, "").replace(separator, ".")
    try:
        value = Decimal(digits).quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return -value if negative else value


def _amount(text: str, decimal: str | None) -> Decimal:
    value = parse_amount(text, decimal)
    if value is not None:
        return value
    if decimal is None and _THOUSANDS_ONLY.match(_BLANKS.sub("", text.strip(" -+$()"))):
        raise _Invalid(
            f"Importe «{text}» es ambiguo (¿miles o decimales?); escriba los decimales, "
            "p. ej. 1.234,00 o 1,234.00"
        )
    example = {",": "1.234,56-", ".": "1,234.56-"}.get(decimal or "", "1.234,56- o 1,234.56-")
    raise _Invalid(f"Importe «{text}» no es un importe válido (se espera p. ej. {example})")


# ------------------------------------------------------------------------------ pasted list

PASTE_ALIASES: dict[str, tuple[str, ...]] = {
    "sociedad": ("Sociedad", "Soc.", "BUKRS", "Company Code", "Company"),
    "cliente": (
        "Cliente",
        "No. de Cliente",
        "Nº cliente",
        "Cuenta",
        "Deudor",
        "KUNNR",
        "Customer",
        "Customer No.",
    ),
    "correo": (
        "Correo",
        "Correos",
        "Correo electrónico",
        "E-mail",
        "Email",
        "E-mails",
        "Emails",
        "E-Mail Address",
    ),
    "nombre": ("Nombre", "Nombre 1", "Name"),
    "idioma": ("Idioma", "Language", "Clave de idioma", "Idioma del estado de cuenta"),
}


def parse_catalog_paste(data: bytes, name: str = "") -> list[PasteRecord]:
    """Rows Sociedad / Cliente / Correo pasted from Excel (or a .csv/.xlsx with those columns).

    An optional header row (Spanish or English) maps the columns; without one they are
    positional, after dropping the empty leading columns every row shares, and every cell after
    the customer is part of the e-mail list. E-mails and customers are not validated and
    repetitions are kept: the caller checks them against the database.
    """
    rows = [_split_typed(row) for row in read_rows(data, name)]
    if not rows:
        return []
    found = find_header(rows[:1], PASTE_ALIASES, {"sociedad", "cliente"})
    if found is not None:
        columns = found[1]
        return [_pasted_by_header(row, columns) for row in rows[1:]]
    skip = min(_leading_empty(row.cells) for row in rows)
    return [_pasted_by_position(Row(row.line, row.cells[skip:])) for row in rows]


def _split_typed(row: Row) -> Row:
    """A lone cell such as ``SM02 1006210 a@example.mx`` (typed, not pasted) split on blanks."""
    if len(row.cells) == 1 and len(row.cells[0].split()) > 1:
        return Row(row.line, row.cells[0].split())
    return row


def _leading_empty(cells: list[str]) -> int:
    count = 0
    while count < len(cells) and not cells[count]:
        count += 1
    return count


def _pasted_by_header(row: Row, columns: dict[str, int]) -> PasteRecord:
    record = _pasted(
        row.line,
        cell_at(row, columns["sociedad"]),
        cell_at(row, columns["cliente"]),
        cell_at(row, columns.get("correo")),
    )
    idioma = cell_at(row, columns.get("idioma")).strip()
    return replace(record, idioma=idioma) if idioma else record


def _pasted_by_position(row: Row) -> PasteRecord:
    cells = row.cells
    correo = ";".join(text for text in cells[2:] if text)
    return _pasted(row.line, cell_at(row, 0), cell_at(row, 1), correo)


def _pasted(line: int, sociedad_raw: str, cliente_raw: str, correo: str) -> PasteRecord:
    sociedad = normalize_sociedad(sociedad_raw)
    cliente = normalize_cliente(cliente_raw)
    error = None
    if not sociedad:
        error = "Falta la sociedad"
    elif not cliente:
        error = "Falta el cliente"
    return PasteRecord(line, sociedad, cliente, correo, error)

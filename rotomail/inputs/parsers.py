"""Pure parsers for the three inputs: customer master, open items (FBL5N) and a pasted catalogue.

No database here. Each parser reads rows through :mod:`rotomail.inputs.tabular`, finds the header
through an alias table (headers drift with SAP release, language and layout), and returns
records plus the rows it refused, each refusal naming its line and field in Spanish.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Generic, TypeVar

from rotomail.company import COLLECTOR_CODE_MAX, collector_code, language_code
from rotomail.config import IMPORT_FIELDS
from rotomail.errors import DataError, UsageError
from rotomail.ids import normalize_cliente, normalize_sociedad
from rotomail.inputs import sap_labels
from rotomail.inputs.addresses import normalize_address, split_addresses
from rotomail.inputs.tabular import (
    HEADER_SEARCH_ROWS,
    Row,
    cell_at,
    find_header,
    normalize_header,
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
    ejecutivo: str = ""  # the collector's code (KNB1-BUSAB), upper case; "" = none


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
    doc_compensacion: str = ""  # SAP's AUGBL, in an all-items export
    fecha_compensacion: dt.date | None = None  # set: the item is cleared, never open
    asignacion: str = ""  # SAP's ZUONR (Asignación): often a CFDI's folio or UUID
    bloqueo: str = ""  # SAP's per-item dunning block (MANSP): non-blank = in dispute

    @property
    def cleared(self) -> bool:
        return self.fecha_compensacion is not None


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

CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = sap_labels.aliases("customers")
_CUSTOMER_REQUIRED = {"sociedad", "cliente", "nombre"}


@dataclass
class CustomerParse(ParseResult[CustomerRecord]):
    headings: dict[str, str] = field(default_factory=dict)  # field -> heading in the file

    def heading_lines(self) -> list[str]:
        """``correo ← «E-Mail Address»`` for every field of the master."""
        return [
            f"{name} ← «{self.headings[name]}»"
            if name in self.headings
            else f"{name} ← (no está en el archivo)"
            for name in IMPORT_FIELDS["customers"]
        ]


def parse_customers(
    data: bytes | Iterable[Row],
    name: str = "",
    *,
    column_map: dict[str, str] | None = None,
    strict_columns: set[str] | None = None,
) -> CustomerParse:
    """Customer master rows (KNA1/KNB1/ADR6 export) keyed by sociedad + cliente.

    ``data`` is the file's bytes or its rows as they are read. A customer on several rows
    (one per e-mail, as ADR6 joins give) becomes one record whose e-mails are the union, in
    order; the first row's name, RFC and language win unless blank.
    """
    rows = iter(read_rows(data, name) if isinstance(data, bytes) else data)
    column_map = column_map or {}
    found = _find_layout_rows(rows, CUSTOMER_ALIASES, _CUSTOMER_REQUIRED, column_map)
    if found is None:
        raise header_error(
            "del maestro de clientes",
            "Sociedad, Cliente y Nombre (y opcionalmente RFC, Correo, Idioma y Encargado)",
        )
    _, header, columns = found
    _check_mapped(header, columns, column_map, strict_columns or set(), name)
    result = CustomerParse(headings={key: header.cells[column] for key, column in columns.items()})
    by_key: dict[tuple[str, str], CustomerRecord] = {}
    for row in rows:
        if row.cells == header.cells:
            continue  # the header repeated on every page
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
    ejecutivo = collector_code(get("ejecutivo"))
    if len(ejecutivo) > COLLECTOR_CODE_MAX:
        raise _Invalid(
            f"Encargado «{ejecutivo}» no es válido (hasta {COLLECTOR_CODE_MAX} caracteres)"
        )
    return CustomerRecord(
        line=row.line,
        sociedad=sociedad,
        cliente=cliente,
        nombre=nombre,
        rfc="".join(get("rfc").split()).upper(),
        correos=correos,
        idioma=language_code(get("idioma")),
        ejecutivo=ejecutivo,
    )


def _merge(into: CustomerRecord, other: CustomerRecord) -> None:
    known = {address.casefold() for address in into.correos}
    for address in other.correos:
        if address.casefold() not in known:
            known.add(address.casefold())
            into.correos.append(address)
    into.rfc = into.rfc or other.rfc
    into.idioma = into.idioma or other.idioma
    into.ejecutivo = into.ejecutivo or other.ejecutivo


# ------------------------------------------------------------------------------ open items

LEDGER_ALIASES: dict[str, tuple[str, ...]] = sap_labels.aliases("ledger")
_LEDGER_REQUIRED = {"sociedad", "cliente", "documento"}
DUE_DATE_STANDINS = ("fecha_base", "fecha_documento")  # what --due-date-from may name
FIELD_WORDS = {  # how messages name a field
    "vencimiento": "vencimiento neto",
    "fecha_base": "fecha base",
    "fecha_documento": "fecha de documento",
}
_SUBTOTAL = re.compile(r"^(\*+)[\s\d.,-]*$")  # "*", "**", "* 1.234,56-"; not "* urgente"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL_SAMPLE = 2000  # items read before the file's decimal separator is decided
_TOTAL_LEVELS = 3
_DATE_TEXT = r"(\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{4}-\d{2}-\d{2})"
_KEY_DATE = [  # the key date SAP prints above an open-items list, es / en / pt
    re.compile(pattern + _DATE_TEXT)
    for pattern in (
        r"fecha\s+(?:de\s+)?clave\s*:?\s*",
        r"partidas\s+abiertas\s+(?:a|al)\s+(?:dia\s+|fecha\s+)?",
        r"key\s+date\s*:?\s*",
        r"open\s+items\s+(?:at|as\s+(?:at|of)|on)\s+(?:key\s+date\s+)?",
        r"data\s+(?:de\s+)?(?:chave|referencia)\s*:?\s*",
        r"(?:partidas|itens)\s+em\s+aberto\s+(?:em|a|ate)\s+",
    )
]


@dataclass(frozen=True)
class TotalMismatch:
    """A ``*``/``**`` line of the file whose figure is not the sum of the items above it."""

    line: int
    level: int  # 1: "*" (per customer), 2: "**" (total)…
    cliente: str
    moneda: str
    in_file: Decimal
    computed: Decimal

    @property
    def message(self) -> str:
        what = f"del cliente {self.cliente}" if self.level == 1 and self.cliente else "total"
        return (
            f"Línea {self.line}: el subtotal {what} en {self.moneda} no cuadra: el archivo dice "
            f"{format_amount(self.in_file)} y sus partidas suman {format_amount(self.computed)}."
        )


def format_amount(value: Decimal) -> str:
    """``1234.5`` -> ``1,234.50``; ``-5`` -> ``-5.00`` (plain, for messages)."""
    return f"{value:,.2f}"


@dataclass
class LedgerLayout:
    """What a file's header says: the column of each field and the heading that names it."""

    name: str
    columns: dict[str, int]
    headings: dict[str, str]  # field -> the heading as printed in the file
    amount_field: str
    currency_field: str
    due_field: str  # "vencimiento", or the stand-in the user named: fecha_base/fecha_documento
    key_date: dt.date | None  # printed above the header ("Fecha de clave: 30.11.2026")

    def heading_lines(self) -> list[str]:
        """``vencimiento ← «Venc.neto»`` for every field, in the order of the field list."""
        lines = []
        for name in IMPORT_FIELDS["ledger"]:
            if name == "vencimiento" and self.due_field != "vencimiento":
                source = self.headings[self.due_field]
                lines.append(
                    f"vencimiento ← «{source}» ({FIELD_WORDS[self.due_field]}, "
                    "por --due-date-from: el archivo no trae el vencimiento neto)"
                )
            elif name in self.headings:
                lines.append(f"{name} ← «{self.headings[name]}»")
            else:
                lines.append(f"{name} ← (no está en el archivo)")
        return lines


def input_name(name: str, *, start: bool = False) -> str:
    """How a message names an input: its file name; ``-`` is the standard input, and no name
    at all (bytes read in memory) is "la entrada". ``start``: at the start of a sentence."""
    if name and name != "-":
        return name
    words = "la entrada estándar" if name == "-" else "la entrada"
    return words.capitalize() if start else words


def header_error(what: str, expected: str) -> DataError:
    return DataError(
        f"No se encontró la fila de encabezados {what}: se esperan al menos las columnas "
        f"{expected}. Si el archivo las titula de otro modo, indíquelo con "
        '--column campo="Encabezado".'
    )


def _find_layout_rows(
    rows: Iterator[Row],
    aliases: dict[str, tuple[str, ...]],
    required: set[str],
    column_map: dict[str, str],
) -> tuple[list[Row], Row, dict[str, int]] | None:
    """(rows above the header, the header row, field -> column), or None when not found.

    The user's map comes last so that its headings win over the table's.
    """
    merged = {field: tuple(names) for field, names in aliases.items()}
    for field_name, heading in column_map.items():
        merged[f"\0{field_name}"] = (heading,)
    seen: list[Row] = []
    for row in rows:
        seen.append(row)
        found = find_header([row], merged, set())
        if found is not None:
            columns: dict[str, int] = {}
            for key, column in sorted(found[1].items(), key=lambda item: item[1]):
                columns.setdefault(key.lstrip("\0"), column)
            for key, column in found[1].items():
                if key.startswith("\0"):
                    columns[key[1:]] = column  # the user's heading wins
            if required <= columns.keys():
                return seen[:-1], row, columns
        if len(seen) >= HEADER_SEARCH_ROWS:
            break
    return None


def _check_mapped(
    header: Row, columns: dict[str, int], column_map: dict[str, str], strict: set[str], name: str
) -> None:
    """Every field mapped on the command line must be fed by the heading the user gave."""
    for field_name in sorted(strict):
        wanted = normalize_header(column_map[field_name])
        column = columns.get(field_name)
        if column is None or normalize_header(header.cells[column]) != wanted:
            raise UsageError(
                f"La columna «{column_map[field_name]}» (--column {field_name}) no está en el "
                f"encabezado de {input_name(name)}."
            )


def find_key_date(rows: Iterable[Row]) -> dt.date | None:
    """The key date printed above the list ("Fecha de clave: 30.11.2026"), or None; a
    ``DataError`` naming the line when the date printed there is no date (31.11.2026)."""
    for row in rows:
        text = normalize_header(" ".join(row.cells).replace(".", "\x01")).replace("\x01", ".")
        for pattern in _KEY_DATE:
            if match := pattern.search(text):
                if (key_date := parse_date(match.group(1))) is None:
                    raise DataError(
                        f"Línea {row.line}: la fecha de clave «{match.group(1)}» no es una "
                        "fecha válida (use DD.MM.AAAA o DD/MM/AAAA)."
                    )
                return key_date
    return None


class LedgerReader:
    """The items of one FBL5N export, read row by row (memory does not grow with the file).

    Building it reads the title lines and the header (a :class:`LedgerLayout`, or a
    ``DataError`` naming what is missing); iterating yields each item or refused row in file
    order. Subtotal (``*``) and total (``**``) lines are not items: each is checked against the
    items above it, every data row counted, and a mismatch is kept in :attr:`mismatches`.
    """

    def __init__(
        self,
        rows: Iterable[Row],
        name: str = "",
        *,
        column_map: dict[str, str] | None = None,
        strict_columns: set[str] | None = None,
        due_date_from: str | None = None,
    ) -> None:
        self._rows = iter(rows)
        column_map = column_map or {}
        found = _find_layout_rows(self._rows, LEDGER_ALIASES, _LEDGER_REQUIRED, column_map)
        if found is None:
            raise header_error(
                "de partidas abiertas",
                "Sociedad, Cliente (o Cuenta), Nº documento, Vencimiento neto, Importe y Moneda",
            )
        above, header, columns = found
        _check_mapped(header, columns, column_map, strict_columns or set(), name)
        amount_field, currency_field = _amount_columns(columns)
        self.layout = LedgerLayout(
            name=name,
            columns=columns,
            headings={field_name: header.cells[column] for field_name, column in columns.items()},
            amount_field=amount_field,
            currency_field=currency_field,
            due_field=_due_field(columns, header, due_date_from, name),
            key_date=find_key_date(above),
        )
        self._header = [normalize_header(text) for text in header.cells]
        self.mismatches: list[TotalMismatch] = []
        # The amount columns a total may be printed in: the one imported, and the local one.
        self._pairs = [(amount_field, currency_field)]
        if amount_field == "importe_md" and {"importe_ml", "moneda_ml"} <= columns.keys():
            self._pairs.append(("importe_ml", "moneda_ml"))
        # Per amount column, per level (index 1..3), currency -> running sum since that
        # level's last total line.
        self._sums: list[list[dict[str, Decimal]]] = [
            [{} for _ in range(_TOTAL_LEVELS + 1)] for _ in self._pairs
        ]
        self._closed = 0
        self._last_cliente = ""

    def __iter__(self) -> Iterator[OpenItemRecord | Reject]:
        columns = self.layout.columns
        buffered: list[tuple[int, Row]] = []  # (asterisks, row); 0 for an item
        items = 0
        decimal: str | None = None
        deciding = True
        for row in self._rows:
            if self._is_header_again(row):
                continue
            level = _total_level(row)
            if not level and not cell_at(row, columns["documento"]):
                continue  # a group heading, a page title: neither item nor total
            if deciding:
                buffered.append((level, row))
                items += not level
                if items < _DECIMAL_SAMPLE:
                    continue
                decimal = detect_decimal_separator(
                    cell_at(row, columns[self.layout.amount_field])
                    for level, row in buffered
                    if not level
                )
                deciding = False
                for level_row in buffered:
                    yield from self._take(*level_row, decimal)
                buffered.clear()
                continue
            yield from self._take(level, row, decimal)
        if deciding:
            decimal = detect_decimal_separator(
                cell_at(row, columns[self.layout.amount_field])
                for level, row in buffered
                if not level
            )
            for level_row in buffered:
                yield from self._take(*level_row, decimal)

    def _is_header_again(self, row: Row) -> bool:
        """A page header repeated in the middle of a list."""
        return len(row.cells) == len(self._header) and all(
            normalize_header(text) == expected
            for text, expected in zip(row.cells, self._header, strict=True)
        )

    def _take(self, level: int, row: Row, decimal: str | None) -> Iterator[OpenItemRecord | Reject]:
        if level:
            self._check_total(level, row, decimal)
            return
        amount = self._count(row, decimal)
        try:
            yield _open_item(row, self.layout, decimal, amount)
        except _Invalid as problem:
            yield Reject(row.line, str(problem))

    def _count(self, row: Row, decimal: str | None) -> Decimal | None:
        """Add an item to the running sums, whatever else is wrong with it; its amount.

        Only the lowest level's sums grow per item; when a total line has closed levels,
        the first item after it carries their sums up a level (once per customer, not
        per item).
        """
        if self._closed:
            for sums in self._sums:
                for level in range(1, self._closed + 1):
                    if level < _TOTAL_LEVELS:
                        upper = sums[level + 1]
                        for currency, value in sums[level].items():
                            upper[currency] = upper.get(currency, Decimal(0)) + value
                    sums[level] = {}
            self._closed = 0
        self._last_cliente = cell_at(row, self.layout.columns["cliente"])
        imported: Decimal | None = None
        for index, (amount_field, currency_field) in enumerate(self._pairs):
            amount = parse_amount(cell_at(row, self.layout.columns[amount_field]), decimal)
            if index == 0:
                imported = amount
            if amount is None:
                continue  # refused as an item; a subtotal over it cannot match, as it should not
            currency = cell_at(row, self.layout.columns[currency_field]).upper()
            lowest = self._sums[index][1]
            lowest[currency] = lowest.get(currency, Decimal(0)) + amount
        return imported

    def _check_total(self, level: int, row: Row, decimal: str | None) -> None:
        level = min(level, _TOTAL_LEVELS)
        self._closed = max(self._closed, level)
        columns = self.layout.columns
        cliente = normalize_cliente(cell_at(row, columns["cliente"]) or self._last_cliente)
        for sums, (amount_field, currency_field) in zip(self._sums, self._pairs, strict=True):
            text = cell_at(row, columns[amount_field]).lstrip("* ").strip()
            in_file = parse_amount(text, decimal) if text else None
            if in_file is None:
                continue  # this total is printed in another column (or not at all)
            running: dict[str, Decimal] = {}
            for lower in sums[1 : level + 1]:  # the levels below not yet carried up
                for key, value in lower.items():
                    running[key] = running.get(key, Decimal(0)) + value
            currency = cell_at(row, columns[currency_field]).upper()
            if not currency and len(running) == 1:
                currency = next(iter(running))
            computed = running.get(currency, Decimal(0))
            if computed != in_file:
                self.mismatches.append(
                    TotalMismatch(row.line, level, cliente, currency or "?", in_file, computed)
                )


def _total_level(row: Row) -> int:
    for text in row.cells:
        if match := _SUBTOTAL.match(text):
            return len(match.group(1))
    return 0


def _due_field(columns: dict[str, int], header: Row, due_date_from: str | None, name: str) -> str:
    if "vencimiento" in columns:
        if due_date_from:
            heading = header.cells[columns["vencimiento"]]
            raise UsageError(
                f"{input_name(name, start=True)} trae el vencimiento neto («{heading}»); quite "
                "--due-date-from."
            )
        return "vencimiento"
    if due_date_from:
        if due_date_from not in columns:
            raise DataError(
                f"{input_name(name, start=True)} no trae la columna de {FIELD_WORDS[due_date_from]} "
                f"que --due-date-from {due_date_from} nombra."
            )
        return due_date_from
    headings = ", ".join(f"«{text}»" for text in header.cells if text)
    raise DataError(
        f"{input_name(name, start=True)} no trae el vencimiento neto (sus columnas son: "
        f"{headings}). Si una de ellas lo es, indíquelo con "
        '--column vencimiento="Encabezado"; si el archivo no lo trae, elija con qué fecha '
        "calcular la antigüedad: --due-date-from fecha_base o --due-date-from fecha_documento "
        "(el estado de cuenta lo dirá). No se importó nada."
    )


@dataclass
class LedgerParse(ParseResult[OpenItemRecord]):
    layout: LedgerLayout | None = None
    mismatches: list[TotalMismatch] = field(default_factory=list)


def parse_ledger(
    data: bytes,
    name: str = "",
    *,
    column_map: dict[str, str] | None = None,
    due_date_from: str | None = None,
) -> LedgerParse:
    """Open items of an FBL5N export held in memory (see :class:`LedgerReader`)."""
    reader = LedgerReader(
        read_rows(data, name), name, column_map=column_map, due_date_from=due_date_from
    )
    result = LedgerParse(layout=reader.layout)
    for entry in reader:
        if isinstance(entry, Reject):
            result.rejects.append(entry)
        else:
            result.rows.append(entry)
    result.mismatches = reader.mismatches
    return result


def _amount_columns(columns: dict[str, int]) -> tuple[str, str]:
    if "importe_md" in columns and "moneda_md" in columns:
        return "importe_md", "moneda_md"
    if "importe_ml" in columns and "moneda_ml" in columns:
        return "importe_ml", "moneda_ml"
    raise DataError(
        "No se encontraron las columnas de importe y moneda: se espera «Importe en moneda doc.» "
        "con «Moneda del documento», o «Importe en moneda local» con «Moneda local». Si el "
        'archivo las titula de otro modo, indíquelo con --column importe_md="…" '
        '--column moneda_md="…".'
    )


def _open_item(
    row: Row, layout: LedgerLayout, decimal: str | None, amount: Decimal | None
) -> OpenItemRecord:
    columns = layout.columns

    def get(name: str) -> str:
        return cell_at(row, columns.get(name))

    sociedad = _sociedad(get("sociedad"))
    cliente = _cliente(get("cliente"))
    raw_amount = get(layout.amount_field)
    if not raw_amount:
        raise _Invalid("Falta el importe")
    importe = amount if amount is not None else _amount(raw_amount, decimal)
    moneda = get(layout.currency_field).upper()
    if not moneda:
        raise _Invalid("Falta la moneda")
    if not _CURRENCY.match(moneda):
        raise _Invalid(
            f"Moneda «{get(layout.currency_field)}» no es un código de 3 letras (MXN, USD)"
        )
    fecha_documento = _date(get("fecha_documento"), "Fecha de documento")
    doc_compensacion = get("doc_compensacion")
    fecha_compensacion = _date(get("fecha_compensacion"), "Fecha de compensación")
    if doc_compensacion and fecha_compensacion is None:
        raise _Invalid(f"Doc. compensación «{doc_compensacion}» sin fecha de compensación")
    if layout.due_field == "vencimiento":
        label, missing = "Vencimiento", "Falta el vencimiento"
    else:
        label = FIELD_WORDS[layout.due_field].capitalize()
        missing = f"Falta la {FIELD_WORDS[layout.due_field]}"
    vencimiento = _date(get(layout.due_field), label)
    if vencimiento is None:
        if fecha_compensacion is None:
            raise _Invalid(missing)
        vencimiento = fecha_compensacion  # a cleared item is not aged: any date will do
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
        doc_compensacion=doc_compensacion,
        fecha_compensacion=fecha_compensacion,
        asignacion=get("asignacion"),
        bloqueo=get("bloqueo"),
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

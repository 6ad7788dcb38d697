"""Identifiers: company codes (sociedad) and customer numbers (cliente) are always text.

Normalisation, the one documented way:

* sociedad: surrounding blanks removed, upper case (``sm02`` -> ``SM02``).
* cliente: surrounding blanks removed; Excel's float rendering ``1006210.0`` loses its
  ``.0``; a purely numeric number loses SAP's leading zeros (``0001006210`` -> ``1006210``,
  ``0000`` -> ``0``); an alphanumeric one (SAP allows them) is only upper-cased.

So ``0001006210`` in a SAP export and ``1006210`` typed by a user are the same customer.
"""

from __future__ import annotations

import re
import unicodedata

_EXCEL_FLOAT = re.compile(r"^(\d+)\.0+$")
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def normalize_sociedad(value: object) -> str:
    return str(value if value is not None else "").strip().upper()


def normalize_cliente(value: object) -> str:
    text = str(value if value is not None else "").strip()
    match = _EXCEL_FLOAT.match(text)
    if match:
        text = match.group(1)
    if text.isdigit():
        return text.lstrip("0") or "0"
    return text.upper()


def safe_filename_part(value: str) -> str:
    """A file-name fragment that cannot leave its folder (no separators, dots or controls)."""
    cleaned = _SAFE.sub("_", value).strip("_")
    return cleaned or "_"


def search_key(value: str) -> str:
    """Text as the search columns store it and as searches compare it: without accents
    and case (``Peña HIDRÁULICA`` -> ``pena hidraulica``), so both databases match alike."""
    if value.isascii():  # NFKD leaves ASCII as it is, with nothing combining
        return value.casefold()
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()

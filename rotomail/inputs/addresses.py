"""E-mail address lists as people type or paste them: ``a@x.mx; b@x.mx``, ``mailto:a@x.mx``, ...

Every address rotomail takes, here and in the e-mails it builds (delivery.messages), is judged
by one validator, ``rotomail.address_syntax`` (email-validator's ``validate_email``, syntax only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import idna

from rotomail.address_syntax import judge_parts, normalized_or_none
from rotomail.errors import DataError

_MAILTO = "mailto:"
_SEPARATORS = re.compile(r"[;,\s]+")
_LIST_SEPARATORS = re.compile(r"[;,]")
_QUOTED_NAME = re.compile(r'"[^"]*"')
_BRACKETED = re.compile(r"<([^<>]*)>")


def split_addresses(text: str) -> list[str]:
    """The addresses of a list, split on ``;``, ``,`` and blanks, without ``mailto:`` or ``<>``.

    Display names as mail programs copy them (``"Ana, Cobranza" <ana@example.mx>``) are
    dropped. Empty items and repetitions (case-insensitive) are dropped; the first spelling is
    kept, in the order first seen. Nothing is validated here.
    """
    result: list[str] = []
    seen: set[str] = set()
    for token in _tokens(text):
        address = _strip_decoration(token)
        key = address.casefold()
        if address and key not in seen:
            seen.add(key)
            result.append(address)
    return result


def _tokens(text: str) -> list[str]:
    if "<" not in text:
        return _SEPARATORS.split(text)
    tokens: list[str] = []
    for segment in _LIST_SEPARATORS.split(_QUOTED_NAME.sub(" ", text)):
        bracketed = _BRACKETED.findall(segment)
        if not bracketed:
            tokens += segment.split()
            continue
        # Juan Pérez <juan@example.mx>: the address is in brackets; the rest is a name.
        tokens += [word for inner in bracketed for word in inner.split()]
        tokens += [word for word in _BRACKETED.sub(" ", segment).split() if "@" in word]
    return tokens


def _strip_decoration(token: str) -> str:
    address = token.strip().strip("<>")
    if address[: len(_MAILTO)].casefold() == _MAILTO:
        address = address[len(_MAILTO) :].split("?", 1)[0].strip("<>")
    return address


def normalize_address(address: str) -> str:
    """One validated address in its normalised form (domain in lower case)."""
    normalized = normalized_or_none(address)
    if normalized is None:
        raise DataError(f"Correo inválido: «{address}»")
    return normalized


def parse_addresses(text: str) -> list[str]:
    """The validated, normalised, de-duplicated addresses of a list; at least one.

    Raises DataError naming the first invalid address, or when the list is empty.
    """
    addresses = split_addresses(text)
    if not addresses:
        raise DataError("Falta el correo.")
    result: list[str] = []
    seen: set[str] = set()
    for address in addresses:
        normalized = normalize_address(address)
        key = normalized.casefold()
        if key not in seen:
            seen.add(key)
            result.append(normalized)
    return result


def judge_ahead(texts: Iterable[str]) -> None:
    """Before ``parse_addresses`` goes through many lists (a pasted catalogue), judge their
    addresses' local parts and domains ahead on every core (``address_syntax.judge_parts``)."""
    judge_parts(address for text in texts for address in split_addresses(text))


def needs_smtputf8(address: str) -> bool:
    """True when the local part (before the @) is not ASCII: only a server offering
    SMTPUTF8 can take it. A non-ASCII domain is fine anywhere: it travels as punycode."""
    return not address.rpartition("@")[0].isascii()


@lru_cache(maxsize=32_768)
def ascii_address(address: str) -> str | None:
    """The address as any SMTP server takes it: the domain in punycode (IDNA); None when
    the local part is not ASCII (it needs SMTPUTF8) or the domain cannot be encoded."""
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        return None
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return None


def unicode_address(address: str) -> str:
    """The address as people read it: a punycode (``xn--``) domain shown in Unicode."""
    local, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return address
    try:
        return f"{local}@{idna.decode(domain)}"
    except idna.IDNAError:
        return address

"""E-mail address lists as people type or paste them: ``a@x.mx; b@x.mx``, ``mailto:a@x.mx``, ...

Validation uses email-validator (syntax only, no DNS). It costs ~20 µs an address, three
quarters of it in the domain, so the local part and the domain are validated and cached apart
(catalogues repeat domains far more than addresses); a full validation decides whenever a part
fails or the address is long, so the verdict is always email-validator's.
"""

from __future__ import annotations

import re
from functools import lru_cache

import idna
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.syntax import validate_email_local_part

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


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}(?<=[A-Za-z])")  # ends in a letter
_DOT_ATOM_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_MAX_FAST_LENGTH = 200  # ASCII and below the 254 limit: no length rule can differ
_PROBE_DOMAIN = "a.mx"  # short: the probe domain is validated again on every call
_PROBE_LOCAL = "postmaster"


@lru_cache(maxsize=131_072)
def _normalized(address: str) -> str | None:
    """The normalised form of one address, ``None`` when it is not valid."""
    local, at, domain = address.rpartition("@")
    if at and address.isascii() and len(address) <= _MAX_FAST_LENGTH:
        local_norm = _local_part(local)
        domain_norm = _domain(domain)
        if local_norm is not None and domain_norm is not None:
            return f"{local_norm}@{domain_norm}"
    return _full(address)


def _full(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@lru_cache(maxsize=131_072)
def _local_part(local: str) -> str | None:
    # A plain dot-atom goes straight to email-validator's own local-part rules (30x faster
    # than a whole validate_email call); anything quoted or unusual takes the full path.
    if not _DOT_ATOM_CHARS.fullmatch(local):
        return _full_local_part(local)
    try:
        return validate_email_local_part(local, allow_smtputf8=False)["local_part"]
    except EmailNotValidError:
        return None


def _full_local_part(local: str) -> str | None:
    try:
        return validate_email(f"{local}@{_PROBE_DOMAIN}", check_deliverability=False).local_part
    except EmailNotValidError:
        return None


@lru_cache(maxsize=32_768)
def _domain(domain: str) -> str | None:
    # An everyday host name (letters, digits, single hyphens, ending in a letter) needs none
    # of email-validator's IDNA work, which costs ~0.1 ms a domain; every other domain is
    # left to the library. tests/test_emails.py checks both paths agree.
    if _PLAIN_DOMAIN.fullmatch(domain) and "--" not in domain and len(domain) <= 253:
        lowered = domain.lower()
        if not any(
            lowered == special or lowered.endswith("." + special)
            for special in SPECIAL_USE_DOMAIN_NAMES
        ):
            return lowered
        return None
    try:
        return validate_email(f"{_PROBE_LOCAL}@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalize_address(address: str) -> str:
    """One validated address in its normalised form (domain in lower case)."""
    normalized = _normalized(address)
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

"""E-mail address lists as people type or paste them: ``a@x.mx; b@x.mx``, ``mailto:a@x.mx``, ...

Every address rotomail takes, here and in the e-mails it builds (delivery.messages), is judged
by one validator: email-validator's public ``validate_email`` (syntax only, no DNS).
"""

from __future__ import annotations

import re
from functools import lru_cache

import idna
from email_validator import EmailNotValidError, ValidatedEmail, validate_email

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


_SPLIT_MAX_LENGTH = 200  # ASCII and below the 254 limit: no length rule can differ
_PROBE_DOMAIN = "a.mx"  # short: the probe domain is validated again on every call
_PROBE_LOCAL = "postmaster"


def validated(address: str) -> ValidatedEmail | None:
    """email-validator's verdict on one bare address (``user@example.mx``), ``None`` when
    it is not valid: rotomail's one address validator, syntax only (no DNS). Special-use
    domains (``.test``, ``.local``, ``localhost``, ...) are refused, a local part with
    accents and an internationalised domain are accepted (SMTPUTF8 and IDNA)."""
    try:
        return validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None


@lru_cache(maxsize=131_072)
def _normalized(address: str) -> str | None:
    """The normalised form of one address, ``None`` when it is not valid.

    A validation costs ~25 µs, most of it in the domain, and a catalogue repeats domains
    and mailbox names far more than addresses: an everyday ASCII address is judged as its
    local part (on a short probe domain) and its domain (behind a probe mailbox), each
    validated by email-validator and cached. Whenever a part fails, or the address is not
    ASCII or is long enough for the whole-address length rules to matter, the whole address
    is validated, so the verdict is always email-validator's on the address itself
    (tests/test_emails.py checks both paths agree).
    """
    local, at, domain = address.rpartition("@")
    if at and address.isascii() and len(address) <= _SPLIT_MAX_LENGTH:
        local_norm = _local_part(local)
        domain_norm = _domain(domain)
        if local_norm is not None and domain_norm is not None:
            return f"{local_norm}@{domain_norm}"
    email = validated(address)
    return email.normalized if email is not None else None


@lru_cache(maxsize=32_768)
def _local_part(local: str) -> str | None:
    email = validated(f"{local}@{_PROBE_DOMAIN}")
    return email.local_part if email is not None else None


@lru_cache(maxsize=32_768)
def _domain(domain: str) -> str | None:
    email = validated(f"{_PROBE_LOCAL}@{domain}")
    return email.domain if email is not None else None


def is_valid_address(address: str) -> bool:
    """True when email-validator accepts the bare address (cached)."""
    return _normalized(address) is not None


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

"""rotomail's one address validator: email-validator's public ``validate_email`` (syntax
only, no DNS).

It sits at the package's root so every layer judges an address alike: the settings
(``config.py``: the operator's, the companies' and the collectors' addresses, checked when
settings load), the catalogue (``inputs.addresses``) and the e-mails (``delivery.messages``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email_validator import ValidatedEmail

# Control characters (CR, LF, tab, C1) and the Unicode line separators: never in an address.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# ``Name <user@example.mx>``: a display name, then the address in brackets.
NAME_ADDR = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")

_SPLIT_MAX_LENGTH = 200  # ASCII and below the 254 limit: no length rule can differ
_PROBE_DOMAIN = "a.mx"  # short: the probe domain is validated again on every call
_PROBE_LOCAL = "postmaster"


def validated(address: str) -> ValidatedEmail | None:
    """email-validator's verdict on one bare address (``user@example.mx``), ``None`` when
    it is not valid: rotomail's one address validator, syntax only (no DNS). Special-use
    domains (``.test``, ``.local``, ``localhost``, ...) are refused, a local part with
    accents and an internationalised domain are accepted (SMTPUTF8 and IDNA)."""
    # imported on first use (25 ms): a command whose settings' addresses were already
    # judged (config.py keeps that verdict) and that validates nothing never pays for it
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None


@lru_cache(maxsize=131_072)
def normalized_or_none(address: str) -> str | None:
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
    return normalized_or_none(address) is not None


def split_name_addr(value: str) -> tuple[str, str]:
    """``Name <user@example.mx>`` -> (``Name``, ``user@example.mx``); a bare address has no
    name. Nothing is validated here."""
    text = value.strip()
    match = NAME_ADDR.match(text)
    if match:
        return match.group("name").strip().strip('"'), match.group("addr").strip()
    return "", text


def is_valid_mailbox(value: str) -> bool:
    """True for ``user@example.mx`` or ``Name <user@example.mx>`` as an e-mail header takes
    it: no control character, and the address accepted by ``is_valid_address``."""
    return not CONTROL.search(value) and is_valid_address(split_name_addr(value)[1])

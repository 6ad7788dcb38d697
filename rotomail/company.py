"""The issuing company's profile: one ``[companies.<SOCIEDAD>]`` table of config.toml."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

LANGUAGES = ("es", "pt", "en")
# What a company may give per language: ``[companies.SM02.en] phone = "…" address = "…"``.
LOCALIZED_KEYS = ("phone", "address")

# SAP's one-letter language keys (SPRAS), ISO codes and the languages' names.
_LANGUAGE_WORDS = {
    "s": "es",
    "es": "es",
    "espanol": "es",
    "spanish": "es",
    "p": "pt",
    "pt": "pt",
    "portugues": "pt",
    "portuguese": "pt",
    "e": "en",
    "en": "en",
    "ingles": "en",
    "english": "en",
}


def language_code(raw: str) -> str:
    """The language of a SPRAS key or name: ``S``/``ES``/``Español`` -> ``es``.

    ``P``/``PT`` -> ``pt``, ``E``/``EN`` -> ``en``, anything else ``""``; case and accents
    do not matter.
    """
    folded = unicodedata.normalize("NFKD", raw.strip().casefold())
    return _LANGUAGE_WORDS.get("".join(c for c in folded if not unicodedata.combining(c)), "")


@dataclass(frozen=True)
class CompanyProfile:
    code: str  # sociedad, e.g. "SM02"
    name: str  # legal name: letterhead, subject, signature
    rfc: str = ""
    sender: str = ""  # From address
    reply_to: str = ""  # the AR mailbox, shown in the body and used as Reply-To
    phone: str = ""  # AR phone line, e.g. "800 000 0000 opción 2"
    language: str = "es"  # es | pt | en
    bank: str = ""  # payment instructions on the statement: the bank's name ...
    clabe: str = ""  # ... and the 18-digit CLABE (checked by ``normalize_clabe``)
    logo: str = ""  # PNG or JPEG file: top left of every page of the statement
    address: str = ""  # one line under the legal name on the statement
    bcc: str = ""  # archive copy of every statement: envelope only, never a header
    bounce_address: str = ""  # envelope sender that collects bounces, e.g. "rebotes@example.mx"
    verp: bool = False  # envelope sender bounce_address+<token>; needs a relay that allows it
    collector_cc: bool = False  # each statement carries its collector in a visible Cc
    # Invoice copies: "cfdi/{referencia}" -> <that>.pdf and <that>.xml of each open invoice
    # and of each payment received, attached to its statement (relative to ``base_dir``).
    invoice_copies: str = ""
    invoice_copies_max_mb: float = 10.0  # the copies' total per message; the rest are named
    # Thresholds of a run (``send --min-balance`` / ``--skip-credit`` win): customers whose
    # balance is below min_balance in every currency, or <= 0 in every currency, are omitted.
    min_balance: Decimal | None = None
    skip_credit: bool = False
    base_dir: str = ""  # config.toml's folder: relative paths start there (not a key)
    # (language, key, text) from ``[companies.<SOCIEDAD>.<language>]``: the phone and
    # address a statement and its e-mail in that language print (not a key itself)
    localized: tuple[tuple[str, str, str], ...] = ()

    def for_language(self, language: str) -> CompanyProfile:
        """The profile as a statement in ``language`` shows it: that language's phone and
        address where the profile gives them, else the company's."""
        given = {key: text for lang, key, text in self.localized if lang == language}
        if not given and language == self.language:
            return self
        return replace(
            self,
            language=language,
            phone=given.get("phone", self.phone),
            address=given.get("address", self.address),
        )


# The item fields an ``invoice_copies`` pattern may name: ``{referencia}`` ...
COPY_FIELDS = ("referencia", "documento", "asignacion")
COPIES_MAX_MB = 100  # the highest invoice_copies_max_mb
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def copy_pattern_fields(pattern: str) -> list[str]:
    """The fields a pattern names; ValueError (Spanish) naming the first unknown one."""
    names = _PLACEHOLDER.findall(pattern)
    for name in names:
        if name not in COPY_FIELDS:
            raise ValueError(
                f"{{{name}}} no es un campo de la partida; use "
                + ", ".join(f"{{{f}}}" for f in COPY_FIELDS)
            )
    return names


def copy_path(base_dir: str, pattern: str, values: Mapping[str, str]) -> Path | None:
    """The path (without extension) a pattern gives for one item's ``values``, or None when
    an item field takes it out of the pattern's own folder (``../``: not followed).

    The folder is the pattern's part before its first field (``cfdi/`` of
    ``cfdi/{referencia}``), under ``base_dir``; it is compared as written, without
    following links.
    """
    first = pattern.find("{")
    fixed = pattern if first < 0 else pattern[:first]
    root = os.path.normpath(os.path.join(base_dir, os.path.dirname(fixed) or "."))
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), "").strip(), pattern)
    path = os.path.normpath(os.path.join(base_dir, filled))
    if os.path.commonpath([root, path]) != root or path == root:
        return None
    return Path(path)


def minimum_amount(raw: object) -> Decimal:
    """A minimum balance as given (``500``, ``"1,500.50"``, ``1500.5``): a Decimal of two
    places, at least 0; ValueError (Spanish) otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError("indique un importe, p. ej. 500 o 1500.50")
    text = str(raw).strip().replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("indique un importe, p. ej. 500 o 1500.50") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("el importe debe ser 0 o mayor, p. ej. 500 o 1500.50")
    return amount.quantize(Decimal("0.01"))


COLLECTOR_CODE_MAX = 20


def collector_code(raw: str) -> str:
    """A collector's code as stored and compared: ``" c1 "`` -> ``"C1"`` (SAP's BUSAB)."""
    return "".join(raw.split()).upper()


@dataclass(frozen=True)
class Collector:
    """A customer's collector: ``[collectors.<SOCIEDAD>.<code>]`` of config.toml."""

    code: str  # as the master gives it (KNB1-BUSAB), upper case
    name: str
    email: str  # checked like every address before a run that uses it
    phone: str = ""


def contact_details(company: CompanyProfile, collector: Collector | None) -> tuple[str, str, str]:
    """The contact line's phone, e-mail and name: the collector's name and phone where
    given, else the company's phone; the e-mail is the company's reply_to, else the
    collector's (the Reply-To of the statement's e-mail)."""
    if collector is None:
        return company.phone, company.reply_to, ""
    return collector.phone or company.phone, company.reply_to or collector.email, collector.name


_CLABE_WEIGHTS = (3, 7, 1) * 5 + (3, 7)  # one per digit before the check digit


def normalize_clabe(text: str) -> str:
    """A CLABE as 18 digits (spaces and dashes dropped); ValueError, in Spanish, when it
    cannot be one: wrong length, not digits, or a check digit that does not match."""
    clabe = "".join(text.replace("-", " ").split())
    if not clabe.isdigit() or not clabe.isascii():
        raise ValueError("la CLABE solo lleva dígitos")
    if len(clabe) != 18:
        raise ValueError(f"la CLABE lleva 18 dígitos y esta tiene {len(clabe)}")
    total = sum(
        int(digit) * weight % 10 for digit, weight in zip(clabe[:17], _CLABE_WEIGHTS, strict=True)
    )
    if (10 - total % 10) % 10 != int(clabe[17]):
        raise ValueError("el dígito verificador de la CLABE no coincide; revise los 18 dígitos")
    return clabe


def format_clabe(clabe: str) -> str:
    """Grouped as bank, branch, account and check digit: "999 180 00123456789 9"."""
    return f"{clabe[:3]} {clabe[3:6]} {clabe[6:17]} {clabe[17]}"

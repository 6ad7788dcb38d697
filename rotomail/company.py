"""The issuing company's profile: one ``[companies.<SOCIEDAD>]`` table of config.toml."""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("es", "pt", "en")


@dataclass(frozen=True)
class CompanyProfile:
    code: str  # sociedad, e.g. "SM02"
    name: str  # legal name: letterhead, subject, signature
    rfc: str = ""
    sender: str = ""  # From address
    reply_to: str = ""  # the AR mailbox, shown in the body and used as Reply-To
    phone: str = ""  # AR phone line, e.g. "800 000 0000 opción 2"
    language: str = "es"  # es | pt | en
    configured: bool = True  # False when the sociedad has no table (code used as name)

    @classmethod
    def fallback(cls, code: str) -> CompanyProfile:
        return cls(code=code, name=code, configured=False)

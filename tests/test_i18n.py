"""Amounts and dates as the statement prints them, in every language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import parse_pattern
from hypothesis import given, settings
from hypothesis import strategies as st

from rotomail.statement.labels import _LOCALES, LANGUAGES, format_amount, format_date


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        ("-1234.5", "es", "-1,234.50"),
        ("-1234.5", "pt", "-1.234,50"),
        ("1234567.125", "en", "1,234,567.12"),
        ("0.015", "es", "0.02"),
        ("0", "pt", "0,00"),
        ("1E+3", "es", "1,000.00"),
        ("-0.004", "es", "-0.00"),
    ],
)
def test_format_amount(value: str, lang: str, expected: str) -> None:
    assert format_amount(Decimal(value), lang) == expected


@settings(max_examples=1500, deadline=None)
@given(
    value=st.decimals(
        min_value=Decimal("-1e13"), max_value=Decimal("1e13"), places=4, allow_nan=False
    ),
    lang=st.sampled_from(LANGUAGES),
)
def test_format_amount_matches_babel(value: Decimal, lang: str) -> None:
    """The fast path prints exactly what Babel's "#,##0.00" pattern prints."""
    babel = parse_pattern("#,##0.00").apply(value, Locale.parse(_LOCALES[lang]))
    assert format_amount(value, lang) == babel


@pytest.mark.parametrize(
    ("lang", "expected"), [("es", "05/03/2024"), ("pt", "05/03/2024"), ("en", "Mar 5, 2024")]
)
def test_format_date(lang: str, expected: str) -> None:
    """A US reader takes 05/03/2024 for May 3: English writes the month's name."""
    assert format_date(date(2024, 3, 5), lang) == expected
    assert format_date(date(2026, 11, 5), "en") == "Nov 5, 2026"

"""rotomail.inputs.addresses: address lists as typed or pasted, validated with email-validator."""

from __future__ import annotations

import time

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from rotomail.errors import DataError
from rotomail.inputs.addresses import normalize_address, parse_addresses, split_addresses

SPLIT = [
    ("a@example.mx;b@example.mx", ["a@example.mx", "b@example.mx"]),
    ("a@example.mx, b@example.mx", ["a@example.mx", "b@example.mx"]),
    (
        " a@example.mx \t b@example.mx\n c@example.mx ",
        ["a@example.mx", "b@example.mx", "c@example.mx"],
    ),
    ("mailto:a@example.mx", ["a@example.mx"]),
    ("MAILTO:a@example.mx; MailTo:b@example.mx", ["a@example.mx", "b@example.mx"]),
    ("<a@example.mx>;<mailto:b@example.mx>", ["a@example.mx", "b@example.mx"]),
    ("mailto:a@example.mx?subject=Hola", ["a@example.mx"]),
    ("A@Example.mx;a@example.MX;b@example.mx;a@example.mx", ["A@Example.mx", "b@example.mx"]),
    (";;, ,;", []),
    ("", []),
    ("mailto: a@example.mx", ["a@example.mx"]),
    ("sin-arroba", ["sin-arroba"]),
    (
        'Juan Pérez <juan@example.mx>; "Ana, Cobranza" <ana@example.mx>, c@example.mx',
        ["juan@example.mx", "ana@example.mx", "c@example.mx"],
    ),
    ("mailto:<a@example.mx>", ["a@example.mx"]),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT)
def test_split_addresses(text: str, expected: list[str]) -> None:
    assert split_addresses(text) == expected


PARSE = [
    ("pagos@ferrelopez.example.mx", ["pagos@ferrelopez.example.mx"]),
    ("Pagos@FerreLopez.Example.MX", ["Pagos@ferrelopez.example.mx"]),
    ("mailto:a@example.mx ;  b@example.com", ["a@example.mx", "b@example.com"]),
    ("a@EXAMPLE.mx;a@example.MX", ["a@example.mx"]),
    ("José.Pérez@ferre.example.mx", ["José.Pérez@ferre.example.mx"]),
    ("ventas@compañía.example.mx", ["ventas@compañía.example.mx"]),
]


@pytest.mark.parametrize(("text", "expected"), PARSE)
def test_parse_addresses(text: str, expected: list[str]) -> None:
    assert parse_addresses(text) == expected


PARSE_ERRORS = [
    ("", "Falta el correo."),
    (" ; , ", "Falta el correo."),
    ("mailto:", "Falta el correo."),
    ("a@example.mx;sin-arroba;otro@", "Correo inválido: «sin-arroba»"),
    ("a@example", "Correo inválido: «a@example»"),
    ("a..b@example.mx", "Correo inválido: «a..b@example.mx»"),
    ("a@localhost", "Correo inválido: «a@localhost»"),
    ("a@@example.mx", "Correo inválido: «a@@example.mx»"),
    ("@example.mx", "Correo inválido: «@example.mx»"),
    ("a@-example.mx", "Correo inválido: «a@-example.mx»"),
    ("a(b)@example.mx", "Correo inválido: «a(b)@example.mx»"),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_addresses_errors(text: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_addresses(text)
    assert info.value.message == message


def _reference(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


ADDRESS_PARTS = st.text(
    alphabet=st.sampled_from("aZ09._-+ñé@!#'\"()[]:\\ \u00a0`{|}~=?^$%&*/,;<>"),
    min_size=0,
    max_size=70,
)


DOMAINS = st.one_of(
    st.sampled_from(["example.mx", "EXAMPLE.com", "a", "-x.mx", "ñu.mx", "", "x.test", "a.local"]),
    st.text(alphabet=st.sampled_from("aZ09-._"), min_size=1, max_size=80),
    st.lists(
        st.text(alphabet=st.sampled_from("az09-"), min_size=1, max_size=64), min_size=2, max_size=5
    ).map(".".join),
)


@settings(max_examples=1500, deadline=None)
@given(ADDRESS_PARTS, DOMAINS)
def test_cached_split_validation_matches_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    expected = _reference(address)
    if expected is None:
        with pytest.raises(DataError):
            normalize_address(address)
    else:
        assert normalize_address(address) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_parse_addresses(text: str) -> None:
    try:
        result = parse_addresses(text)
    except DataError:
        return
    assert result
    assert len({a.casefold() for a in result}) == len(result)


@pytest.mark.parametrize(
    "text", ["<" + "a" * 200_000, '"' * 100_000 + "<", "x " * 100_000 + "<", "a<" * 50_000]
)
def test_split_addresses_linear_on_pathological_input(text: str) -> None:
    started = time.perf_counter()
    split_addresses(text)
    assert time.perf_counter() - started < 1

"""One address validator: the e-mails' addresses (sender, Reply-To, recipients, operator) and
the catalogue's are judged alike, by email-validator's ``validate_email``.

The e-mails used a regular expression of their own until issue 18; CHANGED lists where the two
disagreed, with today's verdict.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rotomail.delivery.messages import parse_address
from rotomail.errors import DataError
from rotomail.inputs.addresses import normalize_address

# (address, accepted now); the old expression's verdict was the opposite in every row.
CHANGED = [
    # Special-use domains (RFC 6761): nobody can receive mail there.
    ("cobranza@example.test", False),
    ("cobranza@servidor.local", False),
    ("cobranza@host.localhost", False),
    ("cobranza@x.invalid", False),
    ("cobranza@x.onion", False),
    ("cobranza@1.in-addr.arpa", False),
    # The last label must end in a letter: no numeric top-level domain, no bare IP address.
    ("cobranza@example.123", False),
    ("cobranza@10.0.0.1", False),
    # "--" in the third and fourth places is reserved for IDNA, and xn-- must be punycode.
    ("cobranza@ab--cd.mx", False),
    ("cobranza@xn--zz.mx", False),
    # Invisible or unsafe characters (zero-width space, ideographic space, a digit of
    # another script next to the dot).
    ("cob\u200branza@example.mx", False),
    ("cobranza@exa\u200bmple.mx", False),
    ("cob\u3000ranza@example.mx", False),
    ("cobranza@\u0663.mx", False),
    # Characters beyond U+FFFF in the local part (SMTPUTF8), and the ideographic full stop
    # as a domain separator (IDNA maps it to ".").
    ("\U0001f600@example.mx", True),
    ("cobranza@example\u3002mx", True),
]

# Accepted and refused alike before and after.
SAME = [
    ("pagos@ferrelopez.example.mx", True),
    ("Pagos@FerreLopez.Example.MX", True),
    ("José.Pérez@ferre.example.mx", True),
    ("ventas@compañía.example.mx", True),
    ("a+b@example.com", True),
    ("x" * 65 + "@example.mx", True),
    ("a@example", False),
    ("a..b@example.mx", False),
    ("a.@example.mx", False),
    ("a@localhost", False),
    ("a@@example.mx", False),
    ("@example.mx", False),
    ("a@-example.mx", False),
    ("a@example-.mx", False),
    ("a(b)@example.mx", False),
    ('"a b"@example.mx', False),
    ("a@[192.0.2.1]", False),
    ("a@exa_mple.mx", False),
    ("a@" + "b" * 64 + ".mx", False),
    ("a@" + ".".join(["b" * 60] * 5) + ".mx", False),
    ("sin-arroba", False),
]


@pytest.mark.parametrize(("address", "accepted"), CHANGED + SAME)
def test_the_e_mails_take_what_the_catalogue_takes(address: str, accepted: bool) -> None:
    if accepted:
        parsed = parse_address(address, what="destinatario")
        assert parsed.addr_spec == address
        assert normalize_address(address)
    else:
        with pytest.raises(DataError) as info:
            parse_address(address, what="destinatario")
        assert info.value.message == f"Dirección de destinatario inválida: {address!r}"
        with pytest.raises(DataError) as info:
            normalize_address(address)
        assert info.value.message == f"Correo inválido: «{address}»"


def test_a_display_name_and_brackets_around_a_valid_address() -> None:
    parsed = parse_address("Cobranza Ejemplo <cobranza@example.mx>", what="remitente (sender)")
    assert (parsed.display_name, parsed.addr_spec) == ("Cobranza Ejemplo", "cobranza@example.mx")
    with pytest.raises(DataError) as info:
        parse_address("Cobranza <cobranza@example.test>", what="remitente (sender)")
    assert info.value.message == (
        "Dirección de remitente (sender) inválida: 'Cobranza <cobranza@example.test>'"
    )


ADDRESS_TEXT = st.text(
    alphabet=st.sampled_from("aZ09._-+ñé@!#'\"()[]:\\`{|}~=?^$%&*/\u00a0\u3002\u200b😀"),
    max_size=40,
)


@settings(max_examples=800, deadline=None)
@given(ADDRESS_TEXT, st.sampled_from(["example.mx", "ñu.mx", "x.test", "a", "1.2", "ab--c.mx"]))
def test_one_verdict_for_any_address(local: str, domain: str) -> None:
    address = f"{local}@{domain}".strip()
    try:
        normalize_address(address)
        catalogue = True
    except DataError:
        catalogue = False
    try:
        parse_address(address)
        message = True
    except DataError:
        message = False
    assert message == catalogue

"""The secret scrubber (rotomail.delivery.secrets): what an SMTP or IMAP server quotes back,
or what a library's error repeats, reaches a user or a log with every rendering of the
password or the OAuth2 token replaced by ``***`` — and nothing else is touched.
"""

from __future__ import annotations

import base64

import pytest

from rotomail.delivery.secrets import HIDDEN, hide, password_forms, secret_pattern, token_forms

USER = "portal@example.mx"
PASSWORD = "Clave de  prueba\t42"
TOKEN = "ya29.Token-de-Prueba_0123"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


PLAIN = b64(f"\0{USER}\0{PASSWORD}")
PLAIN_AUTHZID = b64(f"{USER}\0{USER}\0{PASSWORD}")
XOAUTH2 = b64(f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01")


def test_password_forms_are_the_password_and_what_auth_plain_and_login_send() -> None:
    forms = password_forms(USER, PASSWORD)
    for form in (PASSWORD, b64(PASSWORD), PLAIN, PLAIN_AUTHZID):
        assert form in forms
        assert form.rstrip("=") in forms
    assert len(forms) == 7


def test_token_forms_are_the_token_and_the_xoauth2_initial_response() -> None:
    forms = token_forms(USER, TOKEN)
    assert forms[0] == TOKEN
    assert XOAUTH2 in forms
    assert XOAUTH2.rstrip("=") in forms
    assert len(forms) == 3


PASSWORD_PATTERN = secret_pattern(password_forms(USER, PASSWORD))


@pytest.mark.parametrize(
    ("server_said", "shown"),
    [
        # as given, and as the server quotes the AUTH exchange back
        (f"535 5.7.8 bad credentials: {PASSWORD}", "535 5.7.8 bad credentials: ***"),
        (f"535 AUTH PLAIN {PLAIN} rejected", "535 AUTH PLAIN *** rejected"),
        (f"535 AUTH PLAIN {PLAIN_AUTHZID}", "535 AUTH PLAIN ***"),
        (f"334 {b64(PASSWORD)}", "334 ***"),
        (f"334 {b64(PASSWORD).rstrip('=')}", "334 ***"),
        # the blanks inside changed, collapsed, removed, escaped
        ("pass=Clave de prueba 42.", "pass=***."),
        ("pass=Clavedeprueba42.", "pass=***."),
        ("pass=Clave\nde\r\n prueba\x0042.", "pass=***."),
        ("pass='Clave de  prueba\\t42'", "pass='***'"),
        ("pass=Clave\\x20de\\u0020prueba\\n42", "pass=***"),
        # the words apart from the secret, or a prefix of it, stay
        ("Clave de acceso incorrecta", "Clave de acceso incorrecta"),
        ("prueba 42 Clave", "prueba 42 Clave"),
        ("", ""),
    ],
)
def test_a_password_in_any_rendering_is_hidden(server_said: str, shown: str) -> None:
    assert hide(PASSWORD_PATTERN, server_said) == shown


def test_the_longest_rendering_wins_so_no_piece_of_an_encoding_is_left() -> None:
    # PLAIN's base64 without padding is a prefix of the padded one: the padded form goes
    # whole, no "=" or "==" left behind that would tell how long the secret is.
    padded = PLAIN if PLAIN.endswith("=") else PLAIN_AUTHZID
    assert padded.endswith("=")
    assert hide(PASSWORD_PATTERN, f"<{padded}>") == "<***>"


def test_a_token_is_hidden_as_given_and_inside_xoauth2() -> None:
    pattern = secret_pattern(token_forms(USER, TOKEN))
    said = f"535 {XOAUTH2} / Bearer {TOKEN} / {XOAUTH2.rstrip('=')}"
    assert hide(pattern, said) == "535 *** / Bearer *** / ***"
    assert HIDDEN == "***"


@pytest.mark.parametrize("forms", [[], [""], ["  \t "], ["\r\n"]])
def test_nothing_to_hide_leaves_the_text_as_it_is(forms: list[str]) -> None:
    pattern = secret_pattern(forms)
    assert pattern is None
    assert hide(pattern, "250 OK Clave de prueba") == "250 OK Clave de prueba"


def test_blanks_around_a_secret_are_not_part_of_it() -> None:
    pattern = secret_pattern(["  s3cr3t \n"])
    assert hide(pattern, "[ s3cr3t ]") == "[ *** ]"
    assert hide(pattern, "s3cr3") == "s3cr3"


def test_of_two_forms_matching_at_one_place_the_longer_is_hidden_whole() -> None:
    # "ab" and "a b c" both match at "ab c" (blanks may be dropped): no " c" left behind
    assert hide(secret_pattern(["ab", "a b c"]), "[ab c]") == "[***]"


def test_the_unpadded_form_drops_only_the_padding() -> None:
    # "abW" is "YWJX" in base64: no padding, and an "X" at the end that must stay
    forms = password_forms(USER, "abW")
    assert forms[1:3] == ["YWJX", "YWJX"]
    assert hide(secret_pattern(forms), "código YWJ") == "código YWJ"

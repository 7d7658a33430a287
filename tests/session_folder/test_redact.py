"""Redaction: secret keys are found however they are percent-encoded, values never written."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from harness.session_folder.log import SessionLogWriter
from harness.session_folder.redact import Redactor, is_secret_key, without_userinfo

# Credentials of mixed characters, as tokens and keys come; a digit and both cases keep a
# value from being a word of the log's own vocabulary.
credentials = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~", min_size=16, max_size=40
).filter(lambda t: t.lower() != t != t.upper() and any(c.isdigit() for c in t))


def spellings(key: str) -> st.SearchStrategy[str]:
    """`key` with each character as itself, upper-cased, or percent-encoded in either case."""

    def one(char: str) -> st.SearchStrategy[str]:
        forms = {char, char.upper()}
        forms |= {f"%{ord(c):02X}" for c in forms} | {f"%{ord(c):02x}" for c in forms}
        return st.sampled_from(sorted(forms))

    return st.tuples(*map(one, key)).map("".join)


secret_keys = st.sampled_from(
    [
        "access_token",
        "accessToken",
        "x-api-key",
        "api_key",
        "appSecret",
        "client-secret",
        "token",
        "refreshToken",
        "refershToken",
    ]
).flatmap(spellings)


@given(key=secret_keys)
def test_a_percent_encoded_secret_key_is_a_secret_key(key: str) -> None:
    assert is_secret_key(key)


@given(key=secret_keys, token=credentials, other=credentials)
def test_a_token_under_any_spelling_of_its_key_is_never_written(
    key: str, token: str, other: str
) -> None:
    url = f"ws://127.0.0.1:8080/v1/streaming/abc?source=js&{key}={token}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "s"
        with SessionLogWriter(folder, endpoint=url, sample_rate=16000) as writer:
            writer.opened(url, headers=[("Referer", url), (key, other)])
            writer.sent_text(json.dumps({"type": "start_request", key: other}))
            writer.received_text(json.dumps({"echo": f"token was {token}, key {other}"}))
            writer.error(f"GET /v1/conversations?{key}={token} failed")
        written = b"".join(path.read_bytes() for path in folder.iterdir())
    assert token.encode() not in written
    assert other.encode() not in written


@given(token=credentials)
def test_a_token_learned_encoded_goes_decoded_too(token: str) -> None:
    redactor = Redactor()
    redactor.text(f"?access%5Ftoken={token.replace('-', '%2D')}")
    assert token not in redactor.text(f"said {token}")


def test_a_token_learned_decoded_goes_encoded_too() -> None:
    redactor = Redactor(["eyJ0/x+y=="])
    assert redactor.text("?next=eyJ0%2Fx%2By%3D%3D") == "?next=REDACTED"


def test_a_hostile_key_is_decoded_in_linear_time() -> None:
    # Undecoding a deeply nested escape round by round would take quadratic time.
    assert not is_secret_key("%25" * 200_000 + "token")


def test_a_url_shown_in_messages_loses_its_user_and_password() -> None:
    assert without_userinfo("wss://user:pw@api.example:443/v1") == "wss://api.example:443/v1"
    assert without_userinfo("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_a_token_in_a_url_nested_in_a_query_is_redacted() -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0"
    for text in (f"next=%2Fp%3Faccess_token%3D{secret}", f"next=%2Fp%3Ftoken%3a{secret}"):
        assert secret not in Redactor().text(text)
    assert Redactor().known("/oauth2/token:generate") == "/oauth2/token:generate"

"""JSON with a nesting limit: refused before any recursion, strings never counted."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.bounded_json import MAX_JSON_DEPTH, JsonTooDeepError, json_depth, loads


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_nesting_past_the_limit_is_refused_not_a_recursion_error(opener: str) -> None:
    with pytest.raises(JsonTooDeepError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        loads(opener * 100_000)


def test_nesting_at_the_limit_is_decoded() -> None:
    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(text) == json.loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"text": "[" * 5000 + '\\" {{{' + "{" * 5000})
    assert json_depth(text) == 1
    assert loads(text)["text"].startswith("[[[")


def test_a_refusal_is_a_value_error_like_any_bad_json() -> None:
    with pytest.raises(ValueError):
        loads(b"[" * 1000)


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_once() -> None:
    # Each escaped quote could start a new string scan; the pattern must not restart there.
    text = "[" * (MAX_JSON_DEPTH + 1) + '"' + '\\"' * 200_000
    assert json_depth(text) == MAX_JSON_DEPTH + 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab'"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)


def nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


@given(json_values)
def test_the_depth_scan_agrees_with_the_decoded_structure(value: object) -> None:
    assert json_depth(json.dumps(value)) == nesting(value)

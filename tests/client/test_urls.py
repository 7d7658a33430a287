"""Endpoint addresses as clients give them: REST or streaming, base or whole URL."""

from __future__ import annotations

import pytest

from harness.client.auth import http_base, over_websocket
from harness.client.record import streaming_url
from harness.session_folder.redact import without_query


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.symbl.ai", "wss://api.symbl.ai"),
        ("http://127.0.0.1:8080/", "ws://127.0.0.1:8080/"),
        (
            "ws://[::1]:9/v1/streaming/x?access_token=t",
            "ws://[::1]:9/v1/streaming/x?access_token=t",
        ),
        ("wss://h/v1", "wss://h/v1"),
    ],
)
def test_over_websocket_changes_the_scheme_alone(given: str, expected: str) -> None:
    assert over_websocket(given) == expected


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/v1/streaming/a%20b?access_token=t%2B1"),
        ("https://h/", "wss://h/v1/streaming/a%20b?access_token=t%2B1"),
        ("ws://h/v1/streaming/own?x=1", "ws://h/v1/streaming/own?x=1&access_token=t%2B1"),
    ],
)
def test_streaming_url_from_a_rest_or_streaming_endpoint(endpoint: str, expected: str) -> None:
    assert streaming_url(endpoint, "a b", "t+1") == expected
    assert http_base(expected) == http_base(endpoint)


def test_a_url_shown_without_its_query() -> None:
    assert without_query("wss://h/v1/streaming/x?access_token=secret") == "wss://h/v1/streaming/x"
    assert without_query("wss://h/v1/streaming/x") == "wss://h/v1/streaming/x"

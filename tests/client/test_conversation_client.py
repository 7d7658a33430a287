"""The Conversation API client retries through 429 and 5xx, whatever Retry-After says."""

from __future__ import annotations

import httpx
import pytest

from harness.client.conversation import RETRY_AFTER_CAP_S, RETRY_BACKOFF_S, ConversationClient


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("2", 2.0),
        ("-5", 0.0),
        ("1e308", RETRY_AFTER_CAP_S),
        ("inf", RETRY_AFTER_CAP_S),
        ("nan", RETRY_BACKOFF_S),
        ("soon", RETRY_BACKOFF_S),
        ("Wed, 21 Oct 2015 07:28:00 GMT", RETRY_BACKOFF_S),
    ],
)
def test_any_retry_after_becomes_a_sane_wait_and_the_call_goes_on(
    retry_after: str, wait: float
) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": retry_after}, json={"message": "slow"}),
            httpx.Response(200, json={"id": "c"}),
        ]
    )
    waits: list[float] = []
    transport = httpx.MockTransport(lambda _: next(answers))
    with ConversationClient("http://mock", "t", transport=transport, sleep=waits.append) as client:
        assert client.get("c") == {"id": "c"}
    assert waits == [wait]
    assert client.retried == [429]

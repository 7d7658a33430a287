"""Per-app limits: REST rate (429 with Retry-After) and concurrent streams."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from mock_symbl import MockConfig, running_mock
from mock_symbl.web.limits import PRUNE_AT, RateLimiter, StreamCounter

from helpers import token


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limiter_allows_a_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("a") == 20
    assert limiter.retry_after("b") is None
    clock.now += 20
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("a") == 20


def test_the_stream_counter_refuses_past_its_limit() -> None:
    streams = StreamCounter(1)
    assert streams.acquire("a")
    assert not streams.acquire("a")
    assert streams.acquire("b")
    streams.release("a")
    assert streams.acquire("a")
    assert StreamCounter(None).acquire("a")


def test_rest_answers_429_with_retry_after_past_the_rate() -> None:
    with running_mock(MockConfig(requests_per_minute=2)) as mock:
        headers = {"Authorization": f"Bearer {token(mock.base_url)}"}
        url = f"{mock.base_url}/v1/conversations/1/messages"
        assert [httpx.get(url, headers=headers).status_code for _ in range(2)] == [404, 404]
        limited = httpx.get(url, headers=headers)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "retry after" in limited.json()["message"]


def test_streams_past_the_per_app_cap_are_refused_at_the_handshake() -> None:
    with running_mock(MockConfig(max_streams=1)) as mock:
        url = f"{mock.ws_url}/v1/streaming/x?access_token={token(mock.base_url)}"

        async def scenario() -> None:
            async with websockets.connect(url):
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(url):
                        pass
                assert refused.value.response.status_code == 429
            await asyncio.sleep(0.2)
            async with websockets.connect(url):
                pass

        asyncio.run(scenario())


def test_asking_how_long_to_wait_takes_nothing() -> None:
    limiter = RateLimiter(1, Clock())
    assert limiter.waiting("a") is None
    assert limiter.retry_after("a") is None
    assert limiter.waiting("a") == 60
    assert limiter.retry_after("a") == 60


def test_keys_whose_buckets_refilled_are_forgotten_once_there_are_many() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock)
    for n in range(PRUNE_AT + 1):
        limiter.retry_after(f"key {n}")
    clock.now += 60
    limiter.retry_after("late")
    assert len(limiter._buckets) == 1

"""Abusive input gets a clear refusal: deep JSON, huge bodies, slow heads, long ids, guessing."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import httpx
import pytest
import websockets

from mock_symbl import MockConfig, RunningMock, running_mock
from mock_symbl.web.limits import FailureThrottle

from helpers import read_until_closed, token

DEEP = "[" * 5000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig()) as running:
        yield running


def test_deep_json_on_the_socket_gets_an_error_message_and_the_socket_stays_open(
    mock: RunningMock,
) -> None:
    url = f"{mock.streaming_url('deep')}?access_token={token(mock.base_url)}"

    async def scenario() -> dict[str, object]:
        async with websockets.connect(url) as socket:
            await socket.send(DEEP)
            reply = json.loads(await socket.recv())
            await socket.send(json.dumps({"type": "stop_request"}))
            return dict(reply["message"])

    error = asyncio.run(scenario())
    assert error["type"] == "error"
    assert "nested deeper than 64 levels" in str(error["details"])


@pytest.mark.parametrize("route", ["/oauth2/token:generate", "/v1/mock/faults"])
def test_a_deep_json_body_is_a_400_with_a_message(mock: RunningMock, route: str) -> None:
    headers = {"Authorization": f"Bearer {token(mock.base_url)}"}
    reply = httpx.post(f"{mock.base_url}{route}", content=DEEP, headers=headers)
    assert reply.status_code == 400
    assert "nested deeper than 64 levels" in reply.json()["message"]


def test_a_body_declared_over_the_limit_is_refused_413_before_it_is_read() -> None:
    with running_mock(MockConfig(max_body_bytes=1000)) as small:
        host, port = small.host, small.port
        with socket.create_connection((host, port)) as raw:
            # The head promises 10 MB; not one byte of it is sent, and the answer comes anyway.
            raw.sendall(
                b"POST /oauth2/token:generate HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
            )
            answer = read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"message":"The request body is over the limit of 1000 bytes."' in answer


def test_a_body_streamed_past_the_limit_is_refused_413_and_the_server_goes_on() -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"appId": "' + b"a" * 600
        yield b"a" * 600 + b'"}'

    with running_mock(MockConfig(max_body_bytes=1000)) as small:
        url = f"{small.base_url}/oauth2/token:generate"
        refused = httpx.post(url, content=chunks())
        assert refused.status_code == 413
        assert "over the limit of 1000 bytes" in refused.json()["message"]
        assert token(small.base_url)


def test_failed_token_requests_are_throttled_per_address_with_retry_after() -> None:
    # Two failures a minute: one drains every 30 s, far longer than these requests take.
    config = MockConfig(apps={"someone": "right", "other": "secret"}, token_failures_per_minute=2)
    with running_mock(config) as throttled:
        url = f"{throttled.base_url}/oauth2/token:generate"
        wrong = {"type": "application", "appId": "someone", "appSecret": "guess"}
        statuses = [httpx.post(url, json=wrong).status_code for _ in range(4)]
        assert statuses == [401, 401, 429, 429]
        limited = httpx.post(url, json=wrong)
        assert int(limited.headers["Retry-After"]) >= 1
        assert "Too many failed token requests" in limited.json()["message"]
        # The address is refused whatever it sends now, a right secret included.
        with pytest.raises(httpx.HTTPStatusError, match="429"):
            token(throttled.base_url, "other", "secret")


def test_failed_token_requests_are_throttled_per_app_id_from_any_address() -> None:
    throttle = FailureThrottle(2, Clock())
    throttle.failed(["address 10.0.0.1", "app victim"])
    throttle.failed(["address 10.0.0.2", "app victim"])
    assert throttle.retry_after(["address 10.0.0.3", "app victim"]) == 30
    assert throttle.retry_after(["address 10.0.0.3", "app other"]) is None


def test_a_right_secret_is_never_counted_as_a_failure() -> None:
    with running_mock(MockConfig(token_failures_per_minute=2)) as throttled:
        for _ in range(5):
            assert token(throttled.base_url)

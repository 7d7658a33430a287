"""Abusive input gets a clear refusal: deep JSON, huge bodies, slow heads, long ids, guessing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import token

DEEP = "[" * 5000


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

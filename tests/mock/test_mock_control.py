"""The control routes (`/v1/mock/…`) act for the app whose token they carry, and only for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import token

ROUTES = [
    ("GET", "/v1/mock/faults"),
    ("POST", "/v1/mock/faults"),
    ("DELETE", "/v1/mock/faults"),
    ("GET", "/v1/mock/sessions/any/conformance"),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig()) as running:
        yield running


def headers_of(mock: RunningMock, app: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(mock.base_url, app * 64, app * 128)}"}


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_control_route_wants_a_token(mock: RunningMock, method: str, route: str) -> None:
    url = f"{mock.base_url}{route}"
    refused = httpx.request(method, url, json={})
    assert refused.status_code == 401
    assert refused.json() == {"message": "Token validation failed for provided token."}
    allowed = httpx.request(method, url, json={}, headers={"x-api-key": token(mock.base_url)})
    assert allowed.status_code in (200, 404)


def test_rest_faults_set_by_one_app_fail_only_that_apps_requests(mock: RunningMock) -> None:
    mine, theirs = headers_of(mock, "m"), headers_of(mock, "t")
    control = f"{mock.base_url}/v1/mock/faults"
    set_ = httpx.post(control, json={"rest_500_share": 1.0}, headers=mine)
    assert set_.json() == {"default": {"rest_500_share": 1.0}, "connections": {}}
    try:
        assert httpx.get(control, headers=theirs).json() == {"default": {}, "connections": {}}
        url = f"{mock.base_url}/v1/conversations/nothing"
        assert httpx.get(url, headers=mine).status_code == 500
        assert httpx.get(url, headers=theirs).status_code == 404
    finally:
        httpx.delete(control, headers=mine)
    assert httpx.get(url, headers=mine).status_code == 404


def test_open_control_asks_no_token() -> None:
    with running_mock(MockConfig(open_control=True)) as open_mock:
        reply = httpx.post(f"{open_mock.base_url}/v1/mock/faults", json={"delay_ms": 5})
        assert reply.json() == {"default": {"delay_ms": 5.0}, "connections": {}}


async def first_message(url: str) -> dict[str, object]:
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "stop_request"}))
        return dict(json.loads(await socket.recv()))


def test_streaming_faults_set_by_one_app_reach_only_its_sessions(mock: RunningMock) -> None:
    mine, theirs = headers_of(mock, "m"), headers_of(mock, "t")
    control = f"{mock.base_url}/v1/mock/faults"
    httpx.post(control, json={"delay_ms": 1}, headers=mine)
    try:
        url = mock.streaming_url("x") + "?access_token="
        their_first = asyncio.run(first_message(url + theirs["Authorization"][7:]))
        my_first = asyncio.run(first_message(url + mine["Authorization"][7:]))
    finally:
        httpx.delete(control, headers=mine)
    assert my_first["type"] == "x_mock_fault"
    assert their_first["type"] != "x_mock_fault"


def test_a_conformance_report_is_only_for_the_app_that_streamed(mock: RunningMock) -> None:
    mine, theirs = headers_of(mock, "m"), headers_of(mock, "t")
    asyncio.run(
        first_message(mock.streaming_url("mine") + "?access_token=" + mine["Authorization"][7:])
    )
    report = f"{mock.base_url}/v1/mock/sessions/mine/conformance"
    assert httpx.get(report, headers=mine).status_code == 200
    assert httpx.get(report, headers=theirs).status_code == 404

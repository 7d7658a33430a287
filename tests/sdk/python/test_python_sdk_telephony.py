"""The official Python SDK's Telephony API (symbl 2.0.6, unmodified, only its host pointed at
the mock): `Telephony.start_pstn` to a number `--phone` maps to the `hot` fixture,
`Telephony.start_sip` to `sip:hot@…`, `Telephony.stop`, and a number nobody answers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sdk_clients import Events, of, run_client

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import FIXTURES, token

NUMBER = "14155550123"
CLIENT = Path(__file__).resolve().parent / "python_sdk_telephony.py"


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    config = MockConfig(transcripts=(FIXTURES / "hot",), phones={NUMBER: FIXTURES / "hot"})
    with running_mock(config) as running:
        yield running


@pytest.fixture(scope="module")
def events(mock: RunningMock) -> Events:
    command = [sys.executable, str(CLIENT), NUMBER, "sip:hot@mock.example"]
    return run_client(command, mock.base_url, cwd=CLIENT.parent)


def test_start_pstn_and_start_sip_connect_and_stop_ends_each_call(
    events: Events, mock: RunningMock
) -> None:
    started = {e["call"]: e for e in of(events, "started")}
    stopped = {e["call"]: e["result"] for e in of(events, "stopped")}
    assert set(started) == set(stopped) == {"pstn", "sip"}
    assert started["pstn"]["connectionId"] != started["sip"]["connectionId"]
    headers = {"x-api-key": token(mock.base_url)}
    for kind, call in started.items():
        assert call["resultWebSocketUrl"].endswith(f"/events/{call['connectionId']}")
        assert stopped[kind]["connection_id"] == call["connectionId"]
        assert stopped[kind]["conversation_id"] == call["conversationId"]
        url = f"{mock.base_url}/v1/conversations/{call['conversationId']}"
        conversation = httpx.get(url, headers=headers).json()
        assert conversation["endTime"] is not None
    named = httpx.get(f"{mock.base_url}/v1/conversations/{started['pstn']['conversationId']}",
                      headers=headers).json()  # fmt: skip
    assert named["name"] == "python-sdk telephony test"


def test_a_number_nobody_answers_is_refused_naming_the_field(events: Events) -> None:
    (refused,) = of(events, "refused")
    assert refused["status"] == 400
    assert json.loads(refused["body"])["message"].startswith("endpoint.phoneNumber: ")

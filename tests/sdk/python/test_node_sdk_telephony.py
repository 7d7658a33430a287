"""The official Node SDK's Telephony API (@symblai/symbl-js 1.4.10, unmodified, only its host
pointed at the mock): `startEndpoint` dials a SIP URI, `subscribeToConnection` follows the
call, `pushEventOnConnection` announces a speaker, `stopEndpoint` hangs up.

One run of tests/sdk/node/node_sdk_telephony.js serves the module. The SIP URI's user part
names the `standup` fixture, so the far end says the fixture's words, exactly. The client
announces its speaker after the first message and hangs up once a message is hers: the 24 s
recording leaves some 20 s for the announcement to reach the mock, so that it lands mid-call
on a saturated machine too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sdk_clients import NODE_DIR, Events, of, phrase_words, run_client, words

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import FIXTURES, token

FIXTURE = "standup"
CLIENT = NODE_DIR / "node_sdk_telephony.js"


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(transcripts=(FIXTURES / FIXTURE,), seed=17)) as running:
        yield running


@pytest.fixture(scope="module")
def events(node_sdk: str, mock: RunningMock) -> Events:
    command = [node_sdk, str(CLIENT), f"sip:{FIXTURE}@mock.example;transport=udp"]
    return run_client(command, mock.base_url, cwd=NODE_DIR)


def results(events: Events, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in of(events, "result") if e["data"]["type"] == kind]


def test_the_call_connects_and_its_results_reach_the_subscriber(events: Events) -> None:
    (started,) = of(events, "started")
    assert started["connectionId"] and started["conversationId"]
    assert started["eventUrl"].endswith(f"/v1/event/{started['connectionId']}")
    assert started["webSocketUrl"].endswith(f"/events/{started['connectionId']}")
    phrases = phrase_words(FIXTURE)
    # Live transcription grows word by word within a phrase; the subscriber may have joined
    # after the first words were said, so it is compared from where it joined.
    for live in results(events, "transcript_response"):
        heard = words(live["payload"]["content"])
        assert any(heard == phrase[: len(heard)] for phrase in phrases), heard
    messages = [m for r in results(events, "message_response") for m in r["messages"]]
    said = [words(m["payload"]["content"]) for m in messages]
    # The phrases said while it listened, in order, up to the hang-up.
    assert said and said[0] in phrases
    first = phrases.index(said[0])
    assert said == phrases[first : first + len(said)]
    insights = [i for r in results(events, "insight_response") for i in r["insights"]]
    assert all(words(i["text"]) in phrases for i in insights)


def test_a_pushed_speaker_event_names_who_says_what_follows(events: Events) -> None:
    order = [e["event"] for e in events]
    assert of(events, "push_error") == []
    assert of(events, "jane_spoke")[0]["ok"] is True
    pushed = order.index("pushed")
    after = [
        m
        for e in of(events, "result")
        if e["seq"] > of(events, "pushed")[0]["seq"] and e["data"]["type"] == "message_response"
        for m in e["data"]["messages"]
    ]
    assert after and all(m["from"]["name"] == "Jane" for m in after)
    assert all(m["from"]["userId"] == "jane.doe@example.com" for m in after)
    before = [
        m
        for e in events[:pushed]
        if e["event"] == "result" and e["data"]["type"] == "message_response"
        for m in e["data"]["messages"]
    ]
    assert before and all(m["from"]["name"] != "Jane" for m in before)


def test_stop_endpoint_resolves_and_the_conversation_api_answers_for_the_call(
    events: Events, mock: RunningMock
) -> None:
    (started,) = of(events, "started")
    (stopped,) = of(events, "stopped")
    assert stopped == {**stopped, **{k: started[k] for k in ("connectionId", "conversationId")}}
    headers = {"x-api-key": token(mock.base_url)}
    base = f"{mock.base_url}/v1/conversations/{started['conversationId']}"
    conversation = httpx.get(base, headers=headers).json()
    assert conversation["name"] == "node-sdk telephony test"
    assert conversation["endTime"] is not None
    stored = httpx.get(f"{base}/messages", headers=headers).json()["messages"]
    # What was said up to the hang-up, which came once Jane had said something.
    said = [words(m["text"]) for m in stored]
    assert len(said) >= 2 and said == phrase_words(FIXTURE)[: len(said)]
    assert stored[-1]["from"]["name"] == "Jane"
    members = httpx.get(f"{base}/members", headers=headers).json()["members"]
    assert "jane.doe@example.com" in {m["email"] for m in members}

"""The official Node SDK (@symblai/symbl-js 1.4.10, unmodified, only its host pointed at the
mock): `startRealtimeRequest` with every handler, `await connection.stop()`, a second client
following the live conversation with `subscribeToStream`, and the newer `createStream`.

One run of tests/sdk/node/node_sdk_client.js serves the module. Its connection id is
`standup--<uuid>`, which the mock answers with the standup fixture's transcript, so the words
are exact. The SDK's only REST call is the token request (`init` with appId and appSecret);
its other REST calls belong to the Telephony API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sdk_clients import NODE_CLIENT, NODE_DIR, Events, of, phrase_words, run_client, words

from mock_symbl import JournalEntry, MockConfig, RunningMock, running_mock

from helpers import FIXTURES

FIXTURE = "standup"
SPEAKER = {"userId": "jane.doe@example.com", "name": "Jane"}


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(transcripts=(FIXTURES / FIXTURE,), seed=13)) as running:
        yield running


@pytest.fixture(scope="module")
def run(node_sdk: str, mock: RunningMock) -> tuple[Events, JournalEntry, JournalEntry]:
    """The client's output and the mock's journal entries for its two speaking connections
    (startRealtimeRequest, then createStream)."""
    connection_id = f"{FIXTURE}--{uuid.uuid4()}"
    wav = FIXTURES / FIXTURE / "audio.wav"
    command = [node_sdk, str(NODE_CLIENT), str(wav), connection_id]
    events = run_client(command, mock.base_url, cwd=NODE_DIR)
    journal = mock.journal(settle_s=10)
    (entry,) = [e for e in journal if e.connection_id == connection_id]
    (second,) = [e for e in journal if e.connection_id == f"{connection_id}-2"]
    return events, entry, second


@pytest.fixture(scope="module")
def events(run: tuple[Events, JournalEntry, JournalEntry]) -> Events:
    return run[0]


def handed(events: Events, name: str, client: str = "speaker") -> list[Any]:
    """What one handler was handed, in order."""
    return [e["data"] for e in of(events, name, client=client)]


def test_the_node_sdk_streams_with_every_handler_and_its_stop_resolves(
    run: tuple[Events, JournalEntry, JournalEntry],
) -> None:
    events, entry, _ = run
    phrases = phrase_words(FIXTURE)
    # `init` got a token (appId/appSecret), and the second client read the same token's
    # expiry from its JWT `exp`.
    speaker_init, subscriber_init = of(events, "init")
    assert speaker_init["expiresIn"] > 0 and subscriber_init["expiresIn"] > 0

    (started,) = of(events, "started", client="speaker")
    assert started["connectionId"] == entry.connection_id
    assert started["conversationId"] == entry.conversation_id
    # `await connection.stop()` resolved, with the conversation it completed.
    assert of(events, "stop_unresolved") == []
    (stopped,) = of(events, "stopped", client="speaker")
    data = stopped["conversationData"]
    assert data["conversationId"] == data["data"]["conversationId"] == started["conversationId"]
    assert data["summaryUrl"].startswith("http")
    (done,) = of(events, "speaker_done")
    assert done["closed"] is True

    # onSpeechDetected: partials growing word by word, then each phrase as its final.
    speech = handed(events, "speech")
    assert [words(s["punctuated"]["transcript"]) for s in speech if s["isFinal"]] == phrases
    phrase = 0
    for result in speech:
        heard = [w["word"] for w in result["payload"]["raw"]["alternatives"][0]["words"]]
        assert heard == phrases[phrase][: len(heard)]
        phrase += bool(result["isFinal"])

    # onMessageResponse: the messages in order, with sentiment; the other handlers refer only
    # to messages already handed over.
    seen: set[str] = set()
    insights: list[dict[str, Any]] = []
    trackers: list[dict[str, Any]] = []
    for event in [e for e in events if e.get("client") == "speaker"]:
        if event["event"] == "messages":
            seen.update(m["id"] for m in event["data"])
        elif event["event"] == "insights":
            assert {i["messageReference"]["id"] for i in event["data"]} <= seen
            insights += event["data"]
        elif event["event"] == "topics":
            for topic in event["data"]:
                assert {r["id"] for r in topic["messageReferences"]} <= seen
        elif event["event"] == "trackers":
            assert event["data"]["type"] == "tracker_response"  # this handler gets the frame
            for tracker in event["data"]["trackers"]:
                for match in tracker["matches"]:
                    assert {r["id"] for r in match["messageRefs"]} <= seen
                    trackers.append(match)
    messages = [m for batch in handed(events, "messages") for m in batch]
    assert [words(m["payload"]["content"]) for m in messages] == phrases
    for message in messages:
        assert message["from"]["userId"] == SPEAKER["userId"]
        assert message["sentiment"]["suggested"] in {"positive", "neutral", "negative"}
    assert {(i["type"], i["text"]) for i in insights} >= {
        ("question", "Can you send me the quarterly report by Friday?"),
        ("question", "What is the status of the mobile release?"),
        ("follow_up", "Let us follow up with the customer on Monday."),
    }
    assert handed(events, "topics"), "no topics"
    assert {"report", "dashboard"} <= {m["value"] for m in trackers}

    # Every frame in order (onDataReceived): the lifecycle around the conversation's content.
    # The SDK deletes `type` from the conversation_completed message it resolves stop() with,
    # before this handler sees it: that frame is the one with the conversation's id.
    frames = of(events, "data")
    lifecycle = [f.get("message") for f in frames if f["type"] == "message"]
    lifecycle = [m for m in lifecycle if m != "recognition_result"]
    assert lifecycle[:3] == ["conversation_created", "started_listening", "recognition_started"]
    (completed,) = [
        i for i, f in enumerate(frames) if f.get("conversationId") == started["conversationId"]
    ]
    assert max(i for i, f in enumerate(frames) if f["type"] != "message") < completed

    # What the SDK sent: its flat `sampleRateHertz` moved into `speechRecognition`, JSON stop.
    request = entry.start_request
    assert request is not None
    assert request["config"]["speechRecognition"]["sampleRateHertz"] == 16000
    assert request["config"]["meetingTitle"] == "node-sdk test"
    assert request["speaker"] == SPEAKER
    assert request["trackers"] == [{"name": "Reports", "vocabulary": ["report", "dashboard"]}]
    assert "stop_request_not_json" not in entry.findings


def test_a_second_client_subscribed_to_the_stream_gets_its_captions_and_messages(
    events: Events,
) -> None:
    phrases = phrase_words(FIXTURE)
    (started,) = of(events, "started", client="speaker")
    frames = handed(events, "subscriber", client="subscriber")
    assert of(events, "subscriber_done")[0]["completed"] is True

    def inner(frame: dict[str, Any]) -> str | None:
        return frame["message"]["type"] if frame["type"] == "message" else None

    captions = [f["message"] for f in frames if inner(f) == "recognition_result"]
    finals = [words(c["punctuated"]["transcript"]) for c in captions if c["isFinal"]]
    assert finals == phrases
    received = [m for f in frames if f["type"] == "message_response" for m in f["messages"]]
    assert [words(m["payload"]["content"]) for m in received] == phrases
    # The very messages the speaker got (same ids), and the same insights.
    spoken = [m for batch in handed(events, "messages") for m in batch]
    assert [m["id"] for m in received] == [m["id"] for m in spoken]
    subscriber_insights = [i["id"] for f in frames if f["type"] == "insight_response"
                           for i in f["insights"]]  # fmt: skip
    assert subscriber_insights == [i["id"] for batch in handed(events, "insights") for i in batch]

    # It subscribed after the conversation started, so it sees its end, in order, with the id.
    ends = [
        f["message"]
        for f in frames
        if inner(f) in {"conversation_completed", "recognition_stopped"}
    ]
    assert [e["type"] for e in ends] == ["conversation_completed", "recognition_stopped"]
    assert ends[0]["conversationId"] == started["conversationId"]
    last_content = max(i for i, f in enumerate(frames) if f["type"] != "message")
    assert last_content < frames.index({"type": "message", "message": ends[0]})


def test_create_stream_starts_streams_and_stops(
    run: tuple[Events, JournalEntry, JournalEntry],
) -> None:
    events, first, entry = run
    phrases = phrase_words(FIXTURE)
    (started,) = of(events, "started", client="stream")
    assert started["connectionId"] == entry.connection_id
    assert started["conversationId"] == entry.conversation_id != first.conversation_id
    # createStream's stop() resolves with an empty object on the first of the stop messages.
    (stopped,) = of(events, "stopped", client="stream")
    assert stopped["conversationData"] == {}
    (done,) = of(events, "stream_done")
    assert done["completed"] is True
    speech = handed(events, "speech", client="stream")
    assert [words(s["punctuated"]["transcript"]) for s in speech if s["isFinal"]] == phrases
    messages = [m for batch in handed(events, "messages", client="stream") for m in batch]
    assert [words(m["payload"]["content"]) for m in messages] == phrases
    (completed,) = handed(events, "conversation_completed", client="stream")
    assert completed["message"]["conversationId"] == entry.conversation_id
    assert entry.start_request is not None
    assert entry.start_request["config"]["meetingTitle"] == "node-sdk createStream test"

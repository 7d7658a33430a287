"""Parsing every server message of docs/protocol.md into typed events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.protocol import (
    ConversationCompleted,
    ConversationCreated,
    InsightResponse,
    MessageResponse,
    Participant,
    Pong,
    ProtocolError,
    RecognitionResult,
    RecognitionStarted,
    RecognitionStopped,
    ServerError,
    StartedListening,
    TopicResponse,
    TrackerResponse,
    UnknownEvent,
    UnknownMessage,
    Word,
    parse_event,
)

CONVERSATION = "5815170693595136"
RECOGNITION_RESULT: dict[str, Any] = {
    "type": "message",
    "message": {
        "type": "recognition_result",
        "isFinal": False,
        "payload": {
            "raw": {
                "alternatives": [
                    {
                        "words": [
                            {
                                "word": "Hello",
                                "startTime": {"seconds": "3", "nanos": "800000000"},
                                "endTime": {"seconds": "4", "nanos": "200000000"},
                            }
                        ],
                        "transcript": "Hello world",
                        "confidence": 0.91,
                    }
                ]
            }
        },
        "punctuated": {"transcript": "Hello world."},
        "user": {"userId": "jane.doe@example.com", "name": "Jane", "id": "u-1"},
    },
    "timeOffset": 3800,
}
MESSAGE_RESPONSE: dict[str, Any] = {
    "type": "message_response",
    "sequenceNumber": 0,
    "messages": [
        {
            "id": "m-1",
            "from": {"id": "u-1", "name": "Jane", "userId": "jane.doe@example.com"},
            "payload": {"content": "Hello world.", "contentType": "text/plain"},
            "channel": {"id": "realtime-api"},
            "metadata": {"words": "[]", "originalContent": "Hello world."},
            "dismissed": False,
            "duration": {
                "startTime": "2021-02-04T20:34:59.029Z",
                "endTime": "2021-02-04T20:35:00.029Z",
            },
        }
    ],
}


def parse(message: object) -> Any:
    return parse_event(json.dumps(message))


def wrapped(inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": inner}


def test_lifecycle_messages_in_order() -> None:
    data = {"conversationId": CONVERSATION}
    created = parse(wrapped({"type": "conversation_created", "data": data}))
    assert created == ConversationCreated(conversation_id=CONVERSATION)
    assert isinstance(parse(wrapped({"type": "started_listening"})), StartedListening)
    started = parse(wrapped({"type": "recognition_started", "data": data}))
    assert started == RecognitionStarted(conversation_id=CONVERSATION)
    assert isinstance(parse(wrapped({"type": "recognition_stopped"})), RecognitionStopped)


@pytest.mark.parametrize(
    "inner",
    [
        {"type": "conversation_completed", "conversationId": CONVERSATION, "summaryUrl": "s"},
        {"type": "conversation_completed", "data": {"conversationId": CONVERSATION}},
    ],
)
def test_conversation_completed_carries_the_id_either_way(inner: dict[str, Any]) -> None:
    event = parse(wrapped(inner))
    assert isinstance(event, ConversationCompleted)
    assert event.conversation_id == CONVERSATION


def test_recognition_result_words_transcripts_and_user() -> None:
    event = parse(RECOGNITION_RESULT)
    assert isinstance(event, RecognitionResult)
    assert not event.is_final
    assert event.transcript == "Hello world"
    assert event.punctuated == "Hello world."
    assert event.words == (Word("Hello", 3.8, 4.2),)
    assert event.user == Participant(id="u-1", name="Jane", user_id="jane.doe@example.com")
    assert event.time_offset_ms == 3800


def test_message_response_messages() -> None:
    event = parse(MESSAGE_RESPONSE)
    assert isinstance(event, MessageResponse)
    (message,) = event.messages
    assert (message.id, message.text) == ("m-1", "Hello world.")
    assert message.sender == Participant(id="u-1", name="Jane", user_id="jane.doe@example.com")
    assert message.start_time == "2021-02-04T20:34:59.029Z"


def test_insight_text_from_either_field() -> None:
    event = parse(
        {
            "type": "insight_response",
            "insights": [
                {
                    "id": "i-1",
                    "type": "question",
                    "text": "Can you send it?",
                    "confidence": 0.97,
                    "messageReference": {"id": "m-1"},
                },
                {"id": "i-2", "type": "action_item", "payload": {"content": "Send the report."}},
            ],
        }
    )
    assert isinstance(event, InsightResponse)
    assert [(i.type, i.text) for i in event.insights] == [
        ("question", "Can you send it?"),
        ("action_item", "Send the report."),
    ]
    assert event.insights[0].message_id == "m-1"


def test_topics_and_trackers() -> None:
    topics = parse(
        {
            "type": "topic_response",
            "topics": [
                {
                    "id": "t",
                    "phrases": "quarterly report",
                    "score": 0.82,
                    "rootWords": [{"text": "report"}],
                    "messageReferences": [{"id": "m-1"}],
                }
            ],
        }
    )
    assert isinstance(topics, TopicResponse)
    assert topics.topics[0].phrases == "quarterly report"
    assert topics.topics[0].message_ids == ("m-1",)
    trackers = parse(
        {
            "type": "tracker_response",
            "isFinal": True,
            "sequenceNumber": 0,
            "trackers": [
                {
                    "name": "Budget",
                    "matches": [
                        {
                            "type": "vocabulary",
                            "value": "budget",
                            "messageRefs": [{"id": "m-1", "text": "the budget", "offset": 4}],
                            "insightRefs": [],
                        }
                    ],
                }
            ],
        }
    )
    assert isinstance(trackers, TrackerResponse)
    assert trackers.trackers[0].matches[0].message_ids == ("m-1",)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "error", "details": "d", "message": "Unsupported type"},
        wrapped({"type": "error", "details": "d", "message": "Unsupported type"}),
    ],
)
def test_errors_top_level_or_wrapped(message: dict[str, Any]) -> None:
    assert parse(message) == ServerError(message="Unsupported type", details="d")


def test_unknown_types_and_extra_fields_are_kept() -> None:
    unknown = {"type": "shiny_new_thing", "x": [1, 2]}
    event = parse(unknown)
    assert isinstance(event, UnknownEvent)
    assert event.raw == unknown
    inner = parse(wrapped({"type": "shiny", "data": {"conversationId": CONVERSATION}}))
    assert isinstance(inner, UnknownMessage)
    assert inner.conversation_id == CONVERSATION
    extra = {**MESSAGE_RESPONSE, "futureField": {"a": 1}}
    assert parse(extra).raw["futureField"] == {"a": 1}


def test_heartbeat_answer_is_not_json() -> None:
    assert isinstance(parse_event("__PONG__"), Pong)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got array"),
        ('"text"', "expected a JSON object, got string"),
        (b"\xff\xfe", "not UTF-8"),
        ('{"no": "type"}', "type: missing"),
        ('{"type": 5}', "type: expected string, got number"),
        ('{"type": "message", "message": "x"}', "message: expected object, got string"),
        ('{"type": "message_response"}', "messages: missing"),
        ('{"type": "message_response", "messages": {}}', "messages: expected array, got object"),
        (
            '{"type": "message_response", "messages": [{"payload": {"content": 5}}]}',
            "messages[0].payload.content: expected string, got number",
        ),
        (
            '{"type": "insight_response", "insights": [{"confidence": "high"}]}',
            "insights[0].confidence: expected number, got string",
        ),
        (
            '{"type": "message", "message": {"type": "recognition_result", "isFinal": "no"}}',
            "message.isFinal: expected boolean, got string",
        ),
    ],
)
def test_malformed_frames_become_protocol_errors(frame: str | bytes, reason: str) -> None:
    event = parse_event(frame)
    assert isinstance(event, ProtocolError)
    assert reason in event.reason


def test_binary_frames_holding_json_text_are_parsed() -> None:
    assert isinstance(parse_event(json.dumps(MESSAGE_RESPONSE).encode()), MessageResponse)

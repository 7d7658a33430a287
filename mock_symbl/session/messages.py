"""The server's messages as they go on the wire (docs/protocol.md), built from plain values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mock_symbl.engines.base import Hypothesis
from mock_symbl.session import insights
from mock_symbl.store import StoredEntity, StoredInsight, StoredMessage, StoredTopic

Message = dict[str, Any]


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as the API writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(message: str, details: str) -> Message:
    """An `error`, inside the `message` wrapper."""
    return {"type": "message", "message": {"type": "error", "message": message, "details": details}}


def lifecycle(kind: str, conversation_id: str | None = None) -> Message:
    """A lifecycle message; with `data.conversationId` when an id is given."""
    inner: Message = {"type": kind}
    if conversation_id is not None:
        inner["data"] = {"conversationId": conversation_id}
    return {"type": "message", "message": inner}


def conversation_completed(conversation_id: str, summary_url: str) -> Message:
    """`conversation_completed`, carrying the id both ways clients read it."""
    return {
        "type": "message",
        "message": {
            "type": "conversation_completed",
            "conversationId": conversation_id,
            "summaryUrl": summary_url,
            "data": {"conversationId": conversation_id},
        },
    }


def _duration(seconds: float) -> dict[str, str]:
    """A protobuf Duration with string fields, as the streaming API sends word times."""
    whole = int(seconds)
    return {"seconds": str(whole), "nanos": str(round((seconds - whole) * 1e9))}


def recognition_result(hypothesis: Hypothesis, user: Message) -> Message:
    """A partial (or the phrase's last) hypothesis."""
    words = [
        {"word": w.word, "startTime": _duration(w.start), "endTime": _duration(w.end)}
        for w in hypothesis.words
    ]
    confidence = sum(w.confidence for w in hypothesis.words) / len(hypothesis.words)
    alternative = {
        "words": words,
        "transcript": hypothesis.text,
        "confidence": round(confidence, 3),
    }
    return {
        "type": "message",
        "message": {
            "type": "recognition_result",
            "isFinal": hypothesis.is_final,
            "payload": {"raw": {"alternatives": [alternative]}},
            "punctuated": {"transcript": insights.sentence([w.word for w in hypothesis.words])},
            "user": user,
        },
        "timeOffset": round(hypothesis.words[0].start * 1000),
    }


def message_response(
    message: StoredMessage, user: Message, timezone_offset: int, sentiment: bool, sequence: int
) -> Message:
    """One finalised message."""
    words = [
        {"word": w.word, "startTime": w.start_time, "endTime": w.end_time} for w in message.words
    ]
    body: Message = {
        "id": message.id,
        "from": user,
        "payload": {"content": message.text, "contentType": "text/plain"},
        "channel": {"id": "realtime-api"},
        "metadata": {
            "disablePunctuation": True,
            "timezoneOffset": timezone_offset,
            "originalContent": message.text,
            "words": json.dumps(words, separators=(",", ":")),
            "originalMessageId": message.id,
        },
        "dismissed": False,
        "duration": {
            "startTime": message.start_time,
            "endTime": message.end_time,
            "timeOffset": message.time_offset,
            "duration": message.duration,
        },
    }
    if sentiment:
        body["sentiment"] = insights.sentiment_json(message.sentiment)
    if message.entities:
        body["entities"] = [entity.to_json() for entity in message.entities]
    return {"type": "message_response", "sequenceNumber": sequence, "messages": [body]}


def insight_response(
    found: Sequence[StoredInsight],
    user: Message,
    sequence: int,
    entities: Sequence[StoredEntity] = (),
) -> Message:
    """Insights, with their text both where the seed reads it and where the docs do, and
    the `entities` of the message they come from (their text is the message's)."""
    return {
        "type": "insight_response",
        "sequenceNumber": sequence,
        "insights": [
            {
                "id": insight.id,
                "type": insight.type,
                "text": insight.text,
                "payload": {"content": insight.text, "contentType": "text/plain"},
                "confidence": insight.score,
                "hints": [],
                "tags": [],
                "dismissed": False,
                "from": user,
                "assignee": user,
                "messageReference": {"id": insight.message_ids[0]},
                **({"entities": [e.to_json() for e in entities]} if entities else {}),
            }
            for insight in found
        ],
    }


def topic_response(topics: Sequence[StoredTopic]) -> Message:
    """Streaming topics: `phrases` and `messageReferences`."""
    return {
        "type": "topic_response",
        "topics": [
            {
                "id": t.id,
                "phrases": t.text,
                "type": "topic",
                "score": t.score,
                "rootWords": [{"text": w} for w in t.text.split()],
                "messageReferences": [{"id": i} for i in t.message_ids],
            }
            for t in topics
        ],
    }


def tracker_response(
    hits: Sequence[insights.TrackerHit],
    message_id: str,
    text: str,
    sequence: int,
    *,
    is_final: bool = True,
) -> Message:
    """Tracker matches in one message (or, not final, in the phrase being spoken), grouped
    by tracker."""
    by_tracker: dict[str, list[Message]] = {}
    for hit in hits:
        reference = {"id": message_id, "text": text, "offset": hit.offset}
        by_tracker.setdefault(hit.tracker, []).append(
            {
                "type": "vocabulary",
                "value": hit.value,
                "messageRefs": [reference],
                "insightRefs": [],
            }
        )
    return {
        "type": "tracker_response",
        "isFinal": is_final,
        "sequenceNumber": sequence,
        "trackers": [{"name": name, "matches": m} for name, m in by_tracker.items()],
    }


def entity_list(said: Sequence[StoredMessage]) -> list[Message]:
    """A conversation's entities as `GET …/entities` lists them: one per type and value, in
    the order first said, with every message that holds it (`messageRefs`)."""
    found: dict[tuple[str, str], Message] = {}
    for message in said:
        for entity in message.entities:
            key = (entity.type, entity.value.lower())
            if key not in found:
                found[key] = {
                    "type": entity.type,
                    "value": entity.value,
                    "text": entity.text,
                    "messageRefs": [],
                }
            found[key]["messageRefs"].append(
                {"id": message.id, "text": message.text, "offset": entity.offset}
            )
    return list(found.values())


def entity_response(message: StoredMessage, entity_ids: Sequence[str], sequence: int) -> Message:
    """The entities detected in one message (`detectEntities`), each with its id (one per
    type and value in the conversation), its `category` (`Managed`: found by the service,
    not defined by the app) and its match in the message."""
    return {
        "type": "entity_response",
        "sequenceNumber": sequence,
        "entities": [
            {
                "id": entity_id,
                "type": entity.type,
                "subType": entity.type,
                "category": "Managed",
                "matches": [
                    {
                        "value": entity.value,
                        "messageRefs": [
                            {
                                "id": message.id,
                                "startTime": message.start_time,
                                "endTime": message.end_time,
                                "text": message.text,
                                "offset": entity.offset,
                            }
                        ],
                    }
                ],
            }
            for entity, entity_id in zip(message.entities, entity_ids, strict=True)
        ],
    }

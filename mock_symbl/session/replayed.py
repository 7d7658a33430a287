"""Stored records from replayed (recorded) server messages, so REST answers for them too.

Recorded messages come from any server; a field that is missing or malformed makes the
record be skipped, never the session fail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mock_symbl.session import insights
from mock_symbl.store import Member, StoredInsight, StoredMessage, StoredTopic, StoredWord


def _member(value: Any) -> Member:
    value = value if isinstance(value, dict) else {}
    return Member(
        id=str(value.get("id") or "unknown"),
        name=value.get("name") if isinstance(value.get("name"), str) else None,
        email=value.get("userId") if isinstance(value.get("userId"), str) else None,
    )


def _seconds_between(start: str, later: str) -> float:
    earlier = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return (datetime.fromisoformat(later.replace("Z", "+00:00")) - earlier).total_seconds()


def replayed_message(body: Any, conversation_id: str, started: datetime) -> StoredMessage | None:
    """A message_response message as a stored message (offsets from `started`), or None."""
    try:
        text = str(body["payload"]["content"])
        duration = body.get("duration") or {}
        start, end = str(duration["startTime"]), str(duration["endTime"])
        began = started.isoformat()
        offset = float(duration.get("timeOffset", _seconds_between(began, start)))
        words = [
            StoredWord(
                word=str(w["word"]),
                start_time=str(w["startTime"]),
                end_time=str(w["endTime"]),
                time_offset=round(_seconds_between(began, str(w["startTime"])), 2),
                duration=round(_seconds_between(str(w["startTime"]), str(w["endTime"])), 2),
                score=1.0,
            )
            for w in json.loads((body.get("metadata") or {}).get("words") or "[]")
        ]
        recorded = body.get("sentiment", {}).get("polarity", {}).get("score")
        return StoredMessage(
            id=str(body["id"]),
            conversation_id=conversation_id,
            text=text,
            sender=_member(body.get("from")),
            start_time=start,
            end_time=end,
            time_offset=round(offset, 2),
            duration=round(float(duration.get("duration", _seconds_between(start, end))), 2),
            sentiment=float(recorded) if recorded is not None else insights.polarity(text),
            words=tuple(words),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def replayed_insight(body: Any, conversation_id: str) -> StoredInsight | None:
    """An insight_response insight as a stored insight, or None if it is malformed."""
    try:
        text = body.get("text") or body["payload"]["content"]
        assignee = body.get("assignee")
        return StoredInsight(
            id=str(body["id"]),
            conversation_id=conversation_id,
            type=str(body["type"]),
            text=str(text),
            score=float(body.get("confidence", 1.0)),
            message_ids=(str(body["messageReference"]["id"]),),
            sender=_member(body.get("from")),
            assignee=_member(assignee) if assignee else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def replayed_topic(body: Any, conversation_id: str) -> StoredTopic | None:
    """A topic_response topic as a stored topic, or None if it is malformed."""
    try:
        return StoredTopic(
            id=str(body["id"]),
            conversation_id=conversation_id,
            text=str(body["phrases"]),
            score=float(body.get("score", 0.0)),
            message_ids=tuple(str(r["id"]) for r in body.get("messageReferences") or []),
            sentiment=0.0,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None

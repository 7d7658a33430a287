"""Server -> client messages as typed events; `parse_event` turns any frame into exactly one.

Every event keeps the decoded frame in `raw`, so unknown fields are never lost; unknown
message types become `UnknownMessage` or `UnknownEvent`; anything malformed becomes a
`ProtocolError` that says what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.protocol.bounded_json import loads
from harness.protocol.fields import FieldError, Fields, type_name

PONG = "__PONG__"
PING = "__PING__"


def message_type(decoded: Mapping[str, Any]) -> str:
    """A decoded server message's type: the inner one for `message`-wrapped messages."""
    inner = decoded.get("message")
    if decoded.get("type") == "message" and isinstance(inner, Mapping):
        return str(inner.get("type"))
    return str(decoded.get("type", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A server message. `conversation_id` is set when it carries `data.conversationId`."""

    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    conversation_id: str | None = None

    @property
    def type(self) -> str:
        """The message type: the inner type for `message`-wrapped ones."""
        return message_type(self.raw)


@dataclass(frozen=True, slots=True)
class Participant:
    """A speaker as the server names one (`user`, `from`, `assignee`)."""

    id: str | None = None
    name: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word with its times, in seconds from the start of the audio stream."""

    word: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationCreated(Event):
    """`conversation_created`: the conversation exists."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedListening(Event):
    """`started_listening`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecognitionStarted(Event):
    """`recognition_started`: audio is now being recognised."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecognitionStopped(Event):
    """`recognition_stopped`: the server processed the stop request."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationCompleted(Event):
    """`conversation_completed`: the last message before the server closes."""

    summary_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionModified(Event):
    """`session_modified`: the reply to a `modify_request`, where a server sends one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecognitionResult(Event):
    """A partial (`is_final` False) or last hypothesis of the phrase being spoken."""

    is_final: bool = False
    transcript: str = ""
    punctuated: str | None = None
    words: tuple[Word, ...] = ()
    user: Participant | None = None
    time_offset_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerError(Event):
    """An `error` message, top-level or inside the `message` wrapper."""

    message: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownMessage(Event):
    """A `message` whose inner type this version does not know."""


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    """One finalised message of a `message_response`."""

    id: str | None
    text: str
    sender: Participant | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageResponse(Event):
    """`message_response`: finalised transcript messages."""

    messages: tuple[TranscriptMessage, ...] = ()
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Insight:
    """A question, action item or follow-up."""

    id: str | None
    type: str
    text: str
    confidence: float | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InsightResponse(Event):
    """`insight_response`."""

    insights: tuple[Insight, ...] = ()
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """A streaming topic: its phrase, score and the messages it refers to."""

    id: str | None
    phrases: str
    score: float | None = None
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicResponse(Event):
    """`topic_response`."""

    topics: tuple[Topic, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackerMatch:
    """One tracker hit: the phrase matched and the messages it was found in."""

    type: str | None
    value: str
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackerResult:
    """A tracker's name and its matches."""

    name: str
    matches: tuple[TrackerMatch, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackerResponse(Event):
    """`tracker_response`."""

    trackers: tuple[TrackerResult, ...] = ()
    is_final: bool | None = None
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    """The `__PONG__` heartbeat answer (a bare text frame, not JSON)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """A JSON object with a top-level type this version does not know."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolError(Event):
    """A frame that is not a valid server message; `reason` says why, `frame` is its text."""

    reason: str
    frame: str


def _participant(value: Fields | None) -> Participant | None:
    if value is None:
        return None
    return Participant(id=value.text("id"), name=value.text("name"), user_id=value.text("userId"))


def _seconds(duration: Fields | None) -> float | None:
    """A protobuf Duration whose `seconds` and `nanos` may be strings or numbers."""
    if duration is None:
        return None
    total = 0.0
    for key, scale in (("seconds", 1.0), ("nanos", 1e-9)):
        value = duration.data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise FieldError(duration.at(key), f"expected number, got {type_name(value)}")
        try:
            total += float(value) * scale
        except ValueError:
            raise FieldError(duration.at(key), f"expected number, got {value!r}") from None
    return total


def _recognition_result(
    msg: Fields, base: dict[str, Any], time_offset_ms: float | None
) -> RecognitionResult:
    alternatives = (msg.obj("payload") or Fields({}, "")).obj("raw")
    best = None
    if alternatives is not None:
        options = alternatives.objects("alternatives") or []
        best = options[0] if options else None
    words: list[Word] = []
    transcript = ""
    if best is not None:
        transcript = best.text("transcript") or ""
        for word in best.objects("words") or []:
            words.append(
                Word(
                    word=word.required_text("word"),
                    start=_seconds(word.obj("startTime")),
                    end=_seconds(word.obj("endTime")),
                )
            )
    punctuated = msg.obj("punctuated")
    return RecognitionResult(
        **base,
        is_final=bool(msg.flag("isFinal")),
        transcript=transcript,
        punctuated=punctuated.text("transcript") if punctuated is not None else None,
        words=tuple(words),
        user=_participant(msg.obj("user")),
        time_offset_ms=time_offset_ms,
    )


def _error(msg: Fields, base: dict[str, Any]) -> ServerError:
    return ServerError(**base, message=msg.text("message"), details=msg.text("details"))


_LIFECYCLE: Mapping[str, Callable[..., Event]] = {
    "conversation_created": ConversationCreated,
    "started_listening": StartedListening,
    "recognition_started": RecognitionStarted,
    "recognition_stopped": RecognitionStopped,
    "session_modified": SessionModified,
}


def _wrapped(frame: Fields, raw: Mapping[str, Any]) -> Event:
    msg = Fields.of(frame.data.get("message"), "message")
    kind = msg.required_text("type")
    data = msg.obj("data")
    conversation_id = data.text("conversationId") if data is not None else None
    if kind == "conversation_completed":
        conversation_id = conversation_id or msg.text("conversationId")
    base: dict[str, Any] = {"raw": raw, "conversation_id": conversation_id}
    if kind in _LIFECYCLE:
        return _LIFECYCLE[kind](**base)
    if kind == "conversation_completed":
        return ConversationCompleted(**base, summary_url=msg.text("summaryUrl"))
    if kind == "recognition_result":
        return _recognition_result(msg, base, frame.number("timeOffset"))
    if kind == "error":
        return _error(msg, base)
    return UnknownMessage(**base)


def _message_response(frame: Fields, raw: Mapping[str, Any]) -> MessageResponse:
    messages = []
    for item in frame.required_objects("messages"):
        payload = item.obj("payload")
        duration = item.obj("duration")
        messages.append(
            TranscriptMessage(
                id=item.text("id"),
                text=(payload.text("content") if payload is not None else None) or "",
                sender=_participant(item.obj("from")),
                start_time=duration.text("startTime") if duration is not None else None,
                end_time=duration.text("endTime") if duration is not None else None,
            )
        )
    return MessageResponse(
        raw=raw, messages=tuple(messages), sequence_number=frame.integer("sequenceNumber")
    )


def _insight_response(frame: Fields, raw: Mapping[str, Any]) -> InsightResponse:
    insights = []
    for item in frame.required_objects("insights"):
        payload = item.obj("payload")
        content = payload.text("content") if payload is not None else None
        reference = item.obj("messageReference")
        insights.append(
            Insight(
                id=item.text("id"),
                type=item.text("type") or "",
                text=item.text("text") or content or "",
                confidence=item.number("confidence"),
                message_id=reference.text("id") if reference is not None else None,
            )
        )
    return InsightResponse(
        raw=raw, insights=tuple(insights), sequence_number=frame.integer("sequenceNumber")
    )


def _ids(refs: list[Fields] | None) -> tuple[str, ...]:
    return tuple(ref.required_text("id") for ref in refs or ())


def _topic_response(frame: Fields, raw: Mapping[str, Any]) -> TopicResponse:
    topics = tuple(
        Topic(
            id=item.text("id"),
            phrases=item.text("phrases") or "",
            score=item.number("score"),
            message_ids=_ids(item.objects("messageReferences")),
        )
        for item in frame.required_objects("topics")
    )
    return TopicResponse(raw=raw, topics=topics)


def _tracker_response(frame: Fields, raw: Mapping[str, Any]) -> TrackerResponse:
    trackers = tuple(
        TrackerResult(
            name=item.required_text("name"),
            matches=tuple(
                TrackerMatch(
                    type=match.text("type"),
                    value=match.text("value") or "",
                    message_ids=_ids(match.objects("messageRefs")),
                )
                for match in item.objects("matches") or ()
            ),
        )
        for item in frame.required_objects("trackers")
    )
    return TrackerResponse(
        raw=raw,
        trackers=trackers,
        is_final=frame.flag("isFinal"),
        sequence_number=frame.integer("sequenceNumber"),
    )


_TOP_LEVEL: Mapping[str, Callable[[Fields, Mapping[str, Any]], Event]] = {
    "message": _wrapped,
    "message_response": _message_response,
    "insight_response": _insight_response,
    "topic_response": _topic_response,
    "tracker_response": _tracker_response,
    "error": lambda frame, raw: _error(frame, {"raw": raw}),
}


def parse_event(frame: str | bytes) -> Event:
    """Parse one server frame into exactly one event; never raises on input."""
    if isinstance(frame, bytes | bytearray | memoryview):
        try:
            text = bytes(frame).decode("utf-8")
        except UnicodeDecodeError as error:
            return ProtocolError(
                reason=f"binary frame is not UTF-8 text ({error.reason} at byte {error.start})",
                frame=bytes(frame).decode("utf-8", errors="replace"),
            )
    else:
        text = frame
    if text == PONG:
        return Pong()
    try:
        decoded = loads(text)
    except ValueError as error:
        return ProtocolError(reason=f"not JSON ({error})", frame=text)
    if not isinstance(decoded, dict):
        return ProtocolError(reason=f"expected a JSON object, got {type_name(decoded)}", frame=text)
    return parse_message(decoded, text)


def parse_message(decoded: Mapping[str, Any], text: str = "") -> Event:
    """Turn an already decoded JSON object into an event; never raises on input."""
    try:
        frame = Fields.of(decoded, "")
        kind = frame.required_text("type")
        parser = _TOP_LEVEL.get(kind)
        return parser(frame, decoded) if parser else UnknownEvent(raw=decoded)
    except FieldError as error:
        return ProtocolError(raw=decoded, reason=str(error), frame=text or json.dumps(decoded))

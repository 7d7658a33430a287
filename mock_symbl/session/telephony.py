"""A telephony call, sans I/O: the `endpoint:connect` requests, the call's states, and the
shapes its results take on the subscribe socket.

No telephone network is reachable from the mock, so the far end of a call is a recording:
the number dialled (PSTN `phoneNumber`) or the user part of the SIP URI names it. Once
connected, the recording's audio runs through a streaming session as a client's would (the
web layer feeds it at the recording's pace); this module turns that session's frames into
the telephony API's (`transcript_response`, `message_response`, `insight_response`,
`topic_response`), names the speaker that speaker events announce, and says when a call ends.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from harness.protocol import StartRequest
from harness.protocol.bounded_json import loads
from mock_symbl.session.conversation import Output, Send, Store
from mock_symbl.store import Member, StoredInsight, StoredMessage

ENDPOINT_TYPES = ("pstn", "sip")
# What a call gives when the start names none (Symbl's telephony examples ask for these).
DEFAULT_INSIGHTS = ("question", "action_item")
# Result types a telephony subscriber gets as the streaming API sends them.
FORWARDED = frozenset({"message_response", "insight_response", "topic_response"})
SPEAKER_TYPES = frozenset({"started_speaking", "stopped_speaking", "joined", "left"})


class TelephonyRequestError(ValueError):
    """A request body the API refuses (400); the message names the field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclass(frozen=True, slots=True)
class Dial:
    """Where a call goes: `pstn` to a number, or `sip` to a URI; `far_end` is the name of
    the recording that answers (the number, or the URI's user part)."""

    type: str
    address: str
    far_end: str
    dtmf: str | None = None


@dataclass(frozen=True, slots=True)
class CallStart:
    """A validated `operation: "start"` request."""

    dial: Dial
    meeting_title: str | None
    insight_types: tuple[str, ...]
    language_code: str | None
    timezone: str | None

    def start_request(self, sample_rate: int, now: datetime) -> StartRequest:
        """The streaming start request the call's audio is recognised under."""
        offset = None
        if self.timezone is not None:
            delta = ZoneInfo(self.timezone).utcoffset(now.replace(tzinfo=None))
            offset = round(delta.total_seconds() / 60) if delta is not None else None
        return StartRequest(
            encoding="LINEAR16",
            sample_rate_hertz=sample_rate,
            meeting_title=self.meeting_title,
            insight_types=self.insight_types,
            language_code=self.language_code,
            timezone_offset=offset,
        )


@dataclass(frozen=True, slots=True)
class CallStop:
    """A validated `operation: "stop"` request."""

    connection_id: str


def _string(value: object, path: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise TelephonyRequestError(
            path, "expected a non-empty string" if required else "expected a string"
        )
    return value


def _object(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TelephonyRequestError(path, "expected an object")
    return value


def sip_user(uri: str) -> str:
    """The user part of a SIP URI (`sip:555@host;transport=udp` -> `555`)."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    return rest.split("@", 1)[0].split(";", 1)[0] if "@" in rest else ""


def _dial(endpoint: Mapping[str, Any]) -> Dial:
    kind = _string(endpoint.get("type"), "endpoint.type", required=True)
    assert kind is not None
    if kind.lower() not in ENDPOINT_TYPES:
        raise TelephonyRequestError("endpoint.type", f"{kind!r} is not one of 'pstn', 'sip'")
    dtmf = _string(endpoint.get("dtmf"), "endpoint.dtmf")
    if kind.lower() == "pstn":
        number = _string(endpoint.get("phoneNumber"), "endpoint.phoneNumber", required=True)
        assert number is not None
        # E.164 without the `+` (Symbl's reference); a `+` or separators are forgiven.
        digits = number.strip().lstrip("+").replace(" ", "").replace("-", "")
        if not digits.isdigit():
            raise TelephonyRequestError("endpoint.phoneNumber", f"{number!r} is not a phone number")
        return Dial("pstn", number, digits, dtmf)
    uri = _string(endpoint.get("uri"), "endpoint.uri", required=True)
    assert uri is not None
    user = sip_user(uri.strip())
    if not user:
        raise TelephonyRequestError("endpoint.uri", f"{uri!r} is not a SIP URI (sip:user@host)")
    return Dial("sip", uri, user, dtmf)


def _languages(value: object) -> str | None:
    """The first language asked for: strings (Python SDK) or `{code}` objects (Node SDK)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise TelephonyRequestError("languages", "expected an array")
    for index, item in enumerate(value):
        code = item.get("code") if isinstance(item, dict) else item
        if not isinstance(code, str) or not code:
            raise TelephonyRequestError(f"languages[{index}]", "expected a language code")
    if not value:
        return None
    first = value[0]
    return str(first["code"] if isinstance(first, dict) else first)


def _timezone(body: Mapping[str, Any], session: Mapping[str, Any]) -> str | None:
    """`timezone` (Python SDK, Symbl's reference) or `data.session.location.timeZone.name`
    (where the Node SDK puts it)."""
    path, name = "timezone", body.get("timezone")
    if name is None:
        location = _object(session.get("location"), "data.session.location")
        zone = _object(location.get("timeZone"), "data.session.location.timeZone")
        path, name = "data.session.location.timeZone.name", zone.get("name")
    zone_name = _string(name, path)
    if zone_name is None:
        return None
    try:
        ZoneInfo(zone_name)
    # A folder of the zone database (`America`) is no zone either: it raises OSError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TelephonyRequestError(path, f"{zone_name!r} is not an IANA time zone") from None
    return zone_name


def _insight_types(value: object) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_INSIGHTS
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise TelephonyRequestError("insightTypes", "expected an array of strings")
    return tuple(value)


def _actions(value: object) -> None:
    """Check `actions` (an empty object, as the Python SDK sends by default, is none)."""
    if value is None or value == {}:
        return
    if not isinstance(value, list):
        raise TelephonyRequestError("actions", "expected an array")
    for index, action in enumerate(value):
        if not isinstance(action, dict):
            raise TelephonyRequestError(f"actions[{index}]", "expected an object")
        for key in ("invokeOn", "name"):
            _string(action.get(key), f"actions[{index}].{key}", required=True)
        if action["invokeOn"] not in ("start", "stop"):
            raise TelephonyRequestError(f"actions[{index}].invokeOn", "expected 'start' or 'stop'")


def parse_connect(body: object) -> CallStart | CallStop:
    """The request an `endpoint:connect` body makes; TelephonyRequestError names what is wrong."""
    if not isinstance(body, dict):
        raise TelephonyRequestError("body", "expected a JSON object")
    operation = _string(body.get("operation"), "operation", required=True)
    if operation == "stop":
        connection_id = _string(body.get("connectionId"), "connectionId", required=True)
        assert connection_id is not None
        return CallStop(connection_id)
    if operation != "start":
        raise TelephonyRequestError("operation", f"{operation!r} is not one of 'start', 'stop'")
    if body.get("endpoint") is None:
        raise TelephonyRequestError("endpoint", "required to start a call")
    dial = _dial(_object(body["endpoint"], "endpoint"))
    _actions(body.get("actions"))
    data = _object(body.get("data"), "data")
    session = _object(data.get("session"), "data.session")
    return CallStart(
        dial=dial,
        meeting_title=_string(session.get("name"), "data.session.name"),
        insight_types=_insight_types(body.get("insightTypes")),
        language_code=_languages(body.get("languages")),
        timezone=_timezone(body, session),
    )


class CallState(enum.Enum):
    """Where a call is in its life."""

    CONNECTED = "connected"  # the far end answered; its audio is being recognised
    ENDED = "ended"  # stopped (by request, stop event or silence); the conversation completed


class CallTrigger(enum.Enum):
    """What moves a call."""

    SPEAKER_EVENT = "speaker_event"
    STOP = "stop"  # `operation: "stop"`, or a stop event on the events socket
    SILENCE = "silence"  # nothing heard for the silence timeout after the recording ended


CALL_TRANSITIONS: Final[Mapping[tuple[CallState, CallTrigger], CallState]] = {
    (CallState.CONNECTED, CallTrigger.SPEAKER_EVENT): CallState.CONNECTED,
    (CallState.CONNECTED, CallTrigger.STOP): CallState.ENDED,
    (CallState.CONNECTED, CallTrigger.SILENCE): CallState.ENDED,
}


class CallEndedError(Exception):
    """A trigger that arrived after the call ended."""


def next_call_state(state: CallState, trigger: CallTrigger) -> CallState:
    """The state `trigger` leads to; CallEndedError once the call is over."""
    try:
        return CALL_TRANSITIONS[state, trigger]
    except KeyError:
        raise CallEndedError(f"{trigger.value} after the call ended") from None


@dataclass(frozen=True, slots=True)
class SpeakerEvent:
    """A speaker event pushed on the events socket."""

    type: str
    user: Member


@dataclass(frozen=True, slots=True)
class StopEvent:
    """The stop event (`type: "stopped"`): end the call."""


def parse_event(text: str, new_id: str) -> SpeakerEvent | StopEvent:
    """The event a frame of the events socket carries (TelephonyRequestError if none);
    `new_id` is the member id for a user that names none."""
    try:
        event = loads(text)
    except ValueError:
        raise TelephonyRequestError("event", "expected a JSON object") from None
    if not isinstance(event, dict):
        raise TelephonyRequestError("event", "expected a JSON object")
    kind = event.get("type")
    if kind == "stopped":
        return StopEvent()
    if not isinstance(kind, str) or kind not in SPEAKER_TYPES:
        known = ", ".join(sorted(SPEAKER_TYPES | {"stopped"}))
        raise TelephonyRequestError("type", f"{kind!r} is not one of {known}")
    user = _object(event.get("user"), "user")
    user_id = _string(user.get("userId"), "user.userId", required=True)
    name = _string(user.get("name"), "user.name")
    member_id = _string(user.get("id"), "user.id")
    return SpeakerEvent(str(kind), Member(id=member_id or new_id, name=name, email=user_id))


def attribute(outputs: Sequence[Output], speaker: Member | None) -> list[Output]:
    """The outputs with their messages and insights said by `speaker` (as speaker events
    announced), unchanged when no speaker was announced."""
    if speaker is None:
        return list(outputs)
    said = speaker.to_json()
    out: list[Output] = []
    for output in outputs:
        if isinstance(output, Store) and isinstance(output.record, StoredMessage | StoredInsight):
            record = dataclasses.replace(output.record, sender=speaker)
            if isinstance(record, StoredInsight) and record.assignee is not None:
                record = dataclasses.replace(record, assignee=speaker)
            out.append(Store(record, output.conversation_id))
        elif isinstance(output, Send) and isinstance(output.message, Mapping):
            out.append(Send(_said_by(output.message, said), output.everyone))
        else:
            out.append(output)
    return out


def _said_by(message: Mapping[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    body = dict(message)
    if body.get("type") == "message_response":
        body["messages"] = [{**m, "from": user} for m in body.get("messages") or []]
    elif body.get("type") == "insight_response":
        body["insights"] = [{**i, "from": user} for i in body.get("insights") or []]
    elif body.get("type") == "message" and isinstance(body.get("message"), dict):
        inner = dict(body["message"])
        if "user" in inner:
            inner["user"] = user
        body["message"] = inner
    return body


def subscriber_frames(outputs: Sequence[Output]) -> list[dict[str, Any]]:
    """What the call's subscribers receive of a streaming session's outputs: live
    transcription as `transcript_response`, results as the streaming API sends them;
    lifecycle frames and errors concern the call's own audio feed, not its listeners."""
    frames: list[dict[str, Any]] = []
    for output in outputs:
        if not isinstance(output, Send) or not isinstance(output.message, Mapping):
            continue
        message = output.message
        kind = message.get("type")
        if kind in FORWARDED:
            frames.append(dict(message))
            continue
        inner = message.get("message")
        if (
            kind == "message"
            and isinstance(inner, dict)
            and inner.get("type") == "recognition_result"
        ):
            frames.append(transcript_response(inner))
    return frames


def transcript_response(result: Mapping[str, Any]) -> dict[str, Any]:
    """A streaming `recognition_result` as the telephony API's live transcription."""
    punctuated = result.get("punctuated") or {}
    return {
        "type": "transcript_response",
        "isFinal": bool(result.get("isFinal")),
        "payload": {"content": str(punctuated.get("transcript", "")), "contentType": "text/plain"},
        "user": result.get("user"),
    }


def connect_answer(
    connection_id: str, conversation_id: str, http_base: str, ws_base: str
) -> dict[str, str]:
    """The answer to a started call: where to push events, where to subscribe, the ids."""
    return {
        "eventUrl": f"{http_base}/v1/event/{connection_id}",
        "resultWebSocketUrl": f"{ws_base}/events/{connection_id}",
        "connectionId": connection_id,
        "conversationId": conversation_id,
    }

"""The dispatcher: routing with the seed client's semantics, and never raising on input."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from harness.protocol import (
    Dispatcher,
    Event,
    ProtocolError,
    RecognitionResult,
    Route,
    ServerError,
)

conversation_ids = st.text("0123456789", min_size=16, max_size=16)
texts = st.text(max_size=40)
# Extra fields a newer server might add; never one of the keys the parser reads.
extras = st.dictionaries(st.text("xyz", min_size=3, max_size=6), st.integers(), max_size=2)


def wrapped(inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": inner}


@st.composite
def server_frames(draw: st.DrawFn) -> tuple[str, tuple[Route, ...], str | None]:
    """A valid server frame, the routes it must take, and the conversation id it carries."""
    kind = draw(
        st.sampled_from(
            [
                "lifecycle",
                "completed",
                "recognition",
                "messages",
                "insights",
                "topics",
                "trackers",
                "error",
                "wrapped_error",
                "unknown",
                "pong",
            ]
        )
    )
    conversation: str | None = None
    routes: tuple[Route, ...]
    if kind == "lifecycle":
        inner: dict[str, Any] = {
            "type": draw(
                st.sampled_from(
                    [
                        "conversation_created",
                        "started_listening",
                        "recognition_started",
                        "recognition_stopped",
                        "session_modified",
                        "something_new",
                    ]
                )
            )
        }
        if draw(st.booleans()):
            conversation = draw(conversation_ids)
            inner["data"] = {"conversationId": conversation}
        message = wrapped(inner)
        routes = (Route.CONVERSATION_ID,) if conversation else (Route.FALLBACK,)
    elif kind == "completed":
        conversation = draw(conversation_ids)
        message = wrapped(
            {
                "type": "conversation_completed",
                "conversationId": conversation,
                "data": {"conversationId": conversation},
            }
        )
        routes = (Route.CONVERSATION_ID,)
    elif kind == "recognition":
        inner = {
            "type": "recognition_result",
            "isFinal": draw(st.booleans()),
            "payload": {"raw": {"alternatives": [{"transcript": draw(texts)}]}},
        }
        punctuated = draw(st.booleans())
        if punctuated:
            inner["punctuated"] = {"transcript": draw(texts)}
        message = wrapped(inner)
        routes = (Route.LIVE_TRANSCRIPT,) if punctuated else (Route.FALLBACK,)
    elif kind == "messages":
        contents = draw(st.lists(texts, max_size=3))
        message = {
            "type": "message_response",
            "messages": [{"id": str(i), "payload": {"content": c}} for i, c in enumerate(contents)],
        }
        routes = (Route.FINAL_TRANSCRIPT,)
    elif kind == "insights":
        message = {
            "type": "insight_response",
            "insights": [
                {
                    "type": draw(st.sampled_from(["question", "action_item", "follow_up"])),
                    "payload": {"content": draw(texts)},
                    "confidence": draw(st.floats(0, 1)),
                }
            ],
        }
        routes = (Route.INSIGHTS,)
    elif kind == "topics":
        message = {"type": "topic_response", "topics": [{"phrases": draw(texts)}]}
        routes = (Route.TOPICS,)
    elif kind == "trackers":
        message = {"type": "tracker_response", "trackers": [{"name": draw(texts), "matches": []}]}
        routes = (Route.TRACKERS,)
    elif kind == "error":
        message = {"type": "error", "message": draw(texts)}
        routes = (Route.ERROR,)
    elif kind == "wrapped_error":
        message = wrapped({"type": "error", "message": draw(texts)})
        routes = (Route.ERROR,)
    elif kind == "unknown":
        message = {"type": draw(st.sampled_from(["new_response", "summary_response"]))}
        routes = (Route.FALLBACK,)
    else:
        return "__PONG__", (Route.FALLBACK,), None
    return json.dumps({**draw(extras), **message}), routes, conversation


def recording_dispatcher() -> tuple[Dispatcher, list[tuple[Route, int, Event]]]:
    dispatcher = Dispatcher()
    calls: list[tuple[Route, int, Event]] = []
    for route in Route:
        for index in range(2):
            dispatcher.on(route, lambda event, r=route, i=index: calls.append((r, i, event)))
    return dispatcher, calls


@given(st.lists(server_frames(), max_size=30))
def test_each_event_goes_to_exactly_its_handlers_in_order(
    frames: list[tuple[str, tuple[Route, ...], str | None]],
) -> None:
    dispatcher, calls = recording_dispatcher()
    for frame, routes, _ in frames:
        calls.clear()
        (event,) = dispatcher.feed(frame)
        assert [(route, index) for route, index, _ in calls] == [
            (route, index) for route in routes for index in range(2)
        ]
        assert all(seen is event for _, _, seen in calls)


@given(st.lists(server_frames(), max_size=30))
def test_conversation_id_is_the_first_one_seen(
    frames: list[tuple[str, tuple[Route, ...], str | None]],
) -> None:
    dispatcher = Dispatcher()
    for frame, _, _ in frames:
        dispatcher.feed(frame)
    carried = [conversation for _, _, conversation in frames if conversation]
    assert dispatcher.conversation_id == (carried[0] if carried else None)


@given(st.lists(server_frames(), max_size=30))
def test_final_transcripts_are_every_finalised_message_in_order(
    frames: list[tuple[str, tuple[Route, ...], str | None]],
) -> None:
    dispatcher = Dispatcher()
    expected: list[str] = []
    for frame, _, _ in frames:
        dispatcher.feed(frame)
        if frame.startswith("{"):
            decoded = json.loads(frame)
            if decoded["type"] == "message_response":
                expected.extend(m["payload"]["content"] for m in decoded["messages"])
    assert dispatcher.final_transcripts == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "message",
                    "messages",
                    "data",
                    "payload",
                    "insights",
                    "topics",
                    "trackers",
                    "punctuated",
                    "conversationId",
                    "isFinal",
                    "content",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
wrong_typed = st.builds(
    lambda kind, key, value: {"type": kind, key: value},
    st.sampled_from(
        [
            "message",
            "message_response",
            "insight_response",
            "topic_response",
            "tracker_response",
            "error",
        ]
    ),
    st.sampled_from(["message", "messages", "insights", "topics", "trackers", "sequenceNumber"]),
    json_values,
)


@given(st.binary())
def test_any_bytes_yield_exactly_one_event(frame: bytes) -> None:
    dispatcher, calls = recording_dispatcher()
    events = dispatcher.feed(frame)
    assert len(events) == 1
    assert calls


@given(json_values | wrong_typed)
def test_any_json_value_yields_exactly_one_event(value: Any) -> None:
    dispatcher, calls = recording_dispatcher()
    (event,) = dispatcher.feed(json.dumps(value))
    assert calls
    if isinstance(event, ProtocolError):
        assert [route for route, _, _ in calls] == [Route.ERROR, Route.ERROR]


@given(st.text())
def test_any_text_yields_exactly_one_event(frame: str) -> None:
    assert len(Dispatcher().feed(frame)) == 1


class DispatcherMachine(RuleBasedStateMachine):
    """Interleave valid and malformed frames; the state always matches a simple model."""

    def __init__(self) -> None:
        super().__init__()
        self.dispatcher, self.calls = recording_dispatcher()
        self.conversation_id: str | None = None
        self.errors = 0
        self.live: str = ""

    @rule(frame=server_frames())
    def valid(self, frame: tuple[str, tuple[Route, ...], str | None]) -> None:
        text, routes, conversation = frame
        self.dispatcher.feed(text)
        self.conversation_id = self.conversation_id or conversation
        self.errors += routes.count(Route.ERROR)
        if Route.LIVE_TRANSCRIPT in routes:
            self.live = json.loads(text)["message"]["punctuated"]["transcript"]

    @rule(frame=st.binary() | st.text())
    def garbage(self, frame: bytes | str) -> None:
        (event,) = self.dispatcher.feed(frame)
        # Random text is rarely, but possibly, a valid server message.
        self.conversation_id = self.conversation_id or event.conversation_id
        if isinstance(event, ProtocolError | ServerError):
            self.errors += 1
        if isinstance(event, RecognitionResult) and event.punctuated is not None:
            self.live = event.punctuated

    @invariant()
    def state_matches_model(self) -> None:
        assert self.dispatcher.conversation_id == self.conversation_id
        assert self.dispatcher.live_transcript == self.live
        error_calls = [c for c in self.calls if c[0] is Route.ERROR and c[1] == 0]
        assert len(error_calls) == self.errors


TestDispatcherMachine = DispatcherMachine.TestCase

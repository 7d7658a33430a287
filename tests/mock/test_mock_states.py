"""The streaming session's state machine: the transition table, and sessions moving along it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from operator import methodcaller
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol import StartRequest
from harness.session_folder.transcript import read_transcript
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.session.conversation import Close, Linger, Output, Send, Store, end_if_abandoned
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import (
    REFUSALS,
    TRANSITIONS,
    IllegalTransitionError,
    State,
    StreamingSession,
    Trigger,
    next_state,
)
from mock_symbl.store import Conversation

from helpers import FIXTURES, start_request

TRANSCRIPT = read_transcript(FIXTURES / "standup" / "transcript.json")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ILLEGAL = [
    (state, trigger)
    for state in State
    for trigger in Trigger
    if (state, trigger) not in TRANSITIONS
]
# What a client's text frames can trigger, in any state.
TEXT_TRIGGERS = (
    Trigger.START_REQUEST,
    Trigger.MODIFY_REQUEST,
    Trigger.STOP_REQUEST,
    Trigger.PING,
    Trigger.BAD_MESSAGE,
)


def transcript_engine(request: StartRequest, connection_id: str) -> Recognizer:
    return TranscriptRecognizer(TRANSCRIPT)


def new_session(conversations: dict[Any, Any] | None = None) -> StreamingSession:
    return StreamingSession(
        connection_id="c1",
        app_key="app",
        conversations={} if conversations is None else conversations,
        engines=transcript_engine,
        ids=IdSource(1),
        now=lambda: NOW,
    )


def errors(outputs: list[Output]) -> list[str]:
    return [
        json.loads(o.text)["message"]["message"]
        for o in outputs
        if isinstance(o, Send) and '"type":"error"' in o.text
    ]


@pytest.mark.parametrize(
    ("state", "trigger", "after"),
    [(state, trigger, after) for (state, trigger), after in TRANSITIONS.items()],
)
def test_every_allowed_transition_leads_where_the_table_says(
    state: State, trigger: Trigger, after: State
) -> None:
    assert next_state(state, trigger) is after


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL)
def test_every_transition_missing_from_the_table_is_illegal_and_says_which(
    state: State, trigger: Trigger
) -> None:
    with pytest.raises(IllegalTransitionError, match=f"{trigger.value} .* {state.value}") as info:
        next_state(state, trigger)
    assert (info.value.state, info.value.trigger) == (state, trigger)


def test_a_closed_session_only_hears_that_its_connection_is_gone() -> None:
    allowed = {trigger for (state, trigger) in TRANSITIONS if state is State.CLOSED}
    assert allowed == {Trigger.CONNECTION_LOST}
    assert next_state(State.CLOSED, Trigger.CONNECTION_LOST) is State.CLOSED


def test_every_state_is_reachable_from_the_start_and_every_state_can_close() -> None:
    reached = {State.AWAITING_START}
    while True:
        more = {TRANSITIONS[s, t] for (s, t) in TRANSITIONS if s in reached} - reached
        if not more:
            break
        reached |= more
    assert reached == set(State)
    assert all(next_state(state, Trigger.CONNECTION_LOST) is State.CLOSED for state in State)


def test_every_request_a_live_session_cannot_take_has_an_answer_for_the_client() -> None:
    live = [(state, trigger) for state, trigger in ILLEGAL if state is not State.CLOSED]
    refused = {trigger for _, trigger in live if trigger in TEXT_TRIGGERS}
    assert refused == set(REFUSALS)


Step = Callable[[StreamingSession], list[Output]]


def text(frame: str) -> Step:
    return methodcaller("receive_text", frame)


def start(**extra: Any) -> Step:
    return text(json.dumps(start_request(16000, **extra)))


AUDIO: Step = methodcaller("receive_audio", bytes(2048))
STOP = text('{"type":"stop_request"}')
SDK_STOP = text(str({"type": "stop_request"}))
PING = text("__PING__")
MODIFY = text('{"type":"modify_request","speechRecognition":{"sampleRateHertz":8000}}')
BAD = text('{"type":"dance"}')
SILENCE: Step = methodcaller("end_for_silence", 30)
LOST: Step = methodcaller("connection_lost")

SEQUENCES: dict[str, list[tuple[Step, State]]] = {
    "a stop request ends the stream and the socket": [
        (PING, State.AWAITING_START),
        (start(), State.STREAMING),
        (AUDIO, State.STREAMING),
        (MODIFY, State.STREAMING),
        (STOP, State.CLOSED),
        (LOST, State.CLOSED),
    ],
    "the python sdk's stop request does the same": [
        (start(), State.STREAMING),
        (SDK_STOP, State.CLOSED),
    ],
    "with disconnect on stop request false the socket stays and can start again": [
        (start(disconnectOnStopRequest=False), State.STREAMING),
        (AUDIO, State.STREAMING),
        (STOP, State.STOPPED),
        (AUDIO, State.STOPPED),
        (PING, State.STOPPED),
        (MODIFY, State.STOPPED),
        (start(disconnectOnStopRequest=False), State.STREAMING),
        (STOP, State.STOPPED),
        (LOST, State.CLOSED),
    ],
    "requests out of turn are answered and change nothing": [
        (STOP, State.AWAITING_START),
        (MODIFY, State.AWAITING_START),
        (AUDIO, State.AWAITING_START),
        (BAD, State.AWAITING_START),
        (start(), State.STREAMING),
        (start(), State.STREAMING),
        (BAD, State.STREAMING),
    ],
    "silence ends a stream as a stop request would": [
        (SILENCE, State.AWAITING_START),
        (start(), State.STREAMING),
        (SILENCE, State.CLOSED),
        (SILENCE, State.CLOSED),
    ],
    "silence after a stop that kept the socket changes nothing": [
        (start(disconnectOnStopRequest=False), State.STREAMING),
        (STOP, State.STOPPED),
        (SILENCE, State.STOPPED),
    ],
    "a lost connection closes a session in any state": [
        (LOST, State.CLOSED),
        (LOST, State.CLOSED),
    ],
    "a closed session reads nothing more": [
        (start(), State.STREAMING),
        (STOP, State.CLOSED),
        (PING, State.CLOSED),
        (start(), State.CLOSED),
        (AUDIO, State.CLOSED),
        (BAD, State.CLOSED),
    ],
}


@pytest.mark.parametrize("steps", SEQUENCES.values(), ids=list(SEQUENCES))
def test_a_sequence_of_frames_passes_through_the_expected_states(
    steps: list[tuple[Step, State]],
) -> None:
    session = new_session()
    passed = []
    for step, _ in steps:
        step(session)
        passed.append(session.state)
    assert passed == [state for _, state in steps]


@pytest.mark.parametrize(
    ("before", "frame", "answer"),
    [
        ([], STOP, "Not started"),
        ([], MODIFY, "Not started"),
        ([start()], start(), "Already started"),
        ([start(disconnectOnStopRequest=False), STOP], STOP, "Not started"),
    ],
    ids=["stop before start", "modify before start", "second start", "stop after stop"],
)
def test_a_request_the_state_does_not_allow_gets_the_same_error_as_always(
    before: list[Step], frame: Step, answer: str
) -> None:
    session = new_session()
    for step in before:
        step(session)
    state = session.state
    assert errors(frame(session)) == [answer]
    assert session.state is state
    assert session.errors[answer] == 1


def test_a_closed_session_answers_nothing_and_counts_the_audio_it_ignores() -> None:
    session = new_session()
    start()(session)
    STOP(session)
    assert [step(session) for step in (PING, start(), MODIFY, STOP, BAD)] == [[]] * 5
    assert AUDIO(session) == []
    assert session.ignored_audio_bytes == 2048
    assert not session.errors


def test_a_restart_after_a_kept_stop_resumes_the_same_conversation() -> None:
    session = new_session()
    first = start(disconnectOnStopRequest=False)(session)
    stopped = STOP(session)
    again = start(disconnectOnStopRequest=False)(session)
    assert not any(isinstance(o, Close) for o in stopped)
    assert [o for o in first if isinstance(o, Store) and isinstance(o.record, Conversation)]
    assert not [o for o in again if isinstance(o, Store) and isinstance(o.record, Conversation)]
    assert session.conversation is not None
    assert session.conversation.sockets == 1


def test_a_dropped_stream_lingers_and_a_new_socket_rejoins_its_conversation() -> None:
    conversations: dict[Any, Any] = {}
    dropped, rejoined = new_session(conversations), new_session(conversations)
    start(noConnectionTimeout=30)(dropped)
    (linger,) = [o for o in LOST(dropped) if isinstance(o, Linger)]
    assert dropped.state is State.CLOSED
    start()(rejoined)
    assert rejoined.state is State.STREAMING
    assert rejoined.conversation is not None
    assert rejoined.conversation.id == linger.conversation_id
    assert end_if_abandoned(conversations, linger, NOW) == []


def test_silence_hangs_up_with_its_own_reason() -> None:
    session = new_session()
    start()(session)
    outputs = SILENCE(session)
    assert outputs[-1] == Close(1000, "no audio for 30 s")


STEPS = st.sampled_from(
    [
        start(),
        start(disconnectOnStopRequest=False),
        start(noConnectionTimeout=5),
        AUDIO,
        STOP,
        SDK_STOP,
        PING,
        MODIFY,
        BAD,
        text("not json"),
        SILENCE,
        LOST,
    ]
)


@given(st.lists(STEPS, max_size=25))
def test_a_session_never_jumps_between_states_the_table_does_not_join(steps: list[Step]) -> None:
    joined = {(state, after) for (state, _), after in TRANSITIONS.items()}
    session = new_session()
    for step in steps:
        before = session.state
        step(session)
        assert session.state is before or (before, session.state) in joined
        assert before is not State.CLOSED or session.state is State.CLOSED

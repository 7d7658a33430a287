"""The mock's streaming state machine, driven without sockets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from harness.protocol import Dispatcher, ProtocolError, StartRequest
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.select import EngineUnavailableError
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.session.conversation import Close, Output, Send, Store
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import State, StreamingSession
from mock_symbl.store import Conversation, StoredMessage

from helpers import FIXTURES

START = {
    "type": "start_request",
    "insightTypes": ["question", "action_item", "follow_up"],
    "config": {
        "confidenceThreshold": 0.5,
        "sentiment": True,
        "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 16000},
    },
    "speaker": {"userId": "jane@example.com", "name": "Jane", "title": "PM"},
    "trackers": [{"name": "Deadlines", "vocabulary": ["Friday", "Monday"]}],
}


def transcript_engine(name: str = "standup") -> Any:
    transcript = read_transcript(FIXTURES / name / "transcript.json")

    def make(request: StartRequest, connection_id: str) -> Recognizer:
        return TranscriptRecognizer(transcript)

    return make


def new_session(
    engines: Any = None, conversations: dict[Any, Any] | None = None
) -> StreamingSession:
    return StreamingSession(
        connection_id="c1",
        app_key="app",
        conversations={} if conversations is None else conversations,
        engines=engines or transcript_engine(),
        ids=IdSource(1),
        now=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def sent(outputs: list[Output]) -> list[dict[str, Any]]:
    return [json.loads(o.text) for o in outputs if isinstance(o, Send) and o.text != "__PONG__"]


def kind(message: dict[str, Any]) -> str:
    return str(message["message"]["type"] if message["type"] == "message" else message["type"])


def stream(session: StreamingSession, name: str = "standup", frame: int = 1024) -> list[Output]:
    audio = read_pcm16(FIXTURES / name / "audio.wav").samples
    outputs: list[Output] = []
    for start in range(0, audio.size, frame):
        outputs += session.receive_audio(audio[start : start + frame].astype("<i2").tobytes())
    return outputs


def full_session() -> tuple[StreamingSession, list[Output]]:
    session = new_session()
    outputs = session.receive_text(json.dumps(START))
    outputs += stream(session)
    outputs += session.receive_text('{"type":"stop_request"}')
    return session, outputs


def test_the_whole_lifecycle_in_order() -> None:
    _, outputs = full_session()
    kinds = [kind(m) for m in sent(outputs)]
    assert kinds[:3] == ["conversation_created", "started_listening", "recognition_started"]
    assert kinds[-2:] == ["conversation_completed", "recognition_stopped"]
    assert isinstance(outputs[-1], Close)
    assert outputs[-1].code == 1000


def test_every_message_passes_the_seed_dispatcher_without_protocol_errors() -> None:
    _, outputs = full_session()
    dispatcher = Dispatcher()
    for output in outputs:
        if isinstance(output, Send):
            (event,) = dispatcher.feed(output.text)
            assert not isinstance(event, ProtocolError), event
    transcript = read_transcript(FIXTURES / "standup" / "transcript.json")
    assert dispatcher.final_transcripts == [p.text.replace(",", "") for p in transcript.phrases]
    assert dispatcher.conversation_id is not None
    assert len(dispatcher.conversation_id) == 16


def test_partials_arrive_before_their_message_response_and_often_enough() -> None:
    _, outputs = full_session()
    messages = sent(outputs)
    phrase_partials = 0
    for message in messages:
        if kind(message) == "recognition_result" and not message["message"]["isFinal"]:
            phrase_partials += 1
        elif kind(message) == "message_response":
            assert phrase_partials >= 2
            phrase_partials = 0


def test_insights_sentiment_topics_and_trackers() -> None:
    _, outputs = full_session()
    messages = sent(outputs)
    insight_types = {
        i["type"] for m in messages if kind(m) == "insight_response" for i in m["insights"]
    }
    assert insight_types == {"question", "action_item", "follow_up"}
    for m in messages:
        if kind(m) == "insight_response":
            for insight in m["insights"]:
                assert insight["text"] == insight["payload"]["content"]
                assert insight["confidence"] >= 0.5
    finals = [msg for m in messages if kind(m) == "message_response" for msg in m["messages"]]
    assert all("sentiment" in msg for msg in finals)
    assert all(msg["from"]["title"] == "PM" for msg in finals)
    assert any(kind(m) == "topic_response" for m in messages)
    trackers = [m for m in messages if kind(m) == "tracker_response"]
    assert {
        match["value"] for t in trackers for tr in t["trackers"] for match in tr["matches"]
    } == {
        "Friday",
        "Monday",
    }


def test_only_requested_insight_types_above_the_threshold() -> None:
    session = new_session()
    start = {
        **START,
        "insightTypes": ["question"],
        "config": {**START["config"], "confidenceThreshold": 0.9},
    }
    outputs = session.receive_text(json.dumps(start)) + stream(session)
    insights = [i for m in sent(outputs) if kind(m) == "insight_response" for i in m["insights"]]
    assert insights
    assert {i["type"] for i in insights} == {"question"}
    assert all(i["confidence"] >= 0.9 for i in insights)


def test_everything_final_is_stored() -> None:
    _, outputs = full_session()
    stored = [o.record for o in outputs if isinstance(o, Store)]
    assert isinstance(stored[0], Conversation)
    assert sum(isinstance(r, StoredMessage) for r in stored) == 6
    assert isinstance(stored[-1], str)  # the end time


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "Invalid message"),
        ("[1, 2]", "Invalid message"),
        ('{"type": "dance"}', "Unsupported type"),
        ('{"type": "stop_request"}', "Not started"),
        (
            '{"type": "modify_request", "speechRecognition": {"sampleRateHertz": 16000}}',
            "Not started",
        ),
        (
            json.dumps({**START, "config": {"speechRecognition": {"sampleRateHertz": 96000}}}),
            "Invalid start_request",
        ),
    ],
)
def test_bad_text_frames_get_an_error_message_and_the_session_goes_on(
    frame: str, error: str
) -> None:
    session = new_session()
    (reply,) = sent(session.receive_text(frame))
    assert kind(reply) == "error"
    assert reply["message"]["message"] == error
    assert session.state is State.AWAITING_START
    assert kind(sent(session.receive_text(json.dumps(START)))[0]) == "conversation_created"


def test_audio_before_start_is_ignored_and_counted() -> None:
    session = new_session()
    assert session.receive_audio(bytes(2048)) == []
    assert session.ignored_audio_bytes == 2048


def test_a_second_start_and_an_oversized_frame_are_errors() -> None:
    session = new_session()
    session.receive_text(json.dumps(START))
    (again,) = sent(session.receive_text(json.dumps(START)))
    assert again["message"]["message"] == "Already started"
    (big,) = sent(session.receive_audio(bytes(8194)))
    assert "8194 bytes" in big["message"]["details"]
    assert session.receive_audio(bytes(9000)) == []
    assert session.oversized_frames == 2
    assert session.state is State.STREAMING


def test_heartbeat_and_python_sdk_stop_request() -> None:
    session = new_session()
    assert [o.text for o in session.receive_text("__PING__") if isinstance(o, Send)] == ["__PONG__"]
    session.receive_text(json.dumps(START))
    outputs = session.receive_text(str({"type": "stop_request"}))
    assert [kind(m) for m in sent(outputs)[-2:]] == [
        "conversation_completed",
        "recognition_stopped",
    ]
    assert session.state is State.CLOSED


def test_odd_length_frames_lose_no_audio() -> None:
    session = new_session()
    session.receive_text(json.dumps(START))
    data = np.arange(3000, dtype="<i2").tobytes()
    for start in range(0, len(data), 1001):
        session.receive_audio(data[start : start + 1001])
    assert session.samples_received == 3000


def test_modify_request_changes_the_rate_mid_stream() -> None:
    session = new_session()
    session.receive_text(json.dumps(START))
    modify = {
        "type": "modify_request",
        "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 8000},
    }
    assert session.receive_text(json.dumps(modify)) == []
    assert session.request is not None
    assert session.request.sample_rate_hertz == 8000
    (bad,) = sent(
        session.receive_text(json.dumps({**modify, "speechRecognition": {"sampleRateHertz": 1}}))
    )
    assert bad["message"]["message"] == "Invalid modify_request"


def test_audio_that_is_not_its_declared_encoding_gets_one_clear_error() -> None:
    session = new_session()
    start = {
        **START,
        "config": {"speechRecognition": {"encoding": "FLAC", "sampleRateHertz": 16000}},
    }
    session.receive_text(json.dumps(start))
    (error,) = sent(session.receive_audio(bytes(100)))
    assert error["message"]["message"] == "Invalid audio"
    assert "not a FLAC stream: it does not begin with 'fLaC'" in error["message"]["details"]
    assert session.receive_audio(bytes(100)) == []


def test_mulaw_audio_is_decoded() -> None:
    session = new_session()
    start = {
        **START,
        "config": {"speechRecognition": {"encoding": "MULAW", "sampleRateHertz": 8000}},
    }
    session.receive_text(json.dumps(start))
    session.receive_audio(bytes([0xFF, 0x7F, 0x00, 0x80] * 100))
    assert session.samples_received == 400


def test_an_engine_that_cannot_serve_gives_an_error() -> None:
    def refuse(request: StartRequest, connection_id: str) -> Recognizer:
        raise EngineUnavailableError("nothing for c1")

    session = new_session(engines=refuse)
    (error,) = sent(session.receive_text(json.dumps(START)))
    assert error["message"]["details"] == "nothing for c1"


def test_a_vanished_client_still_has_its_words_stored() -> None:
    session = new_session()
    session.receive_text(json.dumps(START))
    stream(session)
    stored = session.connection_lost()
    assert all(isinstance(o, Store) for o in stored)
    assert isinstance(stored[-1].record, str)
    assert session.state is State.CLOSED


def test_two_sockets_with_one_connection_id_share_a_conversation() -> None:
    conversations: dict[Any, Any] = {}
    first, second = (
        new_session(conversations=conversations),
        new_session(conversations=conversations),
    )
    a = sent(first.receive_text(json.dumps(START)))
    b = sent(second.receive_text(json.dumps(START)))
    assert a[0]["message"]["data"] == b[0]["message"]["data"]
    finals = [o for o in stream(first) if isinstance(o, Send) and "message_response" in o.text]
    assert finals
    assert all(o.everyone for o in finals)


def test_partials_come_at_least_every_300_ms_of_audio_while_a_phrase_is_open() -> None:
    session = new_session()
    session.receive_text(json.dumps(START))
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav").samples
    frame = 1024
    since_last: float | None = None
    longest = 0.0
    for start in range(0, audio.size, frame):
        outputs = session.receive_audio(audio[start : start + frame].astype("<i2").tobytes())
        kinds = [kind(m) for m in sent(outputs)]
        if since_last is not None:
            since_last += frame / 16000
        if "recognition_result" in kinds:
            if since_last is not None:
                longest = max(longest, since_last)
            since_last = 0.0
        if "message_response" in kinds:
            since_last = None
    assert 0 < longest <= 0.3 + frame / 16000


@pytest.mark.parametrize("opener", ["[", '{"type":'])
def test_json_nested_past_the_limit_gets_an_error_and_the_session_goes_on(opener: str) -> None:
    session = new_session()
    (reply,) = sent(session.receive_text(opener * 5000))
    assert kind(reply) == "error"
    assert reply["message"]["message"] == "Invalid message"
    assert "nested deeper than 64 levels" in reply["message"]["details"]
    assert kind(sent(session.receive_text(json.dumps(START)))[0]) == "conversation_created"

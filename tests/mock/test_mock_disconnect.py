"""disconnectOnStopRequest: false, in the pure session: which stop a timeout belongs to, and
what it closes. (Through a real socket: tests/mock/test_start_options.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from harness.protocol import StartRequest
from harness.session_folder.transcript import read_transcript
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.session.conversation import Close, Output, Send, StopTimeout, Store
from mock_symbl.session.ids import IdSource
from mock_symbl.session.streaming import State, StreamingSession

from helpers import FIXTURES, start_request

TRANSCRIPT = read_transcript(FIXTURES / "standup" / "transcript.json")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STOP = json.dumps({"type": "stop_request"})


def transcript_engine(request: StartRequest, connection_id: str) -> Recognizer:
    return TranscriptRecognizer(TRANSCRIPT)


def new_session() -> StreamingSession:
    return StreamingSession(
        connection_id="c1",
        app_key="app",
        conversations={},
        engines=transcript_engine,
        ids=IdSource(1),
        now=lambda: NOW,
    )


def start(**top: Any) -> str:
    return json.dumps(start_request(16000, **top))


def timeouts(outputs: list[Output]) -> list[StopTimeout]:
    return [o for o in outputs if isinstance(o, StopTimeout)]


def kinds(outputs: list[Output]) -> list[str]:
    out = []
    for o in outputs:
        if isinstance(o, Send):
            frame = json.loads(o.text)
            out.append(frame["message"]["type"] if frame["type"] == "message" else frame["type"])
    return out


def test_only_the_latest_stop_s_timeout_closes_a_stopped_socket() -> None:
    session = new_session()
    session.receive_text(start(disconnectOnStopRequest=False, disconnectOnStopRequestTimeout=5))
    first = session.receive_text(STOP)
    assert kinds(first)[-2:] == ["conversation_completed", "recognition_stopped"]
    assert not any(isinstance(o, Close) for o in first)
    (early,) = timeouts(first)
    assert early.seconds == 5
    session.receive_text(start(disconnectOnStopRequest=False, disconnectOnStopRequestTimeout=1))
    # The first stop's time runs out while the socket streams again: nothing happens.
    assert session.stop_timeout_elapsed(early) == []
    assert session.state is State.STREAMING
    (late,) = timeouts(session.receive_text(STOP))
    assert late.seconds == 1
    # Stopped again, an older stop's timeout still closes nothing.
    assert session.stop_timeout_elapsed(early) == []
    closing = session.stop_timeout_elapsed(late)
    closes = [o for o in closing if isinstance(o, Close)]
    assert closes == [Close(1000, "disconnectOnStopRequestTimeout: no start_request within 1 s")]
    # The conversation ends when its last socket goes.
    assert any(isinstance(o, Store) and isinstance(o.record, str) for o in closing)
    assert session.state is State.CLOSED


def test_a_resumed_start_times_its_words_after_the_audio_before_it() -> None:
    session = new_session()
    session.receive_text(start(disconnectOnStopRequest=False))
    # Quarter seconds of silence: the transcript engine hears its words by the time passed.
    silence = np.zeros(4000, dtype="<i2").tobytes()
    for _ in range(12):
        session.receive_audio(silence)
    session.receive_text(STOP)
    session.receive_text(start(disconnectOnStopRequest=False))
    outputs = []
    for _ in range(32):
        outputs += session.receive_audio(silence)
    words = [
        json.loads(o.text)["message"]["payload"]["raw"]["alternatives"][0]["words"]
        for o in outputs
        if isinstance(o, Send) and '"recognition_result"' in o.text
    ]
    first = words[0][0]["startTime"]
    heard_at = int(first["seconds"]) + int(first["nanos"]) / 1e9
    assert heard_at == pytest.approx(3 + TRANSCRIPT.phrases[0].words[0].start, abs=1e-3)


def test_the_default_keeps_a_stopped_socket_1800_s_and_zero_closes_at_the_stop() -> None:
    kept = new_session()
    kept.receive_text(start(disconnectOnStopRequest=False))
    assert [t.seconds for t in timeouts(kept.receive_text(STOP))] == [1800]
    dropped = new_session()
    dropped.receive_text(start(disconnectOnStopRequest=False, disconnectOnStopRequestTimeout=0))
    closed = dropped.receive_text(STOP)
    assert [o.code for o in closed if isinstance(o, Close)] == [1000]
    assert timeouts(closed) == []

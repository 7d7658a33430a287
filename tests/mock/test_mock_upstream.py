"""The upstream fallback, over real sockets: a miss is answered by a second mock standing in
for the hosted API (its transcript engine answers the same words every time), recorded,
and matched from then on; ids are the front mock's; an upstream that fails is one error;
the upstream's token goes nowhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
import websockets

from harness.audio.pcm import resample
from harness.session_folder.log import read_session
from mock_symbl import Answers, Faults, JournalEntry, MockConfig, OnMiss, RunningMock, running_mock

from helpers import FIXTURES, conversation_id, kind, start_request, stream_session, token

FRONT = ("f" * 64, "g" * 128)
UPSTREAM = ("u" * 64, "v" * 128)


def hot() -> tuple[np.ndarray, int]:
    audio, rate = sf.read(FIXTURES / "hot" / "audio.wav", dtype="int16")
    return audio, rate


def texts(received: list[dict[str, Any]]) -> list[str]:
    return [
        m["payload"]["content"]
        for message in received
        if kind(message) == "message_response"
        for m in message["messages"]
    ]


def errors(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["message"] for m in received if m["type"] == "message" and kind(m) == "error"]


def values_of(value: Any, key: str) -> list[Any]:
    """Every value under `key`, at any depth."""
    if isinstance(value, dict):
        own = [value[key]] if key in value else []
        return own + [v for item in value.values() for v in values_of(item, key)]
    if isinstance(value, list):
        return [v for item in value for v in values_of(item, key)]
    return []


def stream(
    mock: RunningMock, app: tuple[str, str], audio: np.ndarray, rate: int
) -> tuple[str, list[dict[str, Any]]]:
    """Stream audio under a fresh connection id; (the id, what came back)."""
    connection_id = str(uuid.uuid4())
    url = f"{mock.ws_url}/v1/streaming/{connection_id}?access_token={token(mock.base_url, *app)}"
    received, code, _ = asyncio.run(stream_session(url, start_request(rate), audio))
    assert code == 1000
    return connection_id, received


def entry_of(mock: RunningMock, connection_id: str) -> JournalEntry:
    (entry,) = [e for e in mock.journal(settle_s=60) if e.connection_id == connection_id]
    return entry


@pytest.fixture
def upstream() -> Iterator[RunningMock]:
    config = MockConfig(
        engine="transcript", transcripts=(FIXTURES / "hot",), apps=dict([UPSTREAM]), seed=5
    )
    with running_mock(config) as mock:
        yield mock


@pytest.fixture
def upstream_token(upstream: RunningMock) -> str:
    return token(upstream.base_url, *UPSTREAM)


def front(answers: Answers) -> Any:
    return running_mock(MockConfig(apps=dict([FRONT]), answers=answers, seed=3))


def test_a_miss_is_answered_by_the_upstream_saved_and_matches_from_then_on(
    upstream: RunningMock, upstream_token: str, tmp_path: Path
) -> None:
    audio, rate = hot()
    _, alone = stream(upstream, UPSTREAM, audio, rate)
    assert texts(alone)
    upstream.forget()
    recordings = tmp_path / "recordings"
    answers = Answers(
        OnMiss.RECORD,
        recordings,
        upstream=upstream.base_url,
        upstream_token=lambda: upstream_token,
    )
    with front(answers) as mock:
        first_id, first = stream(mock, FRONT, audio, rate)
        assert texts(first) == texts(alone)
        assert errors(first) == []
        entry = entry_of(mock, first_id)
        assert entry.matched is False and entry.fallback == "upstream"
        assert entry.recorded_to is not None and entry.recorded_to.parent == recordings
        assert read_session(entry.recorded_to).complete

        second_id, second = stream(mock, FRONT, audio, rate)
        again = entry_of(mock, second_id)
        assert again.matched and again.recording == entry.recorded_to.resolve()
        assert again.fallback is None
        assert texts(second) == texts(first)
    assert len(upstream.journal(settle_s=60)) == 1


def test_the_client_sees_the_front_mocks_conversation_id_everywhere(
    upstream: RunningMock, upstream_token: str
) -> None:
    audio, rate = hot()
    answers = Answers(
        OnMiss.ENGINES, upstream=upstream.ws_url, upstream_token=lambda: upstream_token
    )
    with front(answers) as mock:
        _, received = stream(mock, FRONT, audio, rate)
        mine = conversation_id(received)
        headers = {"Authorization": f"Bearer {token(mock.base_url, *FRONT)}"}
        stored = httpx.get(
            f"{mock.base_url}/v1/conversations/{mine}/messages", headers=headers
        ).json()
    (served,) = upstream.journal(settle_s=60)
    assert served.conversation_id is not None and served.conversation_id != mine
    assert set(values_of(received, "conversationId")) == {mine}
    assert served.conversation_id not in json.dumps(received)
    assert [m["text"] for m in stored["messages"]] == texts(received)
    assert {m["conversationId"] for m in stored["messages"]} == {mine}


def test_the_upstream_gets_the_audio_as_linear16_at_the_clients_rate(
    upstream: RunningMock, upstream_token: str
) -> None:
    audio, rate = hot()
    narrow = resample(audio, rate, 8000)
    mulaw = io.BytesIO()
    sf.write(mulaw, narrow, 8000, format="RAW", subtype="ULAW")
    start = start_request(8000)
    start["config"]["speechRecognition"]["encoding"] = "MULAW"
    answers = Answers(
        OnMiss.ENGINES, upstream=upstream.ws_url, upstream_token=lambda: upstream_token
    )

    async def client(url: str) -> list[dict[str, Any]]:
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(json.dumps(start))
            data = mulaw.getvalue()
            for offset in range(0, len(data), 1024):
                await ws.send(data[offset : offset + 1024])
            await ws.send(json.dumps({"type": "stop_request"}))
            return [json.loads(message) async for message in ws]

    with front(answers) as mock:
        key = token(mock.base_url, *FRONT)
        received = asyncio.run(client(f"{mock.ws_url}/v1/streaming/narrow?access_token={key}"))
    (served,) = upstream.journal(settle_s=60)
    assert served.start_request is not None
    assert served.start_request["config"]["speechRecognition"] == {
        "encoding": "LINEAR16",
        "sampleRateHertz": 8000,
    }
    assert served.start_request["disconnectOnStopRequest"] is True
    assert served.connection_id == "narrow"
    assert texts(received) and errors(received) == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert all(record.exc_info is None for record in caplog.records)
    assert "Traceback" not in caplog.text


def test_an_unreachable_upstream_is_one_error_and_a_normal_end(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING)
    audio, rate = hot()
    recordings = tmp_path / "recordings"
    answers = Answers(
        OnMiss.RECORD,
        recordings,
        upstream=f"ws://127.0.0.1:{closed_port()}",
        upstream_token=lambda: "an-upstream-token",
    )
    with front(answers) as mock:
        connection_id, received = stream(mock, FRONT, audio, rate)
        entry = entry_of(mock, connection_id)
    (error,) = errors(received)
    assert error["details"].startswith("Upstream unavailable: cannot connect to ws://127.0.0.1")
    assert [kind(m) for m in received][-2:] == ["conversation_completed", "recognition_stopped"]
    assert texts(received) == []
    assert entry.matched is False and entry.error == error["details"]
    assert entry.recorded_to is None
    assert not recordings.exists() or not any(recordings.iterdir())
    assert "Upstream unavailable" in caplog.text
    assert_no_traceback(caplog)


def test_an_upstream_that_refuses_the_token_is_one_error_without_the_token(
    upstream: RunningMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    audio, rate = hot()
    refused = "not-a-token-the-upstream-knows"
    answers = Answers(OnMiss.ENGINES, upstream=upstream.ws_url, upstream_token=lambda: refused)
    with front(answers) as mock:
        connection_id, received = stream(mock, FRONT, audio, rate)
        entry = entry_of(mock, connection_id)
    (error,) = errors(received)
    assert "refused the connection (HTTP 401)" in error["details"]
    assert entry.error == error["details"]
    assert refused not in json.dumps(received) + caplog.text
    assert_no_traceback(caplog)


def test_an_upstream_that_drops_the_connection_is_one_error_and_no_recording(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING)
    audio, rate = hot()
    config = MockConfig(
        engine="transcript",
        transcripts=(FIXTURES / "hot",),
        apps=dict([UPSTREAM]),
        faults=Faults(drop_after_frames=40),
    )
    recordings = tmp_path / "recordings"
    with running_mock(config) as dropping:
        key = token(dropping.base_url, *UPSTREAM)
        answers = Answers(
            OnMiss.RECORD, recordings, upstream=dropping.ws_url, upstream_token=lambda: key
        )
        with front(answers) as mock:
            connection_id, received = stream(mock, FRONT, audio, rate)
            entry = entry_of(mock, connection_id)
    (error,) = errors(received)
    assert error["details"].startswith("Upstream unavailable: the connection to ws://")
    assert kind(received[-1]) == "recognition_stopped"
    assert entry.error == error["details"] and entry.recorded_to is None
    assert not recordings.exists() or not any(recordings.iterdir())
    assert_no_traceback(caplog)


def test_the_upstreams_token_is_in_no_recording_journal_or_log(
    upstream: RunningMock,
    upstream_token: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mock_symbl")
    audio, rate = hot()
    recordings = tmp_path / "recordings"
    answers = Answers(
        OnMiss.RECORD, recordings, upstream=upstream.ws_url, upstream_token=lambda: upstream_token
    )
    with front(answers) as mock:
        connection_id, received = stream(mock, FRONT, audio, rate)
        entry = entry_of(mock, connection_id)
        listed = httpx.get(
            f"{mock.base_url}/v1/mock/sessions",
            headers={"x-api-key": token(mock.base_url, *FRONT)},
        ).text
    assert entry.recorded_to is not None
    written = b"".join(p.read_bytes() for p in recordings.rglob("*") if p.is_file())
    assert texts(received) and written
    for secret in (upstream_token, upstream_token[-24:]):
        assert secret.encode() not in written
        assert secret not in listed
        assert secret not in json.dumps(received)
        assert secret not in caplog.text

"""Any client, any connection id: the recording its audio matches answers it.

The matching engine alone (sans I/O: where each recorded event is released), then the mock
over real sockets: matches, misses with and without a fallback, recording on a miss, the
journal, and REST calls answered from a recording's rest.jsonl.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
import websockets

from harness.audio.pcm import resample, seed_float_to_int16
from harness.protocol import StartRequest
from harness.session_folder.log import TextFrame, read_session
from mock_symbl import Answers, MockConfig, OnMiss, RunningMock, running_mock
from mock_symbl.engines.base import Replayed, Verdict
from mock_symbl.engines.library import RecordingLibrary
from mock_symbl.engines.matching import Fallback, MatchingRecognizer
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.engines.whisper_model import available as whisper_available
from mock_symbl.web.ws import Watchers

from helpers import FIXTURES, kind, start_request, stream_session, token

APP = ("app", "s3cret-app-secret")
NAMES = ("feedback", "hot", "standup", "support-call")


def fixture_audio(name: str) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(FIXTURES / name / "audio.wav", dtype="int16")
    return audio, rate


def recorded_texts(folder: Path) -> list[str]:
    return [m["payload"]["content"] for m in read_session(folder).messages()]


def texts(received: list[dict[str, Any]]) -> list[str]:
    return [
        m["payload"]["content"]
        for message in received
        if kind(message) == "message_response"
        for m in message["messages"]
    ]


def library() -> RecordingLibrary:
    found = RecordingLibrary()
    found.add_all([FIXTURES])
    return found


# The engine alone.


def test_each_recorded_event_is_released_at_its_audio_position_shifted_by_the_match() -> None:
    log = read_session(FIXTURES / "standup")
    audio, rate = fixture_audio("standup")
    trim = int(1.5 * rate)
    engine = MatchingRecognizer(library(), "fresh-id", StartRequest(sample_rate_hertz=rate))
    engine.bind("1234567890123456", datetime.now(UTC), lambda: str(uuid.uuid4()))
    released: list[tuple[int, Any]] = []
    sent = 0
    for start in range(trim, audio.size, 1024):
        chunk = audio[start : start + 1024]
        sent += chunk.size
        released += [(sent, item) for item in engine.accept(chunk, rate)]
    released += [(sent, item) for item in engine.finish()]
    (verdict,) = [item for _, item in released if isinstance(item, Verdict)]
    assert verdict.recording == str((FIXTURES / "standup").resolve())
    assert verdict.by == "audio"
    assert verdict.offset_s == pytest.approx(1.5, abs=0.05)
    positions = [
        frame.position
        for frame in log.received()
        if kind(frame.data) == "message_response"
        and frame.position <= log.audio_frames()[-1].offset
    ]
    replayed = [
        (at, item)
        for at, item in released
        if isinstance(item, Replayed) and item.kind == "message_response"
    ]
    assert len(replayed) >= len(positions) > 0
    for (at, _), position in zip(replayed, positions, strict=False):
        # Never before the client reached the recorded position (its audio starts 1.5 s in).
        assert at + trim >= position - 1024
    assert [m["payload"]["content"] for _, r in replayed for m in r.message["messages"]] == (
        recorded_texts(FIXTURES / "standup")
    )


def test_a_miss_without_a_fallback_is_refused_with_the_closest_recording() -> None:
    noise = np.random.default_rng(5).normal(0, 2000, 16000 * 3).astype(np.int16)
    engine = MatchingRecognizer(library(), "x", StartRequest(sample_rate_hertz=16000))
    out = [*engine.accept(noise, 16000), *engine.finish()]
    (verdict,) = out
    assert isinstance(verdict, Verdict)
    assert verdict.recording is None
    assert verdict.refusal is not None
    assert "No recording matches this audio" in verdict.refusal
    assert "recordings loaded" in verdict.refusal


def test_a_miss_with_a_fallback_is_answered_by_it_from_the_first_sample() -> None:
    audio, rate = fixture_audio("hot")
    words = FIXTURES / "hot" / "transcript.json"
    from harness.session_folder.transcript import read_transcript

    transcript = read_transcript(words)
    empty = RecordingLibrary()
    engine = MatchingRecognizer(
        empty,
        "x",
        StartRequest(sample_rate_hertz=rate),
        fallback=Fallback("transcript", lambda: TranscriptRecognizer(transcript)),
    )
    out = [
        item
        for start in range(0, audio.size, 1024)
        for item in engine.accept(audio[start : start + 1024], rate)
    ]
    out += engine.finish()
    verdict = out[0]
    assert isinstance(verdict, Verdict) and verdict.fallback == "transcript"
    finals = [h for h in out[1:] if getattr(h, "is_final", False)]
    assert " ".join(h.text for h in finals).lower().split() == [
        w.lower() for w in " ".join(word.word for word in transcript.words).split()
    ]


# The mock, over real sockets.


@pytest.fixture(scope="module")
def library_mock() -> Iterator[RunningMock]:
    config = MockConfig(recordings=(FIXTURES,), apps=dict([APP]), seed=11)
    with running_mock(config) as mock:
        yield mock


def stream(
    mock: RunningMock, audio: np.ndarray, rate: int, **start: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Stream audio under a fresh connection id; (the id, what came back)."""
    connection_id = str(uuid.uuid4())
    url = f"{mock.ws_url}/v1/streaming/{connection_id}?access_token={token(mock.base_url, *APP)}"
    received, code, _ = asyncio.run(stream_session(url, start_request(rate, **start), audio))
    assert code == 1000
    return connection_id, received


def entry_of(mock: RunningMock, connection_id: str) -> Any:
    (entry,) = [e for e in mock.journal(settle_s=60) if e.connection_id == connection_id]
    return entry


def inner(message: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = message["message"] if message["type"] == "message" else message
    return body


@pytest.mark.parametrize(
    ("name", "rate", "gain"),
    [
        ("standup", 44100, 0.5),
        ("hot", 8000, 1.0),
        ("feedback", 16000, 1.8),
        ("support-call", 48000, 1.0),
    ],
)
def test_a_fresh_connection_id_gets_the_recording_its_audio_matches(
    library_mock: RunningMock, name: str, rate: int, gain: float
) -> None:
    audio, recorded_rate = fixture_audio(name)
    heard = np.clip(resample(audio, recorded_rate, rate) * gain, -32768, 32767).astype(np.int16)
    connection_id, received = stream(library_mock, heard, rate)
    assert texts(received) == recorded_texts(FIXTURES / name)
    entry = entry_of(library_mock, connection_id)
    assert entry.matched and entry.by == "audio"
    assert entry.recording == (FIXTURES / name).resolve()
    assert entry.audio is not None
    assert entry.audio.level_db == pytest.approx(20 * np.log10(gain), abs=1.0)
    assert entry.audio.correlation > 0.9
    assert entry.start_request["config"]["speechRecognition"]["sampleRateHertz"] == rate


def test_the_tutorials_float32_conversion_still_matches(library_mock: RunningMock) -> None:
    audio, rate = fixture_audio("standup")
    floats = resample(audio, rate, 44100).astype(np.float32) / 32768
    converted = np.concatenate(
        [seed_float_to_int16(floats[i : i + 1024]) for i in range(0, floats.size, 1024)]
    )
    connection_id, received = stream(library_mock, converted, 44100)
    assert texts(received) == recorded_texts(FIXTURES / "standup")
    assert entry_of(library_mock, connection_id).recording == (FIXTURES / "standup").resolve()


def test_audio_in_no_recording_gets_an_error_naming_the_closest_and_no_words(
    library_mock: RunningMock,
) -> None:
    noise = np.random.default_rng(3).normal(0, 3000, 16000 * 4).astype(np.int16)
    connection_id, received = stream(library_mock, noise, 16000)
    errors = [inner(m) for m in received if kind(m) == "error"]
    assert [e["message"] for e in errors] == ["No matching recording"]
    assert str(FIXTURES) in errors[0]["details"]
    assert not [m for m in received if kind(m) in ("recognition_result", "message_response")]
    entry = entry_of(library_mock, connection_id)
    assert entry.matched is False and entry.recording is None
    assert entry.error == errors[0]["details"]


def test_a_connection_id_naming_one_recording_is_answered_by_it_at_once(
    library_mock: RunningMock, tmp_path: Path
) -> None:
    folder = tmp_path / "hot"
    shutil.copytree(FIXTURES / "hot", folder, ignore=shutil.ignore_patterns("transcript.json"))
    library_mock.learn(folder, "named-hot")
    audio, rate = fixture_audio("hot")
    key = token(library_mock.base_url, *APP)
    url = f"{library_mock.ws_url}/v1/streaming/named-hot?access_token={key}"
    received, _, _ = asyncio.run(stream_session(url, start_request(rate), audio))
    assert texts(received) == recorded_texts(FIXTURES / "hot")
    entry = entry_of(library_mock, "named-hot")
    assert entry.by == "connection_id"
    assert entry.audio is not None and entry.audio.correlation > 0.99


def test_the_journal_route_needs_the_apps_token_and_lists_its_connections(
    library_mock: RunningMock,
) -> None:
    audio, rate = fixture_audio("hot")
    connection_id, _ = stream(library_mock, audio, rate)
    route = f"{library_mock.base_url}/v1/mock/sessions"
    assert httpx.get(route).status_code == 401
    listed = httpx.get(route, headers={"x-api-key": token(library_mock.base_url, *APP)}).json()
    (entry,) = [s for s in listed["sessions"] if s["connectionId"] == connection_id]
    assert entry["answer"]["matched"] is True
    assert entry["answer"]["recording"].endswith("hot")
    assert "faster_than_real_time" in entry["conformance"]["findings"]
    assert entry["closed"] is not None
    assert APP[1] not in json.dumps(listed)


def test_a_miss_answered_by_the_engines_is_saved_and_matches_from_then_on(
    tmp_path: Path,
) -> None:
    recordings = tmp_path / "recordings"
    config = MockConfig(
        recordings=(),
        apps=dict([APP]),
        answers=Answers(OnMiss.RECORD, recordings, expires_days=30),
    )
    audio, rate = fixture_audio("hot")
    with running_mock(config) as mock:
        mock.engines.transcripts.clear()
        first_id, first = stream(mock, audio, rate)
        entry = entry_of(mock, first_id)
        assert entry.matched is False
        assert entry.fallback == ("whisper" if whisper_available() else "asr")
        assert entry.recorded_to is not None and entry.recorded_to.parent == recordings
        saved = read_session(entry.recorded_to)
        assert saved.complete
        sent = np.concatenate([saved.audio_of(f) for f in saved.audio_frames()])
        assert np.array_equal(sent, audio)
        assert saved.header["expires"] > saved.header["created"]
        on_disk = "".join(p.read_text(errors="replace") for p in entry.recorded_to.glob("*.json*"))
        assert token(mock.base_url, *APP)[:12] not in on_disk

        conversation = entry.conversation_id
        headers = {"Authorization": f"Bearer {token(mock.base_url, *APP)}"}
        asked = httpx.get(
            f"{mock.base_url}/v1/conversations/{conversation}/messages", headers=headers
        )
        assert asked.status_code == 200
        (call,) = [
            json.loads(line) for line in (entry.recorded_to / "rest.jsonl").read_text().splitlines()
        ]
        assert (call["method"], call["status"]) == ("GET", 200)
        assert call["response"] == asked.json()

        second_id, second = stream(mock, audio, rate)
        again = entry_of(mock, second_id)
        assert again.matched and again.recording == entry.recorded_to.resolve()
        assert texts(second) == texts(first)
    assert [p.name for p in recordings.iterdir()] == [entry.recorded_to.name]


def test_rest_calls_on_a_recorded_conversation_are_answered_from_its_rest_log(
    tmp_path: Path,
) -> None:
    recording = tmp_path / "meeting"
    shutil.copytree(FIXTURES / "hot", recording)
    (recording / "transcript.json").unlink()
    log = read_session(recording)
    recorded_id = next(
        f.data["message"]["data"]["conversationId"]
        for f in log.received()
        if isinstance(f, TextFrame) and kind(f.data) == "conversation_created"
    )
    answer = {
        "messages": [
            {"id": "m-1", "text": "What the hosted API said.", "conversationId": recorded_id}
        ]
    }
    call = {
        "t": 0, "method": "GET", "path": f"/v1/conversations/{recorded_id}/messages",
        "query": "sentiment=true", "status": 200, "response": answer,
    }  # fmt: skip
    (recording / "rest.jsonl").write_text(json.dumps(call) + "\n")
    audio, rate = fixture_audio("hot")
    with running_mock(MockConfig(recordings=(recording,), apps=dict([APP]))) as mock:
        connection_id, received = stream(mock, audio, rate)
        conversation = next(
            m["message"]["data"]["conversationId"]
            for m in received
            if kind(m) == "conversation_created"
        )
        headers = {"Authorization": f"Bearer {token(mock.base_url, *APP)}"}
        base = f"{mock.base_url}/v1/conversations/{conversation}"
        replayed = httpx.get(f"{base}/messages?sentiment=true", headers=headers)
        computed = httpx.get(f"{base}/messages", headers=headers)
        entry = entry_of(mock, connection_id)
        # A recorded change is not replayed: the conversation really goes.
        (recording / "rest.jsonl").write_text(
            json.dumps({**call, "method": "DELETE", "path": f"/v1/conversations/{recorded_id}"})
            + "\n"
        )
        deleted = httpx.delete(base, headers=headers)
        gone = httpx.get(f"{base}/messages", headers=headers)
    assert replayed.status_code == 200
    assert replayed.json()["messages"][0]["text"] == "What the hosted API said."
    assert replayed.json()["messages"][0]["conversationId"] == conversation
    assert computed.json()["messages"][0]["text"] != "What the hosted API said."
    assert [(c["path"].rsplit("/", 1)[-1], c["answeredFrom"]) for c in entry.rest] == [
        ("messages", "recording"),
        ("messages", "mock"),
    ]
    assert deleted.status_code == 200
    assert gone.status_code == 404


def test_a_miss_is_answered_from_the_first_sample_after_its_rate_changed() -> None:
    heard: list[tuple[int, int]] = []

    class Listener:
        def accept(self, samples: np.ndarray, rate: int) -> list[Any]:
            heard.append((samples.size, rate))
            return []

        def finish(self) -> list[Any]:
            return []

    engine = MatchingRecognizer(
        RecordingLibrary(), "x", StartRequest(), fallback=Fallback("listener", Listener)
    )
    speech = np.random.default_rng(1).normal(0, 3000, 8000).astype(np.int16)
    assert engine.accept(speech, 16000) == []
    out = engine.accept(speech[:4000], 8000)
    assert isinstance(out[0], Verdict) and out[0].fallback == "listener"
    assert heard == [(8000, 16000), (4000, 8000)]


def test_rest_calls_of_another_app_or_without_a_token_are_not_noted_nor_recorded(
    tmp_path: Path,
) -> None:
    other = ("other-app", "other-app-secret")
    recordings = tmp_path / "recordings"
    config = MockConfig(apps=dict([APP, other]), answers=Answers(OnMiss.RECORD, recordings), seed=5)
    audio, rate = fixture_audio("hot")
    with running_mock(config) as mock:
        mock.engines.transcripts.clear()
        connection_id, received = stream(mock, audio, rate)
        conversation = next(
            m["message"]["data"]["conversationId"]
            for m in received
            if kind(m) == "conversation_created"
        )
        recorded_to = entry_of(mock, connection_id).recorded_to
        assert recorded_to is not None
        messages = f"{mock.base_url}/v1/conversations/{conversation}/messages"
        theirs = {"Authorization": f"Bearer {token(mock.base_url, *other)}"}
        assert httpx.get(messages, headers=theirs).status_code == 404
        assert httpx.get(messages, headers={"Authorization": "Bearer nonsense"}).status_code == 401
        mine = {"Authorization": f"Bearer {token(mock.base_url, *APP)}"}
        assert httpx.get(messages, headers=mine).status_code == 200
        entry = entry_of(mock, connection_id)
    assert [call["status"] for call in entry.rest] == [200]
    saved = (recorded_to / "rest.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in saved] == [200]


async def _stream_answered_elsewhere_midway(
    mock: RunningMock, audio: np.ndarray, rate: int
) -> None:
    """Stream half the audio, have the mock answer from other recordings, stream the rest."""
    url = f"{mock.ws_url}/v1/streaming/midway?access_token={token(mock.base_url, *APP)}"
    pcm = audio.astype("<i2")
    half = pcm.size // 2
    async with websockets.connect(url, max_size=None) as socket:
        await socket.send(json.dumps(start_request(rate)))
        for offset in range(0, half, 1024):
            await socket.send(pcm[offset : min(offset + 1024, half)].tobytes())
        mock.answer_from([])
        for offset in range(half, pcm.size, 1024):
            await socket.send(pcm[offset : offset + 1024].tobytes())
        await socket.send(json.dumps({"type": "stop_request"}))
        async for _ in socket:
            pass


def test_a_miss_still_streaming_when_the_mock_is_told_to_answer_otherwise_leaves_no_tape(
    tmp_path: Path,
) -> None:
    recordings = tmp_path / "recordings"
    config = MockConfig(apps=dict([APP]), answers=Answers(OnMiss.RECORD, recordings))
    audio, rate = fixture_audio("hot")
    with running_mock(config) as mock:
        mock.engines.transcripts.clear()
        asyncio.run(_stream_answered_elsewhere_midway(mock, audio, rate))
        (entry,) = mock.journal(settle_s=60)
    assert entry.closed is not None
    assert entry.recorded_to is not None
    assert [p.name for p in recordings.iterdir()] == [entry.recorded_to.name]


def test_a_connection_cut_short_closes_its_journal_entry_and_drops_its_tape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recordings = tmp_path / "recordings"
    config = MockConfig(apps=dict([APP]), answers=Answers(OnMiss.RECORD, recordings))

    async def cut_short(*_: Any, seen: Watchers, **__: Any) -> None:
        # What a server that stops mid-connection does to its handler, once it has taped.
        assert seen.tape is not None
        seen.tape.add("send_text", json.dumps(start_request(16000)))
        seen.tape.add("send_audio", bytes(3200))
        raise asyncio.CancelledError

    async def connect(url: str) -> None:
        # The handler ends without a closing handshake.
        with contextlib.suppress(websockets.ConnectionClosed):
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps(start_request(16000)))
                async for _ in socket:
                    pass

    with running_mock(config) as mock:
        monkeypatch.setattr(mock.streaming, "_serve", cut_short)
        asyncio.run(
            connect(f"{mock.ws_url}/v1/streaming/cut?access_token={token(mock.base_url, *APP)}")
        )
        (entry,) = mock.journal(settle_s=60)
    assert entry.closed is not None
    assert entry.recorded_to is None
    assert not recordings.exists() or not any(recordings.iterdir())


def twin(folder: Path, speaker: str) -> Path:
    """The hot fixture's recording again (same audio), its client named `speaker`."""
    shutil.copytree(FIXTURES / "hot", folder, ignore=shutil.ignore_patterns("transcript.json"))
    events = folder / "events.jsonl"
    records = [json.loads(line) for line in events.read_text().splitlines()]
    for record in records:
        if (record.get("data") or {}).get("type") == "start_request":
            record["data"]["speaker"] = {"name": speaker}
    events.write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_a_tie_goes_to_the_recording_the_connection_id_names_then_the_closer_start_request(
    tmp_path: Path,
) -> None:
    from harness.audio.fingerprint import fingerprint
    from harness.protocol import Speaker

    first, second = twin(tmp_path / "a" / "standup", "Ann"), twin(tmp_path / "b" / "retro", "Bo")
    found = RecordingLibrary()
    found.add_all([tmp_path])
    audio, rate = fixture_audio("hot")
    query = fingerprint(audio[: 3 * rate], rate)
    for connection_id, speaker, expected in [
        ("retro", "Ann", second),
        ("standup", "Bo", first),
        ("someone-else", "Bo", second),
        ("someone-else", "Ann", first),
    ]:
        request = StartRequest(sample_rate_hertz=rate, speaker=Speaker(name=speaker))
        best, _ = found.choose(query, connection_id, request)
        assert best is not None and best.key == str(expected.resolve())

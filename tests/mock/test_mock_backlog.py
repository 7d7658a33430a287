"""A mock whose recognition is behind still reads its sockets, and catches up by rule."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import subprocess
from typing import Any

import numpy as np
import pytest
import websockets

from harness.session_folder.wavfile import read_pcm16
from mock_symbl import Backlog, MockConfig, running_mock
from mock_symbl.engines.asr import AsrRecognizer, DecoderPool
from mock_symbl.engines.base import Hypothesis, Pace
from mock_symbl.session.backlog import DataRate, asks_to_stop, audio_seconds

from helpers import FIXTURES, kind, start_request, token

RULES = Backlog(behind_after_s=2.0, max_lag_s=30.0, stop_within_s=15.0, max_queued_bytes=1000)


@pytest.mark.parametrize(
    ("waited", "queued", "stopping", "pace"),
    [
        (0.0, 0, None, Pace.NORMAL),
        (1.9, 1000, None, Pace.NORMAL),
        (2.0, 0, None, Pace.BEHIND),
        (29.9, 0, 14.9, Pace.BEHIND),
        (30.0, 0, None, Pace.SKIM),
        (0.0, 1001, None, Pace.SKIM),
        (0.0, 0, 15.0, Pace.SKIM),
    ],
)
def test_pace_follows_how_long_the_frame_waited(
    waited: float, queued: int, stopping: float | None, pace: Pace
) -> None:
    assert RULES.pace(waited, queued, stopping) is pace


def test_a_patient_backlog_never_sheds() -> None:
    assert Backlog.patient().pace(1e9, 1 << 40, 1e9) is Pace.NORMAL


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ('{"type":"stop_request"}', True),
        ("{'type': 'stop_request'}", True),
        ('{"type": "stop_recognition"}', True),
        ('{"type":"start_request","meetingTitle":"stop_request"}', False),
        ("[" * 3000 + '"stop_request"' + "]" * 3000, False),
        ("stop_request", False),
    ],
)
def test_a_stop_request_is_told_apart_cheaply(text: str, stop: bool) -> None:
    assert asks_to_stop(text) is stop


def test_audio_seconds_are_known_for_uncompressed_encodings_only() -> None:
    assert audio_seconds(32000, "LINEAR16", 16000) == 1.0
    assert audio_seconds(8000, "MULAW", 8000) == 1.0
    assert audio_seconds(1000, "FLAC", 16000) is None


def test_data_rate_allows_a_burst_then_the_ratio() -> None:
    rate = DataRate(2.0, burst_s=1.0)
    # A second of audio at once is the burst; then 2 s of audio per wall second pass.
    assert not rate.too_fast(0.0, 1.0)
    assert not rate.too_fast(0.5, 1.0)
    assert not rate.too_fast(1.0, 1.0)
    assert rate.too_fast(1.1, 1.0)


def recognise(
    recognizer: AsrRecognizer, samples: np.ndarray, rate: int, skim: tuple[float, float] | None
) -> list[Hypothesis]:
    out: list[Hypothesis] = []
    step = rate // 50
    for start in range(0, samples.size, step):
        chunk = samples[start : start + step]
        if skim and skim[0] <= start / rate < skim[1]:
            out += recognizer.skim(chunk, rate)
        else:
            out += recognizer.accept(chunk, rate)
    return out + recognizer.finish()


def test_skimmed_audio_keeps_the_times_of_the_words_after_it() -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    full = recognise(AsrRecognizer(), audio.samples, audio.sample_rate, None)
    skimmed = recognise(AsrRecognizer(), audio.samples, audio.sample_rate, (4.0, 12.0))
    finals = [h for h in skimmed if h.is_final]
    assert len(finals) < len([h for h in full if h.is_final])
    # Nothing is said from inside the skimmed stretch (a phrase open at its start ends there),
    # and the phrases after it start where they do in a full decode, not 8 s early.
    assert not [h for h in finals if 4.0 < h.words[0].start < 12.0]
    later = {round(h.words[0].start): h for h in full if h.is_final and h.words[0].start > 13}
    after = [h for h in finals if h.words[0].start > 13]
    assert after
    for phrase in after:
        same = later[round(phrase.words[0].start)]
        assert math.isclose(phrase.words[0].start, same.words[0].start, abs_tol=0.25)


def test_behind_a_phrase_gets_no_partials_and_the_cheap_decode() -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    recognizer = AsrRecognizer(DecoderPool(full=0))
    recognizer.set_pace(Pace.BEHIND)
    out = recognise(recognizer, audio.samples, audio.sample_rate, None)
    assert out
    assert all(h.is_final for h in out)


def test_more_streams_than_full_decoders_are_all_recognised() -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    pool = DecoderPool(full=1)
    first, second = AsrRecognizer(pool), AsrRecognizer(pool)
    outs: tuple[list[Hypothesis], list[Hypothesis]] = ([], [])
    step = audio.sample_rate // 50
    for start in range(0, audio.samples.size, step):
        chunk = audio.samples[start : start + step]
        outs[0].extend(first.accept(chunk, audio.sample_rate))
        outs[1].extend(second.accept(chunk, audio.sample_rate))
    outs[0].extend(first.finish())
    outs[1].extend(second.finish())
    # The first holds the one full decoder through every phrase; the second buffers.
    assert any(not h.is_final for h in outs[0])
    assert [h for h in outs[1] if h.is_final]
    assert all(h.is_final for h in outs[1])


async def _ping_while_recognising(url: str, pcm: bytes, rate: int) -> tuple[int, int, int]:
    """Send the audio at once, ping, and count the finals that came before the pong."""
    finals = 0
    async with websockets.connect(url, ping_interval=None, max_size=None) as socket:
        await socket.send(json.dumps(start_request(rate)))
        for offset in range(0, len(pcm), 2048):
            await socket.send(pcm[offset : offset + 2048])
        pong = await socket.ping()

        async def count() -> None:
            nonlocal finals
            async for frame in socket:
                message: dict[str, Any] = json.loads(frame)
                if kind(message) == "message_response":
                    finals += 1

        counter = asyncio.create_task(count())
        await pong
        before = finals
        await socket.send(json.dumps({"type": "stop_request"}))
        await asyncio.wait_for(counter, 600)
        return before, finals, socket.close_code or 0


def test_a_ping_is_answered_while_recognition_is_far_behind() -> None:
    audio = read_pcm16(FIXTURES / "support-call" / "audio.wav")
    with running_mock(MockConfig(engine="asr", backlog=Backlog.patient())) as mock:
        url = f"{mock.streaming_url('pinged')}?access_token={token(mock.base_url)}"
        before, finals, code = asyncio.run(
            _ping_while_recognising(url, audio.samples.tobytes(), audio.sample_rate)
        )
    # The pong overtook recognition of the audio sent before the ping.
    assert before < finals
    assert code == 1000


def test_a_stop_is_answered_before_a_backlog_is_recognised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    audio = read_pcm16(FIXTURES / "support-call" / "audio.wav")
    backlog = Backlog(stop_within_s=0.01)
    caplog.set_level(logging.WARNING, logger="mock_symbl")
    with running_mock(MockConfig(engine="asr", backlog=backlog)) as mock:
        url = f"{mock.streaming_url('hurried')}?access_token={token(mock.base_url)}"
        received = asyncio.run(_stream_and_stop(url, audio.samples.tobytes(), audio.sample_rate))
    kinds = [kind(m) for m in received[0]]
    assert "recognition_stopped" in kinds
    assert received[1] == 1000
    assert any("passed unrecognised" in r.getMessage() for r in caplog.records)


async def _stream_and_stop(url: str, pcm: bytes, rate: int) -> tuple[list[dict[str, Any]], int]:
    received: list[dict[str, Any]] = []
    async with websockets.connect(url, max_size=None) as socket:
        await socket.send(json.dumps(start_request(rate)))
        for offset in range(0, len(pcm), 2048):
            await socket.send(pcm[offset : offset + 2048])
        await socket.send(json.dumps({"type": "stop_request"}))
        async for frame in socket:
            received.append(json.loads(frame))
        return received, socket.close_code or 0


async def _leave_a_backlog(port: int, access: str) -> list[Any]:
    """Two sessions with seconds of noise queued for recognition, left open."""
    noise = np.random.default_rng(0).normal(0, 3000, 1024).astype("<i2").tobytes()
    sockets = []
    for index in range(2):
        url = f"ws://127.0.0.1:{port}/v1/streaming/left-{index}?access_token={access}"
        socket = await websockets.connect(url)
        await socket.send(json.dumps(start_request(16000)))
        for _ in range(400):
            await socket.send(noise)
        sockets.append(socket)
    return sockets


def test_a_stop_by_signal_with_a_backlog_prints_lines_not_tracebacks() -> None:
    mock = subprocess.Popen(
        ["symbl-harness", "mock", "--port", "0", "--engine", "asr"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert mock.stdout is not None
    first = mock.stdout.readline()
    port = int(first.rsplit(":", 1)[1])

    async def scenario() -> None:
        sockets = await _leave_a_backlog(port, token(f"http://127.0.0.1:{port}"))
        mock.send_signal(signal.SIGINT)
        for socket in sockets:
            await socket.wait_closed()

    asyncio.run(scenario())
    _, err = mock.communicate(timeout=120)
    assert mock.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped by SIGINT" in err

"""Opus on the streaming socket: a real mock on loopback hears it as it hears PCM.

Two shapes of Opus reach it: an Ogg/Opus stream cut into frames of at most 8,192 bytes, and
one bare Opus packet per frame, which is what Symbl's web SDK 1.0.10 sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from opus_audio import (
    MAX_FRAME,
    fixture_audio,
    ogg_frames,
    ogg_opus,
    opus_packets,
    opus_start,
    stream_frames,
    transcribing_mock,
    words,
)

from harness.audio.fingerprint import compare_audio
from harness.serve import RunningServer
from harness.session_folder.log import read_session
from mock_symbl import Answers, Backlog, MockConfig, OnMiss, running_mock
from mock_symbl.engines.whisper_model import available as whisper_available

from helpers import FIXTURES, kind, start_request, stream_session, streaming_url


@pytest.fixture(scope="module")
def transcribing() -> Iterator[RunningServer]:
    """A mock whose fixtures' connection ids are answered by their transcripts."""
    with transcribing_mock() as mock:
        yield mock


@pytest.mark.parametrize(("fixture", "rate"), [("hot", 48000), ("standup", 16000)])
def test_ogg_opus_page_by_page_gives_the_words_linear16_gives(
    transcribing: RunningServer, fixture: str, rate: int
) -> None:
    samples, fixture_rate = fixture_audio(fixture)
    assert fixture_rate == rate
    frames = ogg_frames(ogg_opus(samples, rate))
    assert max(len(frame) for frame in frames) <= MAX_FRAME
    opus = asyncio.run(
        stream_frames(streaming_url(transcribing, f"{fixture}--opus"), opus_start(rate), frames)
    )
    pcm, _, _ = asyncio.run(
        stream_session(streaming_url(transcribing, f"{fixture}--pcm"), start_request(rate), samples)
    )
    assert not [m for m in opus if kind(m) == "error"]
    assert words(opus)
    assert words(opus) == words(pcm)
    assert [kind(m) for m in opus][-2:] == ["conversation_completed", "recognition_stopped"]


def test_web_sdk_opus_packets_give_the_words_linear16_gives(transcribing: RunningServer) -> None:
    samples, rate = fixture_audio("hot")
    packets = opus_packets(samples, rate)
    opus = asyncio.run(
        stream_frames(streaming_url(transcribing, "hot--sdk"), opus_start(48000), packets)
    )
    pcm, _, _ = asyncio.run(
        stream_session(streaming_url(transcribing, "hot--sdk-pcm"), start_request(rate), samples)
    )
    assert not [m for m in opus if kind(m) == "error"]
    assert words(opus)
    assert words(opus) == words(pcm)


def test_opus_is_recognised_as_it_arrives_not_at_the_end(transcribing: RunningServer) -> None:
    samples, rate = fixture_audio("standup")
    frames = ogg_frames(ogg_opus(samples, rate))

    async def session() -> list[str]:
        async with websockets.connect(streaming_url(transcribing, "standup--live")) as socket:
            await socket.send(json.dumps(opus_start(rate)))
            for frame in frames[: len(frames) * 3 // 4]:
                await socket.send(frame)
            # No stop request and no more audio: a message now was recognised from the
            # pages so far (the wait only guards against a hang).
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if kind(message) == "message_response":
                    return words([message])

    assert asyncio.run(session())


def test_a_corrupt_page_gets_one_error_and_keeps_the_audio_before_it(
    transcribing: RunningServer,
) -> None:
    samples, rate = fixture_audio("standup")
    frames = ogg_frames(ogg_opus(samples, rate))
    broken = len(frames) * 2 // 3
    corrupt = bytearray(frames[broken])
    corrupt[len(corrupt) // 2] ^= 0xFF
    sent = [*frames[:broken], bytes(corrupt), *frames[broken + 1 :]]
    received = asyncio.run(
        stream_frames(streaming_url(transcribing, "standup--corrupt"), opus_start(rate), sent)
    )
    errors = [m["message"] for m in received if kind(m) == "error"]
    assert len(errors) == 1
    assert errors[0]["message"] == "Invalid audio"
    assert "not Ogg/Opus: page" in errors[0]["details"]
    assert "bad checksum" in errors[0]["details"]
    assert "\n" not in errors[0]["details"]
    full, _, _ = asyncio.run(
        stream_session(streaming_url(transcribing, "standup--whole"), start_request(rate), samples)
    )
    kept = words(received)
    # What came before the corrupt page was recognised, nothing after it was: the phrase
    # open at the break ends with the last word heard.
    whole = words(full)
    assert kept
    assert len(kept) < len(whole)
    assert kept[:-1] == whole[: len(kept) - 1]
    assert whole[len(kept) - 1].startswith(kept[-1].rstrip("."))
    assert [kind(m) for m in received][-2:] == ["conversation_completed", "recognition_stopped"]


def test_the_matcher_finds_the_recording_an_opus_client_streams() -> None:
    samples, rate = fixture_audio("hot")
    recorded = [m["payload"]["content"] for m in read_session(FIXTURES / "hot").messages()]
    packets = opus_packets(samples, rate)
    with running_mock(MockConfig(recordings=(FIXTURES / "hot",))) as mock:
        # The connection id names no recording: the audio alone finds it.
        url = streaming_url(mock, "web-sdk-4f1c")
        received = asyncio.run(stream_frames(url, opus_start(rate), packets))
        (entry,) = mock.journal(settle_s=30)
    assert entry.matched
    assert entry.recording == FIXTURES / "hot"
    # The decoded audio is the recording's, as loud.
    assert entry.audio is not None
    assert abs(entry.audio.level_db) < 1.0
    assert entry.audio.correlation > 0.9
    assert recorded
    assert words(received) == recorded


def test_an_opus_miss_is_recorded_as_pcm_and_matches_from_then_on(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    config = MockConfig(answers=Answers(OnMiss.RECORD, recordings), backlog=Backlog.patient())
    samples, rate = fixture_audio("hot")
    packets = opus_packets(samples, rate)
    with running_mock(config) as mock:
        first = asyncio.run(stream_frames(streaming_url(mock, "sdk-1"), opus_start(rate), packets))
        second = asyncio.run(stream_frames(streaming_url(mock, "sdk-2"), opus_start(rate), packets))
        missed, matched = mock.journal(settle_s=30)
    # Speech recognition heard the decoded Opus; the recording then answers it.
    assert missed.fallback == ("whisper" if whisper_available() else "asr")
    assert missed.recorded_to is not None
    saved = read_session(missed.recorded_to)
    assert (saved.header["encoding"], saved.header["wire_encoding"]) == ("LINEAR16", "Opus")
    assert saved.sample_rate == rate
    assert compare_audio(saved.audio, rate, samples, rate, 0.0).correlation > 0.9
    assert matched.matched
    assert matched.recording == missed.recorded_to.resolve()
    assert words(first)
    assert words(second) == words(first)

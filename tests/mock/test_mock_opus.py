"""Opus on the streaming socket: a real mock on loopback hears it as it hears PCM.

Two shapes of Opus reach it: an Ogg/Opus stream cut into frames of at most 8,192 bytes, and
one bare Opus packet per frame, which is what Symbl's web SDK 1.0.10 sends.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf
import soxr
import websockets
from numpy.typing import NDArray

from harness.serve import RunningServer
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, kind, start_request, stream_session, token

MAX_FRAME = 8192


def fixture_audio(name: str) -> tuple[NDArray[np.int16], int]:
    """A fixture's audio and rate."""
    samples, rate = sf.read(FIXTURES / name / "audio.wav", dtype="int16")
    return np.asarray(samples, dtype=np.int16), int(rate)


def ogg_opus(samples: NDArray[np.int16], rate: int) -> bytes:
    """The audio as an Ogg/Opus file, written by libsndfile."""
    out = io.BytesIO()
    sf.write(out, samples, rate, format="OGG", subtype="OPUS")
    return out.getvalue()


def ogg_frames(blob: bytes) -> list[bytes]:
    """An Ogg stream as a streaming client sends it: page by page, a page over 8,192 bytes
    cut in pieces, so no frame is larger."""
    starts = [i for i in range(len(blob)) if blob.startswith(b"OggS", i)]
    pages = [blob[a:b] for a, b in zip(starts, [*starts[1:], len(blob)], strict=True)]
    return [page[i : i + MAX_FRAME] for page in pages for i in range(0, len(page), MAX_FRAME)]


def opus_packets(samples: NDArray[np.int16], rate: int) -> list[bytes]:
    """The audio as the web SDK sends it: one 20 ms Opus packet (48 kHz mono) per frame."""
    audio = soxr.resample(samples, rate, 48000) if rate != 48000 else samples
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.audio.codeccontext.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    encoder.open()
    packets: list[bytes] = []
    for at in range(0, audio.size - 960 + 1, 960):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio[at : at + 960]).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48000, at
        packets.extend(bytes(packet) for packet in encoder.encode(frame))
    packets.extend(bytes(packet) for packet in encoder.encode(None))
    return packets


def opus_start(rate: int) -> dict[str, Any]:
    """The start request the web SDK sends for its Opus stream."""
    start = start_request(rate)
    start["config"]["speechRecognition"] = {"encoding": "OPUS", "sampleRateHertz": rate}
    return start


async def stream_frames(
    url: str, start: dict[str, Any], frames: list[bytes]
) -> list[dict[str, Any]]:
    """Send a start request, the frames as they are, a stop request; everything received."""
    received: list[dict[str, Any]] = []
    async with websockets.connect(url, max_size=None) as socket:

        async def read() -> None:
            async for message in socket:
                received.append(json.loads(message))

        reader = asyncio.create_task(read())
        await socket.send(json.dumps(start))
        for frame in frames:
            await socket.send(frame)
        await socket.send(json.dumps({"type": "stop_request"}))
        await asyncio.wait_for(reader, 120)
    return received


def words(received: list[dict[str, Any]]) -> list[str]:
    """The finalised messages' text, in order."""
    return [
        message["payload"]["content"]
        for frame in received
        if kind(frame) == "message_response"
        for message in frame["messages"]
    ]


@pytest.fixture(scope="module")
def transcribing() -> Iterator[RunningServer]:
    """A mock whose fixtures' connection ids are answered by their transcripts."""
    with running_mock(MockConfig(transcripts=(FIXTURES / "hot", FIXTURES / "standup"))) as mock:
        yield mock


def url_for(mock: RunningServer, connection_id: str) -> str:
    """The streaming URL of a connection, with a fresh token."""
    return f"{mock.ws_url}/v1/streaming/{connection_id}?access_token={token(mock.base_url)}"


@pytest.mark.parametrize(("fixture", "rate"), [("hot", 48000), ("standup", 16000)])
def test_ogg_opus_page_by_page_gives_the_words_linear16_gives(
    transcribing: RunningServer, fixture: str, rate: int
) -> None:
    samples, fixture_rate = fixture_audio(fixture)
    assert fixture_rate == rate
    frames = ogg_frames(ogg_opus(samples, rate))
    assert max(len(frame) for frame in frames) <= MAX_FRAME
    opus = asyncio.run(
        stream_frames(url_for(transcribing, f"{fixture}--opus"), opus_start(rate), frames)
    )
    pcm, _, _ = asyncio.run(
        stream_session(url_for(transcribing, f"{fixture}--pcm"), start_request(rate), samples)
    )
    assert not [m for m in opus if kind(m) == "error"]
    assert words(opus)
    assert words(opus) == words(pcm)
    assert [kind(m) for m in opus][-2:] == ["conversation_completed", "recognition_stopped"]


def test_web_sdk_opus_packets_give_the_words_linear16_gives(transcribing: RunningServer) -> None:
    samples, rate = fixture_audio("hot")
    packets = opus_packets(samples, rate)
    opus = asyncio.run(stream_frames(url_for(transcribing, "hot--sdk"), opus_start(48000), packets))
    pcm, _, _ = asyncio.run(
        stream_session(url_for(transcribing, "hot--sdk-pcm"), start_request(rate), samples)
    )
    assert not [m for m in opus if kind(m) == "error"]
    assert words(opus)
    assert words(opus) == words(pcm)


def test_opus_is_recognised_as_it_arrives_not_at_the_end(transcribing: RunningServer) -> None:
    samples, rate = fixture_audio("standup")
    frames = ogg_frames(ogg_opus(samples, rate))

    async def session() -> list[str]:
        async with websockets.connect(url_for(transcribing, "standup--live")) as socket:
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
        stream_frames(url_for(transcribing, "standup--corrupt"), opus_start(rate), sent)
    )
    errors = [m["message"] for m in received if kind(m) == "error"]
    assert len(errors) == 1
    assert errors[0]["message"] == "Invalid audio"
    assert "not Ogg/Opus: page" in errors[0]["details"]
    assert "bad checksum" in errors[0]["details"]
    assert "\n" not in errors[0]["details"]
    full, _, _ = asyncio.run(
        stream_session(url_for(transcribing, "standup--whole"), start_request(rate), samples)
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

"""Opus as streaming clients send it, made from the fixtures: Ogg/Opus pages, and one bare
Opus packet per frame as Symbl's web SDK sends it; and a client that sends such frames."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import AbstractContextManager
from typing import Any

import av
import numpy as np
import soundfile as sf
import soxr
import websockets
from numpy.typing import NDArray

from harness.serve import RunningServer
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, kind, start_request

MAX_FRAME = 8192


def transcribing_mock() -> AbstractContextManager[RunningServer]:
    """A mock whose fixtures' connection ids are answered by their transcripts."""
    return running_mock(MockConfig(transcripts=(FIXTURES / "hot", FIXTURES / "standup")))


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

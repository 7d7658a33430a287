"""Uploaded audio and video, decoded: whatever FFmpeg reads (WAV, MP3, FLAC, OGG, MP4,
WebM ...) through PyAV, to mono Int16 samples for the recognition engines."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError

# The rates the streaming API takes; audio outside them is resampled to the nearest.
MIN_RATE = 8000
MAX_RATE = 48000
# A small file may hold hours of silence: decoding stops past this much audio.
MAX_SECONDS = 4 * 3600
# Content types a client may declare for a file (any audio or video, or none at all).
MEDIA_PREFIXES = ("audio/", "video/")
UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})


class MediaError(HarnessError):
    """A file that holds no audio this server can decode; the message says why."""


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """A file's audio, mixed down to one channel."""

    samples: NDArray[np.int16]
    sample_rate: int

    @property
    def seconds(self) -> float:
        """How long the audio lasts."""
        return self.samples.size / self.sample_rate


def media_type_problem(content_type: str | None) -> str | None:
    """Why a declared Content-Type cannot be a media file, or None if it can."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in UNTYPED or kind.startswith(MEDIA_PREFIXES):
        return None
    return (
        f"Content-Type {kind!r} is not audio or video; send the file as audio/wav, "
        "audio/mpeg, audio/mp3, audio/wave, another audio/* or video/* type, or without one."
    )


def decode_audio(data: bytes) -> DecodedAudio:
    """The audio track of a file, mono Int16; MediaError if there is none to decode."""
    if not data:
        raise MediaError("The file is empty.")
    try:
        return _decode(data)
    except av.FFmpegError as error:
        why = (error.strerror or str(error)).rstrip(".").lower()
        raise MediaError(f"The file is not audio or video that can be decoded: {why}.") from None


def _decode(data: bytes) -> DecodedAudio:
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise MediaError("The file has no audio track.")
        stream = container.streams.audio[0]
        rate = min(max(stream.codec_context.sample_rate or MIN_RATE, MIN_RATE), MAX_RATE)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks: list[NDArray[np.int16]] = []
        total = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1)
                chunks.append(chunk)
                total += chunk.size
            if total > MAX_SECONDS * rate:
                raise MediaError(f"The file holds more than {MAX_SECONDS // 3600} hours of audio.")
        for out in resampler.resample(None):
            chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if not samples.size:
        raise MediaError("The file's audio track holds no samples.")
    return DecodedAudio(samples, rate)

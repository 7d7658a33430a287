"""Mono 16-bit PCM WAV files that survive a killed writer.

The writer (stdlib `wave`) rewrites the header sizes after every append and flushes, so
the file is valid between appends. A kill between an append and its header update leaves
a header that undercounts; the reader trusts the file's length over such a header.
"""

from __future__ import annotations

import contextlib
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError

_PCM = 1
_EXTENSIBLE = 0xFFFE
# Sizes that writers put in a header they never came back to finish.
_UNFINISHED_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)
# The highest rate audio hardware and codecs offer. WAV keeps the rate and the byte rate
# (twice the rate, here) in 32 bits, so from 2**31 Hz a header cannot even be written;
# anything above this is a mistake or an attack, not audio.
MAX_SAMPLE_RATE = 768_000


class WavError(HarnessError, ValueError):
    """A file that is not a mono 16-bit PCM WAV; the message says what it is instead."""


@dataclass(frozen=True, slots=True)
class PcmAudio:
    """Samples read from a WAV, and what had to be repaired to read them (None if nothing)."""

    samples: NDArray[np.int16]
    sample_rate: int
    repaired: str | None = None


def check_sample_rate(sample_rate: int) -> None:
    """Raise WavError unless a WAV can hold audio at `sample_rate` Hz."""
    if not 1 <= sample_rate <= MAX_SAMPLE_RATE:
        raise WavError(
            f"a sample rate of {sample_rate} Hz cannot be written to a WAV "
            f"(this tool writes 1-{MAX_SAMPLE_RATE} Hz)"
        )


class PcmWavWriter:
    """Append Int16 samples to a WAV whose header stays valid after every append."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        check_sample_rate(sample_rate)
        self._file: IO[bytes] = path.open("wb")
        self._wave = wave.open(self._file, "wb")  # noqa: SIM115 - closed in close()
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(sample_rate)
        self.samples_written = 0

    def append(self, pcm: bytes) -> None:
        """Append little-endian Int16 samples (an even number of bytes) and flush."""
        self._wave.writeframes(pcm)
        self._file.flush()
        self.samples_written += len(pcm) // 2

    def close(self) -> None:
        """Finish the header and close the file."""
        self._wave.close()
        self._file.close()

    def abandon(self) -> None:
        """Close after a failed write, keeping what reached the disk and raising nothing:
        the header may undercount, which the reader repairs."""
        with contextlib.suppress(OSError):
            self._wave.close()
        with contextlib.suppress(OSError):
            self._file.close()


def read_pcm16(path: Path) -> PcmAudio:
    """Read a mono 16-bit PCM WAV, repairing a header left unfinished by a killed writer."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WavError(f"{path.name}: cannot read ({error.strerror})") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError(f"{path.name} is not a WAV file (it starts with {data[:12]!r})")
    rate: int | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt ":
            rate = _check_format(path, data[body : body + size])
        elif chunk_id == b"data":
            if rate is None:
                raise WavError(f"{path.name}: the data chunk comes before any fmt chunk")
            return _data_chunk(data, body, size, rate)
        offset = body + size + (size & 1)
    raise WavError(f"{path.name} has no data chunk (cut inside its header?)")


def _check_format(path: Path, fmt: bytes) -> int:
    if len(fmt) < 16:
        raise WavError(f"{path.name}: its fmt chunk is cut ({len(fmt)} bytes)")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)
    if tag != _PCM or bits != 16 or channels != 1:
        kind = "PCM" if tag == _PCM else f"format tag {tag:#x}"
        raise WavError(
            f"{path.name} is {kind}, {bits}-bit, {channels} channel(s); "
            "a session's audio must be mono 16-bit PCM"
        )
    return int(rate)


def _data_chunk(data: bytes, body: int, size: int, rate: int) -> PcmAudio:
    available = len(data) - body
    repaired = None
    if size > available or size in _UNFINISHED_SIZES or _is_unlabelled_tail(data, body + size):
        if size != available:
            repaired = (
                f"the WAV header says {size} data bytes but the file holds {available}; "
                f"read all {available}"
            )
        size = available
    if size % 2:
        repaired = (repaired + "; " if repaired else "") + "dropped a trailing half sample"
        size -= 1
    samples = np.frombuffer(data, dtype="<i2", count=size // 2, offset=body).astype(np.int16)
    return PcmAudio(samples=samples, sample_rate=rate, repaired=repaired)


def _is_unlabelled_tail(data: bytes, end: int) -> bool:
    """Bytes after the data chunk that are not a chunk: audio the header missed."""
    tail = data[end:]
    if not tail:
        return False
    if len(tail) < 8:
        return True
    chunk_id, (size,) = tail[:4], struct.unpack_from("<I", tail, 4)
    looks_like_chunk = all(32 <= byte < 127 for byte in chunk_id) and 8 + size <= len(tail) + 1
    return not looks_like_chunk

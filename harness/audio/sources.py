"""Audio sources: a WAV/FLAC file or a live microphone, as Int16 frames at a chosen rate.

The microphone is captured as Float32 and converted with `harness.audio.pcm.float_to_int16`, as
a browser client converts its capture. A 16-bit mono file is sent as its samples are;
other files are mixed to mono in Float32 and converted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from harness.audio.pcm import float_to_int16, resample
from harness.errors import HarnessError

PORTAUDIO_HINT = "apt-get install libportaudio2"


class AudioSourceError(HarnessError):
    """An audio source that cannot be used; the message is one line naming the problem."""


class FileSource:
    """A WAV or FLAC file streamed as if it were a microphone."""

    def __init__(self, path: Path, rate: int | None, frame_samples: int) -> None:
        try:
            info = sf.info(path)
            if info.subtype == "PCM_16" and info.channels == 1:
                # Already what a client sends: keep every sample exactly.
                samples = np.asarray(sf.read(path, dtype="int16")[0], dtype=np.int16)
            else:
                data, _ = sf.read(path, dtype="float32", always_2d=True)
                samples = float_to_int16(data.mean(axis=1, dtype=np.float32))
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise AudioSourceError(f"{path} is not audio soundfile can read ({error})") from None
        except OSError as error:
            raise AudioSourceError(f"{path}: cannot read ({error.strerror})") from None
        self.source_rate = int(info.samplerate)
        self.rate = rate or self.source_rate
        self.samples = np.asarray(resample(samples, self.source_rate, self.rate), dtype=np.int16)
        self.frame_samples = frame_samples

    @property
    def seconds(self) -> float:
        """The file's length in seconds."""
        return self.samples.size / self.rate

    def frames(self) -> Iterator[NDArray[np.int16]]:
        """The audio in frames of `frame_samples` (the last may be shorter)."""
        for start in range(0, self.samples.size, self.frame_samples):
            yield self.samples[start : start + self.frame_samples]


def _sounddevice() -> Any:
    try:
        import sounddevice  # noqa: PLC0415 - PortAudio is loaded on import
    except OSError:
        raise AudioSourceError(f"PortAudio is not installed ({PORTAUDIO_HINT})") from None
    return sounddevice


def input_devices() -> list[dict[str, Any]]:
    """The input devices PortAudio sees: index, name, channels, default rate."""
    sd = _sounddevice()
    default = sd.default.device[0]
    return [
        {
            "index": index,
            "name": device["name"],
            "channels": device["max_input_channels"],
            "default_rate": int(device["default_samplerate"]),
            "default": index == default,
        }
        for index, device in enumerate(sd.query_devices())
        if device["max_input_channels"] > 0
    ]


class MicSource:
    """A live microphone through PortAudio, in frames of `frame_samples`."""

    def __init__(self, device: str | int | None, rate: int, frame_samples: int) -> None:
        self._sd = _sounddevice()
        self.rate = rate
        self.frame_samples = frame_samples
        self.device = device
        self.overflows = 0
        try:
            self._sd.check_input_settings(
                device=device, samplerate=rate, channels=1, dtype="float32"
            )
        except ValueError as error:
            name = "the default input" if device is None else f"input device {device!r}"
            raise AudioSourceError(
                f"{name} cannot record mono at {rate} Hz ({error}); "
                "`symbl-harness devices` lists the inputs"
            ) from None
        except self._sd.PortAudioError as error:
            raise AudioSourceError(f"no usable input device ({error})") from None

    async def frames(self) -> AsyncIterator[NDArray[np.int16]]:
        """Frames as the device delivers them, until the caller stops iterating."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[NDArray[np.float32]] = asyncio.Queue()

        def captured(indata: NDArray[np.float32], frames: int, time: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            # PortAudio calls from its own thread; hand the frame to the event loop.
            loop.call_soon_threadsafe(queue.put_nowait, indata[:, 0].copy())

        try:
            stream = self._sd.InputStream(
                device=self.device,
                samplerate=self.rate,
                channels=1,
                dtype="float32",
                blocksize=self.frame_samples,
                callback=captured,
            )
        except self._sd.PortAudioError as error:
            raise AudioSourceError(f"cannot open the input device ({error})") from None
        stream.start()
        try:
            while True:
                yield float_to_int16(await queue.get())
        finally:
            # abort, not stop: stop waits for pending buffers, which a source that has
            # gone quiet (a pipe with no writer, an unplugged device) never delivers.
            stream.abort()
            stream.close()


async def until_stopped(
    frames: AsyncIterator[NDArray[np.int16]], stop: asyncio.Event
) -> AsyncIterator[NDArray[np.int16]]:
    """Frames from `frames` until `stop` is set, even while waiting for the next one."""
    iterator = aiter(frames)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            following = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopping.cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()

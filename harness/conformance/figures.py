"""Running figures of a client's audio, in bounded memory: level, first samples, wrapped
peaks, clipping runs and an averaged spectrum, worked out a second of audio at a time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

# A wrapped negative peak: a sample near full scale beside a strongly negative one.
WRAP_HIGH = 30000
WRAP_LOW = -20000
# Full scale: Float32 1.0 becomes 32767 through `x * 0x7FFF`, and 32766 where a gain on the
# way leaves it a rounding step below 1 (the tutorial's page); either is a clipped sample.
CLIP_LEVEL = 32766
CLIP_RUN = 3
# The spectrum is estimated from this much audio at most.
SPECTRUM_SECONDS = 60.0
SPECTRUM_BLOCK = 4096
EVIDENCE_POSITIONS = 5


@dataclass
class AudioFigures:
    """Running figures of the audio in bounded memory, worked out a second at a time."""

    rate: int = 16000
    frames: int = 0
    samples: int = 0
    sum: float = 0.0
    sum_squares: float = 0.0
    telling_frames: int = 0
    zero_first: int = 0
    zero_first_at: list[int] = field(default_factory=list)
    wraps: int = 0
    wraps_at: list[int] = field(default_factory=list)
    clip_runs: int = 0
    clipped: int = 0
    clips_at: list[int] = field(default_factory=list)
    previous: int | None = None
    run: int = 0
    spectrum: NDArray[np.float64] | None = None
    spectrum_blocks: int = 0
    batch: list[NDArray[np.int16]] = field(default_factory=list)
    batched: int = 0
    rest: NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))

    def add(self, samples: NDArray[np.int16]) -> None:
        """Take one frame's samples; they are analysed once a second of audio is waiting."""
        if samples.size == 0:
            return
        self.batch.append(samples)
        self.batched += samples.size
        if self.batched >= self.rate:
            self.flush()

    def flush(self) -> None:
        """Analyse the frames waiting."""
        if not self.batch:
            return
        frames, self.batch, self.batched = self.batch, [], 0
        wide = np.concatenate(frames).astype(np.int64)
        start = self.samples
        sizes = np.array([frame.size for frame in frames])
        firsts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.frames += len(frames)
        self.sum += float(wide.sum())
        self.sum_squares += float((wide * wide).sum())
        # Where a frame's first sample should be, from its neighbours: halfway between the
        # previous frame's last sample and its own second (a zero there is not a zero
        # crossing), or extrapolated from its second and third for the very first frame.
        seconds = wide[np.minimum(firsts + 1, wide.size - 1)]
        before = wide[np.maximum(firsts - 1, 0)].copy()
        if self.previous is not None:
            before[0] = self.previous
        else:
            # So that halfway to the second sample lands on 2 * second - third.
            before[0] = 3 * seconds[0] - 2 * wide[min(2, wide.size - 1)]
        expected = (before + seconds) / 2
        telling = np.abs(expected) > 64
        zero = telling & (wide[firsts] == 0)
        self.telling_frames += int(telling.sum())
        self.zero_first += int(zero.sum())
        self._note(self.zero_first_at, start + firsts[zero])
        self._wraps(wide, start)
        self._clipping(wide, start)
        self.previous = int(wide[-1])
        self.samples += wide.size
        self._spectrum(np.concatenate(frames))

    @staticmethod
    def _note(positions: list[int], found: NDArray[np.int64]) -> None:
        room = EVIDENCE_POSITIONS - len(positions)
        positions.extend(int(p) for p in found[: max(room, 0)])

    def _wraps(self, wide: NDArray[np.int64], start: int) -> None:
        joined = wide if self.previous is None else np.concatenate(([self.previous], wide))
        offset = start if self.previous is None else start - 1
        one, two = joined[:-1], joined[1:]
        wrapped = ((one >= WRAP_HIGH) & (two <= WRAP_LOW)) | (
            (one <= WRAP_LOW) & (two >= WRAP_HIGH)
        )
        places = np.flatnonzero(wrapped)
        self.wraps += int(places.size)
        self._note(self.wraps_at, offset + places + 1)

    def _clipping(self, wide: NDArray[np.int64], start: int) -> None:
        at_limit = np.abs(wide) >= CLIP_LEVEL
        self.clipped += int(at_limit.sum())
        edges = np.diff(np.concatenate(([0], at_limit.astype(np.int8), [0])))
        begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - begins
        carried = self.run
        if begins.size and begins[0] == 0:
            # A run that began in the previous batch goes on; it counts once, when it reaches
            # CLIP_RUN.
            lengths[0] += carried
        counted = lengths >= CLIP_RUN
        if begins.size and begins[0] == 0 and carried >= CLIP_RUN:
            counted[0] = False
        self.clip_runs += int(counted.sum())
        self._note(self.clips_at, start + begins[counted])
        self.run = int(lengths[-1]) if at_limit[-1] else 0

    def _spectrum(self, samples: NDArray[np.int16]) -> None:
        if self.spectrum_blocks * SPECTRUM_BLOCK >= SPECTRUM_SECONDS * self.rate:
            return
        pending = np.concatenate((self.rest, samples))
        whole = pending.size // SPECTRUM_BLOCK
        # A copy: a view would pin the whole second of audio it was cut from.
        self.rest = pending[whole * SPECTRUM_BLOCK :].copy()
        if not whole:
            return
        blocks = pending[: whole * SPECTRUM_BLOCK].reshape(whole, SPECTRUM_BLOCK)
        power = np.abs(np.fft.rfft(blocks * np.hanning(SPECTRUM_BLOCK), axis=1)) ** 2
        total = power.sum(axis=0)
        self.spectrum = total if self.spectrum is None else self.spectrum + total
        self.spectrum_blocks += whole

    def release(self) -> None:
        """Drop the buffers once the figures are final (the counts stay)."""
        self.batch, self.batched = [], 0
        self.rest = np.zeros(0, np.int16)
        self.spectrum = None

    @property
    def rms(self) -> float:
        return math.sqrt(self.sum_squares / self.samples) if self.samples else 0.0

    def band_edge(self) -> float | None:
        """The frequency below which 99.9 % of the audio's energy lies."""
        if self.spectrum is None or self.spectrum.sum() <= 0:
            return None
        cumulative = np.cumsum(self.spectrum) / self.spectrum.sum()
        index = int(np.searchsorted(cumulative, 0.999))
        return float(index * self.rate / SPECTRUM_BLOCK)

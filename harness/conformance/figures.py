"""Running figures of a client's audio, in bounded memory: level, first samples, wrapped
peaks, clipped seconds and an averaged spectrum, worked out a second of audio at a time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from harness.audio.pcm import FULL_SCALE

# A wrapped negative peak: a sample near full scale beside a strongly negative one.
WRAP_HIGH = 30000
WRAP_LOW = -20000
# Clipping, judged a second at a time from where the samples lie near full scale. Speech
# thins out toward its peak; audio clipped before or in the browser crowds there instead.
# Clipped flat tops do not survive a browser as runs at 32767: resampling rings around them
# and the audio processing reshapes them, so the fixture `hot` (runs of up to 52 samples at
# 32767) arrives from Chromium with isolated 32766/32767 peaks and, in "Is this too loud?",
# with none above 32480. Measured per second, samples within 5 % of full scale and their
# density there over their density between 80 and 95 %: `hot` through Chromium 171-1484
# samples at 1.2-2.3 times; clean speech peak-normalised to 0 or -0.1 dBFS and resampled to
# 44.1/48 kHz at most 15 at 0.7 times, and through Chromium (whose processing limits its
# peaks) at most 65 at up to 1.1 times. A second is clipped past both the count (CLIP_SHARE
# of it, 2 ms) and the density ratio (CLIP_DENSITY).
CLIP_NEAR = round(0.95 * FULL_SCALE)
CLIP_BELOW = round(0.80 * FULL_SCALE)
CLIP_DENSITY = 1.0
CLIP_SHARE = 1 / 500
# Clipped samples further apart than this start a new stretch in the evidence.
CLIP_GAP_S = 0.5
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
    clipped_samples: int = 0
    near_full_scale: int = 0
    clips_at: list[int] = field(default_factory=list)
    last_clipped: int | None = None
    previous: int | None = None
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
        level = np.abs(wide)
        near = np.flatnonzero(level >= CLIP_NEAR)
        below = int(np.count_nonzero((level >= CLIP_BELOW) & (level < CLIP_NEAR)))
        # Densities per unit of level: the bands are 5 % and 15 % of full scale wide.
        denser = near.size / (FULL_SCALE - CLIP_NEAR) >= CLIP_DENSITY * below / (
            CLIP_NEAR - CLIP_BELOW
        )
        if near.size < CLIP_SHARE * wide.size or not denser:
            return
        self.clipped_samples += wide.size
        self.near_full_scale += int(near.size)
        places = start + near
        gap = round(CLIP_GAP_S * self.rate)
        last = start - gap - 1 if self.last_clipped is None else self.last_clipped
        before = np.concatenate(([last], places[:-1]))
        self._note(self.clips_at, places[places - before > gap])
        self.last_clipped = int(places[-1])

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

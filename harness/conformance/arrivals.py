"""When a client's audio arrived, as running figures in constant memory: span, gaps, bunched
frames, and the steady pace (audio seconds per wall-clock second after the first second).

The pace is read from the arrivals' lower envelope, not from their average. A frame can
reach the server late (a busy page, a stalled event loop, a proxy that forwards in bursts)
but never before it was captured, so the frames that arrive soonest after capture trace the
capture clock, and the late ones say nothing about it. The steady part of the stream is cut
into short wall-clock blocks; each keeps its frame furthest ahead of the wall clock (the
least late), and the pace is the Theil-Sen slope (the median of the slopes between every
two blocks' frames) of audio seconds against wall-clock seconds over those frames. A block
spent wholly in a slow stretch keeps a late frame, and one wholly in a stall none: the median
holds while fewer than about 29 % of the blocks are such outliers. Total samples over wall
time, or a least-squares line, weighs every late frame: a page that stalls while starting up
and then catches up in bursts looks faster than its clock. A 48 kHz stream from Chromium on a
saturated CPU measured 49.6-54.4 kHz as total samples over wall time, up to 51.0 kHz by least
squares after the first second, and 47.7-48.1 kHz from its envelope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from harness.conformance.figures import EVIDENCE_POSITIONS

# A pause longer than this between frames is a gap.
GAP_S = 1.0
# A frame within this share of its own duration of the previous one came in a burst.
BUNCHED_SHARE = 0.1
# The pace is measured after this much wall-clock time, so an initial buffer flush (a client
# that sends what it buffered while connecting) and a page's start-up stalls do not count as
# the stream's pace.
SETTLE_S = 1.0
# Less steady time than this, and the pace is the whole stream's.
MIN_STEADY_S = 2.0
# The steady part's blocks: their first length, and how many are kept; when the stream
# outgrows them, neighbouring blocks merge (the one furthest ahead of the two stays) and
# blocks double in length, so memory stays constant however long the stream.
BLOCK_S = 0.25
BLOCKS = 64
# Fewer blocks with a frame than this, and the pace is the whole stream's.
MIN_BLOCKS = 3
NS = 1e9


def _empty_blocks() -> NDArray[np.float64]:
    return np.full(BLOCKS, np.nan)


def theil_sen(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """The median of the slopes between every two points (x strictly increasing)."""
    first, second = np.triu_indices(x.size, 1)
    return float(np.median((y[second] - y[first]) / (x[second] - x[first])))


@dataclass
class ArrivalFigures:
    """Running figures of frame arrivals; `units` are samples (or bytes for non-PCM), `rate`
    the units per second at real time."""

    rate: int = 16000
    frames: int = 0
    first_ns: int = 0
    last_ns: int = 0
    first_units: int = 0
    units: int = 0
    gaps: int = 0
    longest_gap_s: float = 0.0
    gaps_after: list[int] = field(default_factory=list)
    bunched: int = 0
    # The steady part: from the first frame SETTLE_S after the first, with the units up to it.
    steady_from_ns: int | None = None
    steady_units: int = 0
    # Per block of the steady part, the wall-clock and audio seconds (since the steady part
    # began) of its frame furthest ahead of the wall clock; NaN for a block with no frame.
    block_s: float = BLOCK_S
    block_wall: NDArray[np.float64] = field(default_factory=_empty_blocks)
    block_audio: NDArray[np.float64] = field(default_factory=_empty_blocks)

    def add(self, at_ns: int, units: int) -> None:
        """One frame of `units` arrived at `at_ns`."""
        if not self.frames:
            self.first_ns = self.last_ns = at_ns
            self.first_units = units
        else:
            gap = (at_ns - self.last_ns) / NS
            if gap > GAP_S:
                self.gaps += 1
                self.longest_gap_s = max(self.longest_gap_s, gap)
                if len(self.gaps_after) < EVIDENCE_POSITIONS:
                    self.gaps_after.append(self.frames - 1)
            if gap < BUNCHED_SHARE * units / self.rate:
                self.bunched += 1
        self.frames += 1
        self.units += units
        self.last_ns = at_ns
        if self.steady_from_ns is None and at_ns - self.first_ns >= SETTLE_S * NS:
            self.steady_from_ns = at_ns
            self.steady_units = self.units
        if self.steady_from_ns is not None:
            wall = (at_ns - self.steady_from_ns) / NS
            self._envelope(wall, (self.units - self.steady_units) / self.rate)

    def _envelope(self, wall: float, audio: float) -> None:
        while wall >= BLOCKS * self.block_s:
            self._merge()
        block = int(wall // self.block_s)
        kept = self.block_audio[block] - self.block_wall[block]
        # NaN (an empty block) compares false: the frame is kept.
        if not audio - wall <= kept:
            self.block_wall[block] = wall
            self.block_audio[block] = audio

    def _merge(self) -> None:
        """Halve the blocks' number, doubling their length."""
        walls = self.block_wall.reshape(-1, 2)
        audios = self.block_audio.reshape(-1, 2)
        ahead = np.nan_to_num(audios - walls, nan=-np.inf)
        pick = np.argmax(ahead, axis=1)
        rows = np.arange(BLOCKS // 2)
        half = BLOCKS // 2
        self.block_wall[:half], self.block_audio[:half] = walls[rows, pick], audios[rows, pick]
        self.block_wall[half:] = self.block_audio[half:] = np.nan
        self.block_s *= 2

    @property
    def span_s(self) -> float:
        """Wall-clock seconds from the first frame's arrival to the last's."""
        return (self.last_ns - self.first_ns) / NS if self.frames > 1 else 0.0

    @property
    def carried(self) -> int:
        """The units after the first frame's: the first frame's arrived before its stamp."""
        return self.units - self.first_units

    def mean_rate(self) -> float | None:
        """Units per wall-clock second, from the first frame's arrival to the last's."""
        span = self.span_s
        return self.carried / span if span > 0 else None

    def pace(self) -> float | None:
        """Audio seconds per wall-clock second (1 is real time): the Theil-Sen slope of the
        steady part's lower envelope (see the module docstring), or the whole stream's mean
        rate when the steady part is short."""
        steady = 0.0
        if self.steady_from_ns is not None:
            steady = (self.last_ns - self.steady_from_ns) / NS
        kept = ~np.isnan(self.block_wall)
        if steady >= MIN_STEADY_S and int(kept.sum()) >= MIN_BLOCKS:
            return theil_sen(self.block_wall[kept], self.block_audio[kept])
        rate = self.mean_rate()
        return None if rate is None else rate / self.rate

    def arrival_rate(self) -> float | None:
        """Units per wall-clock second at the measured pace."""
        pace = self.pace()
        return None if pace is None else pace * self.rate

    def ahead_s(self) -> float:
        """How far the audio got ahead of the wall clock by the last frame (negative: behind)."""
        return self.carried / self.rate - self.span_s

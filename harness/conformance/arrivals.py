"""When a client's audio arrived, as running figures in constant memory: span, gaps, bunched
frames, and the steady pace (audio seconds per wall-clock second after the first second)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.conformance.figures import EVIDENCE_POSITIONS

# A pause longer than this between frames is a gap.
GAP_S = 1.0
# A frame within this share of its own duration of the previous one came in a burst.
BUNCHED_SHARE = 0.1
# The pace is measured after this much wall-clock time, so an initial buffer flush (a client
# that sends what it buffered while connecting) does not count as the stream's pace.
SETTLE_S = 1.0
# Less steady time than this, and the pace is the whole stream's.
MIN_STEADY_S = 2.0
NS = 1e9


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
    # Least squares of audio seconds against wall seconds over the steady part, kept as
    # Welford's running means and co-moments: exact in constant memory and stable over hours.
    steady_from_ns: int | None = None
    steady_units: int = 0
    steady_n: int = 0
    mean_wall: float = 0.0
    mean_audio: float = 0.0
    co_wall: float = 0.0
    co_wall_audio: float = 0.0

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
            self._fit(wall, (self.units - self.steady_units) / self.rate)

    def _fit(self, wall: float, audio: float) -> None:
        self.steady_n += 1
        d_wall = wall - self.mean_wall
        self.mean_wall += d_wall / self.steady_n
        self.mean_audio += (audio - self.mean_audio) / self.steady_n
        self.co_wall += d_wall * (wall - self.mean_wall)
        self.co_wall_audio += d_wall * (audio - self.mean_audio)

    @property
    def span_s(self) -> float:
        """Wall-clock seconds from the first frame's arrival to the last's."""
        return (self.last_ns - self.first_ns) / NS if self.frames > 1 else 0.0

    @property
    def carried(self) -> int:
        """The units after the first frame's: the first frame's arrived before its stamp."""
        return self.units - self.first_units

    def arrival_rate(self) -> float | None:
        """Units per wall-clock second, from the first frame's arrival to the last's."""
        span = self.span_s
        return self.carried / span if span > 0 else None

    def pace(self) -> float | None:
        """Audio seconds per wall-clock second (1 is real time): the least-squares slope over
        the steady part, or the whole stream's rate when the steady part is short."""
        steady = 0.0
        if self.steady_from_ns is not None:
            steady = (self.last_ns - self.steady_from_ns) / NS
        if steady >= MIN_STEADY_S and self.steady_n >= 3 and self.co_wall > 0:
            return self.co_wall_audio / self.co_wall
        rate = self.arrival_rate()
        return None if rate is None else rate / self.rate

    def ahead_s(self) -> float:
        """How far the audio got ahead of the wall clock by the last frame (negative: behind)."""
        return self.carried / self.rate - self.span_s

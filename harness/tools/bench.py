"""Benchmark an endpoint's streaming latency by replaying reference sessions.

Each level of concurrency runs that many replays at once (cycling through the sessions),
`repeat` times; every replay is a session folder whose latency metrics are computed with
`harness.tools.latency`. The machine's own floor is measured in the same run: the round trip of
a text frame over a loopback WebSocket, and the pacing lateness of the replays themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import websockets
from websockets.asyncio.server import ServerConnection, serve

from harness.client.record import Destination
from harness.session_folder.log import TRANSCRIPT_FILE, read_session
from harness.session_folder.transcript import Transcript, read_transcript
from harness.tools.latency import (
    QUANTILES,
    SessionLatency,
    lateness_ms,
    percentiles,
    session_latency,
    stability_of,
)
from harness.tools.replay import ReplayPlan, plan_replay, replay
from harness.tools.targets import Target, target
from mock_symbl import MockConfig

METRICS = (
    "first_partial_ms",
    "word_emission_ms",
    "finalisation_ms",
    "insight_ms",
    "topic_ms",
)
# Set-up and tear-down, one figure per session (see `SessionLatency`).
LIFECYCLE = (
    "handshake_ms",
    "set_up_ms",
    "start_to_recognition_ms",
    "stop_to_completed_ms",
    "stop_to_close_ms",
)
# The floor may take up this share of the finalisation latency's median before the figures
# are flagged: any receive stamp can be late by as much as the machine's own p99 stall.
FLOOR_SHARE = 0.1
# The parts of the floor, as bench.json names them and as a person reads them.
FLOOR_PARTS = {
    "pacing_lateness_ms": "pacing lateness",
    "loopback_round_trip_ms": "loopback round trip",
}


def milliseconds(value: float) -> str:
    """A figure as a person reads it: to a tenth of a millisecond, to the microsecond under
    one (a quiet machine's floor is a fraction of a millisecond)."""
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"


def floor_p99(floor: Mapping[str, Any]) -> tuple[float, str] | None:
    """The machine's floor: the larger p99 of its parts, in milliseconds, and which part it is
    (None before any was measured).

    It is how late the harness itself can be, at the 99th percentile, to send a frame (pacing
    lateness) or stamp an arrival (loopback round trip); at max speed nothing is paced and
    the round trip is the floor."""
    known = [
        (float(p99), what)
        for name, what in FLOOR_PARTS.items()
        if (p99 := (floor.get(name) or {}).get("p99")) is not None
    ]
    return max(known, key=lambda part: part[0]) if known else None


def floor_warning(
    floor: Mapping[str, Any],
    levels: Mapping[str, Mapping[str, Any]],
    share: float = FLOOR_SHARE,
) -> str | None:
    """Why the figures cannot be trusted, or None.

    When the floor (`floor_p99`) exceeds `share` of the lowest finalisation p50 of any level
    (else of the lowest p50 of any latency metric, when no phrase was finalised), the
    machine's own delays are a visible part of the figures: the run says so rather than
    report them as the endpoint's.
    """
    worst = floor_p99(floor)
    if worst is None:
        return None

    def medians(names: Sequence[str]) -> list[tuple[float, str]]:
        return [
            (level[name]["p50"], name)
            for level in levels.values()
            for name in names
            if "p50" in (level.get(name) or {})
        ]

    compared = medians(("finalisation_ms",)) or medians(METRICS)
    if not compared:
        return None
    median, name = min(compared)
    value, what = worst
    if value <= share * median:
        return None
    return (
        f"the machine's floor ({what} p99 {milliseconds(value)} ms) is over {share * 100:g}% "
        f"of the {name.removesuffix('_ms')} p50 ({milliseconds(median)} ms): these figures "
        "cannot be trusted; run on a quieter machine or with fewer sessions at once"
    )


class BenchProgress(Protocol):
    """What a run reports as it goes (the CLI draws it on a terminal)."""

    def floor(self) -> None:
        """The loopback round trip is being measured."""

    def level(self, level: int, replays: int) -> None:
        """A concurrency level begins: `replays` replays, `level` at a time."""

    def started(self, name: str) -> None:
        """A replay (named as its folder) began."""

    def finished(self, name: str, error: str | None) -> None:
        """A replay ended, with its error if it failed."""


class _Quiet:
    """Reports nothing (where no one watches)."""

    def floor(self) -> None:
        return None

    def level(self, level: int, replays: int) -> None:
        return None

    def started(self, name: str) -> None:
        return None

    def finished(self, name: str, error: str | None) -> None:
        return None


@dataclass(frozen=True)
class Load:
    """How hard to drive the endpoint: concurrency levels (or a ramp), rounds, replay speed."""

    levels: Sequence[int] | Ramp
    repeat: int = 1
    # 1.0 real time, N times faster, None as fast as the socket takes frames.
    speed: float | None = 1.0


@dataclass
class BenchRun:
    """One replay: where it was written, its metrics, its pacing, what went wrong."""

    source: Path
    concurrency: int
    folder: Path
    metrics: SessionLatency | None = None
    lateness_ns: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Bound:
    """A limit a ramp must stay within: a metric's percentile, in milliseconds."""

    metric: str
    quantile: str
    limit_ms: float

    @classmethod
    def parse(cls, text: str) -> Bound:
        """`word_emission_ms:p99=1000` (the `_ms` may be left out)."""
        name, _, limit = text.partition("=")
        metric, _, quantile = name.partition(":")
        metric = metric if metric.endswith("_ms") else f"{metric}_ms"
        if metric not in METRICS or quantile not in QUANTILES:
            raise ValueError(
                f"a bound is METRIC:QUANTILE=MS with METRIC one of "
                f"{', '.join(m.removesuffix('_ms') for m in METRICS)} and QUANTILE one of "
                f"{', '.join(QUANTILES)}; got {text!r}"
            )
        try:
            return cls(metric, quantile, float(limit))
        except ValueError:
            raise ValueError(f"the limit of {text!r} is not a number of milliseconds") from None

    def broken_by(self, level: Mapping[str, Any]) -> str | None:
        """Why a level's figures break the bound, or None if they keep it."""
        figure = (level.get(self.metric) or {}).get(self.quantile)
        if figure is not None and figure > self.limit_ms:
            return f"{self.metric} {self.quantile} {figure:.1f} ms > {self.limit_ms:g} ms"
        return None


DEFAULT_BOUND = Bound("word_emission_ms", "p99", 1000.0)


@dataclass(frozen=True)
class Ramp:
    """Step concurrency up from `start`, doubling, until a bound or an error breaks."""

    start: int = 1
    limit: int = 1024
    bounds: tuple[Bound, ...] = (DEFAULT_BOUND,)

    def levels(self) -> Iterator[int]:
        """The levels to try, in order."""
        level = self.start
        while level <= self.limit:
            yield level
            level *= 2

    def broken_by(self, level: Mapping[str, Any]) -> str | None:
        """Why a level breaks the ramp (an error, or a bound), or None."""
        if level["errors"]:
            return f"{len(level['errors'])} sessions failed: {level['errors'][0]}"
        return next((why for b in self.bounds if (why := b.broken_by(level))), None)


@dataclass
class BenchReport:
    """Every run, grouped by concurrency level, with the floor measured beside them."""

    speed: float | None
    runs: list[BenchRun] = field(default_factory=list)
    floor: dict[str, Any] = field(default_factory=dict)
    capacity: dict[str, Any] | None = None

    def levels(self) -> list[int]:
        """The concurrency levels run."""
        return sorted({run.concurrency for run in self.runs})

    def metric(self, name: str, level: int) -> list[float]:
        """Every figure of one metric at one level."""
        values: list[float] = []
        for run in self.runs:
            if run.concurrency == level and run.metrics is not None:
                values.extend(getattr(run.metrics, name))
        return values

    def lifecycle(self, name: str, level: int) -> list[float]:
        """One set-up or tear-down figure per session at one level (where it was seen)."""
        return [
            value
            for run in self.runs
            if run.concurrency == level
            and run.metrics is not None
            and (value := getattr(run.metrics, name)) is not None
        ]

    def stability(self, level: int) -> dict[str, Any]:
        """Flicker and revisions per word over every phrase at one level (`stability_of`)."""
        runs = [r.metrics for r in self.runs if r.concurrency == level and r.metrics is not None]
        return stability_of(
            [count for m in runs for count in m.phrase_flicker],
            [count for m in runs for count in m.word_revisions],
        )

    def level_json(self, level: int) -> dict[str, Any]:
        """Percentiles per metric at one level, with its sessions and errors."""
        return {
            "sessions": sum(1 for r in self.runs if r.concurrency == level),
            "errors": [r.error for r in self.runs if r.concurrency == level and r.error],
            **{name: percentiles(self.metric(name, level)) for name in METRICS},
            **{name: percentiles(self.lifecycle(name, level)) for name in LIFECYCLE},
            "stability": self.stability(level),
            "pacing_lateness_ms": lateness_ms(
                [ns for r in self.runs if r.concurrency == level for ns in r.lateness_ns]
            ),
        }

    def to_json(self, floor_share: float = FLOOR_SHARE) -> dict[str, Any]:
        """Percentiles per metric and level, the floor (its parts, and its p99 with the part
        it is) and its warning (None when the figures stand clear of `floor_share` of it),
        the settings, errors and capacity."""
        levels = {str(level): self.level_json(level) for level in self.levels()}
        worst = floor_p99(self.floor)
        out: dict[str, Any] = {
            "speed": "max" if self.speed is None else self.speed,
            "label": "max speed (latencies are not real-time figures)"
            if self.speed is None
            else "",
            "floor": self.floor,
            "floor_p99": None if worst is None else {"ms": worst[0], "of": worst[1]},
            "floor_share": floor_share,
            "warning": floor_warning(self.floor, levels, floor_share),
            "levels": levels,
        }
        if self.capacity is not None:
            out["capacity"] = self.capacity
        return out


async def _echo(connection: ServerConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for message in connection:
            await connection.send(message)


async def loopback_floor(round_trips: int = 1000) -> dict[str, float]:
    """Round trip of a small text frame over a loopback WebSocket, in milliseconds."""
    async with serve(_echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}") as socket:
            times = []
            for _ in range(round_trips):
                sent = time.perf_counter_ns()
                await socket.send("ping")
                await socket.recv()
                times.append((time.perf_counter_ns() - sent) / 1e6)
    return percentiles(times, digits=4)


async def _replay(
    plan: ReplayPlan,
    *,
    transcript: Transcript | None,
    to: Destination,
    folder: Path,
    speed: float | None,
    level: int,
) -> BenchRun:
    run = BenchRun(plan.folder, level, folder)
    try:
        recording = await replay(plan, folder, to, speed)
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"
        return run
    result = recording.result
    if result is not None:
        run.lateness_ns = result.lateness_ns
        run.error = result.error
    if transcript is not None and run.error is None:
        run.metrics = session_latency(read_session(folder), transcript)
    return run


async def _reported(name: str, job: Awaitable[BenchRun], progress: BenchProgress) -> BenchRun:
    progress.started(name)
    run = await job
    progress.finished(name, run.error)
    return run


async def run_bench(
    sessions: Sequence[Path],
    where: Target,
    load: Load,
    out: Path,
    progress: BenchProgress | None = None,
) -> BenchReport:
    """Replay `sessions` at each concurrency level, `repeat` rounds each; with a `Ramp`,
    at rising levels until one breaks, and report the capacity (the last that held).

    The bundled mock learns each replay's session under its connection id first."""
    plans = [plan_replay(folder) for folder in sessions]
    transcripts = {
        plan.folder.name: read_transcript(plan.folder / TRANSCRIPT_FILE)
        if (plan.folder / TRANSCRIPT_FILE).is_file()
        else None
        for plan in plans
    }
    progress = progress or _Quiet()
    report = BenchReport(speed=load.speed)
    progress.floor()
    report.floor["loopback_round_trip_ms"] = await loopback_floor()
    levels = load.levels
    ramp = levels if isinstance(levels, Ramp) else None
    steps: Iterable[int] = levels.levels() if isinstance(levels, Ramp) else levels
    for level in steps:
        # Every session at least once per round; `level` replays run at a time.
        slots = max(level, len(plans))
        progress.level(level, slots * load.repeat)
        for round_number in range(load.repeat):
            for first in range(0, slots, level):
                batch = []
                for slot in range(first, min(first + level, slots)):
                    plan = plans[slot % len(plans)]
                    name = f"{plan.folder.name}-n{level}-r{round_number}-{slot}"
                    # Sessions running at once must not share a connection id: the server
                    # would join them into one conversation.
                    connection_id = f"{plan.connection_id}-{name}"
                    if where.mock is not None:
                        where.mock.learn(plan.folder, connection_id)
                    job = _replay(
                        plan,
                        transcript=transcripts[plan.folder.name],
                        to=where.destination(connection_id),
                        folder=out / name,
                        speed=load.speed,
                        level=level,
                    )
                    batch.append(_reported(name, job, progress))
                report.runs.extend(await asyncio.gather(*batch))
        if ramp is not None:
            why = ramp.broken_by(report.level_json(level))
            held = report.capacity["held"] if report.capacity else None
            report.capacity = {"held": level if why is None else held, "broke_at": None}
            if why is not None:
                report.capacity.update({"broke_at": level, "why": why})
                break
    report.floor["pacing_lateness_ms"] = lateness_ms(
        [ns for run in report.runs for ns in run.lateness_ns]
    )
    return report


def run_benchmark(
    sessions: Sequence[Path],
    load: Load,
    *,
    endpoint: str | None,
    out: Path,
    mock: MockConfig | None = None,
    progress: BenchProgress | None = None,
) -> BenchReport:
    """Run a benchmark against `endpoint`, or the bundled mock (`mock`'s settings) when it
    is None; `progress` hears of each level and replay as it goes."""
    with target(endpoint, mock) as where:
        return asyncio.run(run_bench(sessions, where, load, out, progress))

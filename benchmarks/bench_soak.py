"""Soak: does the mock stay complete, small and steady over an hour of audio and under load?

    python benchmarks/bench_soak.py [--minutes 60] [--sessions 10] [--engines asr,cassette]
    python benchmarks/bench_soak.py --minutes 1 --sessions 2     # a quick look

Each engine gets its own mock process (`symbl-harness mock --engine E`, serving the
`standup` fixture: its transcript, its recording for the cassette), and the engines run side
by side. Per engine, after a warm-up session (the fixture once, as fast as possible, so
models and first-use allocations are in place), two clients run at once, each its own
process so neither's event loop delays the other's stamps:
  (a) one session at 1x real time, the fixture's audio looped for --minutes;
  (b) --sessions concurrent sessions of the same audio, as fast as the socket takes it.
The mock's RSS (VmRSS) and open descriptors (/proc/PID/fd) are sampled every
--sample-every seconds. Every session is recorded as a session folder (deleted after
analysis unless --keep); an event's delay is its arrival minus the send time of the frame
holding the end of the audio it covers (a partial's last word end, a final's
timeOffset + duration). A session completes when it sent all its audio, closed with 1000,
and received every message the conversation stored (its REST messages).

Targets: every session completes; RSS growth under 50 MB per hour of audio (the slope of
RSS over the run's second half, after pools and queues filled in the max-speed burst); no
descriptor growth; the asr engine's peak RSS is stated. Baselines from the same run: each
mock's idle RSS (peak as a ratio of it), and the transcript engine (the cheap one) for
growth and event delay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray

from harness.client.conversation import ConversationApiError, ConversationClient
from harness.client.record import streaming_url
from harness.client.session import Observers, SessionError, Stream, run_session
from harness.protocol import StartRequest
from harness.session_folder.log import SessionLogWriter, read_session
from harness.session_folder.wavfile import read_pcm16

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sessions" / "standup"
ENGINES = ("asr", "transcript", "cassette")
FRAME = 1024
GROWTH_LIMIT_MB_PER_H = 50.0
SETTLE_S = 2.0
# The warm-up session: the fixture once, as fast as possible.
WARM_S = 24.0
# Audio sent within this of the plan is all of it (the last frame may be cut short).
SENT_ALL_S = 0.1
DELAY_QUANTILES = (50, 95, 99)


# ---- Pure parts: reading /proc, delays from a session log, the verdicts and the table ----


def rss_kb(status: str) -> int | None:
    """VmRSS in kB from the text of /proc/PID/status (None for a process with no memory)."""
    found = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Sample:
    """One look at the mock process."""

    t: float
    rss_kb: int
    fds: int


# Samples of the run's second half needed to judge growth by its slope.
MIN_STEADY_SAMPLES = 10


def sample(pid: int, t: float) -> Sample | None:
    """The process's RSS and descriptor count now (None once it is gone)."""
    try:
        rss = rss_kb(Path(f"/proc/{pid}/status").read_text())
        fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    return None if rss is None else Sample(t, rss, fds)


def audio_end_s(data: Any) -> float | None:
    """The end of the audio an event covers, in seconds (None for events that cover none)."""
    if not isinstance(data, dict):
        return None
    if data.get("type") == "message_response":
        ends = [
            float(m["duration"]["timeOffset"]) + float(m["duration"]["duration"])
            for m in data.get("messages") or []
            if {"timeOffset", "duration"} <= set((m.get("duration") or {}).keys())
        ]
        return max(ends, default=None)
    message = data.get("message") if data.get("type") == "message" else None
    if not isinstance(message, dict) or message.get("type") != "recognition_result":
        return None
    alternatives = message.get("payload", {}).get("raw", {}).get("alternatives") or [{}]
    words = alternatives[0].get("words") or []
    ends = [
        int(w["endTime"].get("seconds", 0)) + int(w["endTime"].get("nanos", 0)) / 1e9
        for w in words
        if isinstance(w.get("endTime"), dict)
    ]
    return max(ends, default=None)


def event_delays_ms(
    offsets: Sequence[int], sent: Sequence[float], rate: int, events: Sequence[tuple[float, Any]]
) -> list[float]:
    """Each event's arrival minus the send time of the frame holding the last sample of the
    audio it covers; frames start at `offsets` (samples) and were sent at `sent` (seconds),
    events are (arrival seconds, data)."""
    if not offsets:
        return []
    starts = np.asarray(offsets)
    delays = []
    for at, data in events:
        end = audio_end_s(data)
        if end is None:
            continue
        last = max(round(end * rate) - 1, 0)
        index = max(int(np.searchsorted(starts, last, side="right")) - 1, 0)
        delays.append((at - sent[index]) * 1000)
    return delays


def quantiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 (None each when there is nothing to rank)."""
    if not values:
        return {f"p{q}": None for q in DELAY_QUANTILES}
    array = np.asarray(values, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(array, q)), 1) for q in DELAY_QUANTILES}


@dataclass
class SessionOutcome:
    """One client session, as its driver saw it."""

    name: str
    speed: str
    audio_s: float
    planned_s: float
    close_code: int | None
    error: str | None
    received_messages: int
    stored_messages: int | None
    delays_ms: list[float] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        """All audio sent, a normal close, and every stored message received."""
        return (
            self.error is None
            and self.close_code == 1000
            and self.audio_s >= self.planned_s - SENT_ALL_S
            and self.stored_messages is not None
            and self.received_messages >= self.stored_messages
        )

    def why_not(self) -> str:
        """What stopped the session from completing."""
        if self.error or self.close_code != 1000:
            return self.error or f"closed with {self.close_code}"
        if self.audio_s < self.planned_s - SENT_ALL_S:
            return f"sent {self.audio_s:.0f} of {self.planned_s:.0f} s"
        return f"received {self.received_messages} of {self.stored_messages} stored messages"


@dataclass
class EngineRun:
    """What one engine's mock did over the run."""

    engine: str
    samples: list[Sample] = field(default_factory=list)
    idle: Sample | None = None
    warm: Sample | None = None
    end: Sample | None = None
    sessions: list[SessionOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def audio_hours(self) -> float:
        return sum(s.audio_s for s in self.sessions) / 3600

    def peak_mb(self) -> float | None:
        return max(s.rss_kb for s in self.samples) / 1024 if self.samples else None

    def growth_mb_per_h(self) -> float | None:
        """RSS growth per hour of audio. The run's first half fills the engine's pools and
        queues (bounded: that shows in the peak); a leak shows in the slope of RSS over the
        second half, when the 1x session serves an hour of audio per hour. A run sampled
        too sparsely for a slope is judged by end minus warm over all the audio served."""
        half = self.samples[-1].t / 2 if self.samples else 0.0
        steady = [s for s in self.samples if s.t >= half]
        if len(steady) >= MIN_STEADY_SAMPLES:
            slope_kb_per_s = np.polyfit([s.t for s in steady], [s.rss_kb for s in steady], 1)[0]
            return float(slope_kb_per_s) * 3600 / 1024
        if self.warm is None or self.end is None or self.audio_hours() <= 0:
            return None
        return (self.end.rss_kb - self.warm.rss_kb) / 1024 / self.audio_hours()

    def completed(self) -> int:
        return sum(s.completed for s in self.sessions)

    def delays(self, speed: str) -> dict[str, float | None]:
        return quantiles([d for s in self.sessions if s.speed == speed for d in s.delays_ms])

    def verdicts(self) -> dict[str, bool]:
        """The targets, each met or not."""
        growth = self.growth_mb_per_h()
        return {
            "all complete": bool(self.sessions) and self.completed() == len(self.sessions),
            f"RSS growth < {GROWTH_LIMIT_MB_PER_H:g} MB/h": growth is not None
            and growth < GROWTH_LIMIT_MB_PER_H,
            "no fd growth": self.warm is not None
            and self.end is not None
            and self.end.fds <= self.warm.fds,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "completed": self.completed(),
            "sessions": len(self.sessions),
            "audio_hours": round(self.audio_hours(), 4),
            "idle": asdict(self.idle) if self.idle else None,
            "warm": asdict(self.warm) if self.warm else None,
            "end": asdict(self.end) if self.end else None,
            "peak_mb": self.peak_mb(),
            "growth_mb_per_h": self.growth_mb_per_h(),
            "delays_ms": {"1x": self.delays("1x"), "max": self.delays("max")},
            "verdicts": self.verdicts(),
            "problems": self.problems,
            "outcomes": [
                {**asdict(s), "delays_ms": quantiles(s.delays_ms), "completed": s.completed}
                for s in self.sessions
            ],
            "samples": [asdict(s) for s in self.samples],
        }


def _mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(runs: Sequence[EngineRun]) -> str:
    """The per-engine table, the ratios against the same run's baselines, and the verdicts."""
    lines = [
        f"{'engine':<10} {'done':>6} {'audio h':>7} {'RSS MB idle':>11} {'warm':>5} {'peak':>5} "
        f"{'end':>5} {'MB/h':>6} {'fds':>7} {'1x delay ms p50/p95/p99':>23} "
        f"{'max-speed p50/p95/p99':>23}"
    ]
    for run in runs:
        growth = run.growth_mb_per_h()
        fds = f"{run.warm.fds if run.warm else '-'}>{run.end.fds if run.end else '-'}"
        delays = {
            speed: "/".join(_ms(v) for v in run.delays(speed).values()) for speed in ("1x", "max")
        }
        peak = run.peak_mb()
        lines.append(
            f"{run.engine:<10} {run.completed():>3}/{len(run.sessions):<2} "
            f"{run.audio_hours():>7.2f} {_mb(run.idle.rss_kb if run.idle else None):>11} "
            f"{_mb(run.warm.rss_kb if run.warm else None):>5} "
            f"{'-' if peak is None else f'{peak:.0f}':>5} "
            f"{_mb(run.end.rss_kb if run.end else None):>5} "
            f"{'-' if growth is None else f'{growth:.1f}':>6} {fds:>7} "
            f"{delays['1x']:>23} {delays['max']:>23}"
        )
    lines.append("")
    base = next((r for r in runs if r.engine == "transcript"), None)
    for run in runs:
        ratios = []
        peak = run.peak_mb()
        if run.idle and peak is not None:
            ratios.append(f"peak {peak / (run.idle.rss_kb / 1024):.2f}x its idle RSS")
        if base is not None and base is not run:
            ours, theirs = run.delays("1x")["p99"], base.delays("1x")["p99"]
            if ours is not None and theirs:
                ratios.append(f"1x delay p99 {ours / theirs:.2f}x transcript's")
            if peak is not None and (base_peak := base.peak_mb()):
                ratios.append(f"peak RSS {peak / base_peak:.2f}x transcript's")
        verdicts = ", ".join(
            f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in run.verdicts().items()
        )
        lines.append(f"{run.engine:<10} {verdicts}; {'; '.join(ratios)}")
        if run.engine == "asr" and peak is not None:
            lines.append(f"{'':<10} asr engine peak RSS: {peak:.0f} MB")
        if run.audio_hours() < 1:
            lines.append(
                f"{'':<10} (under an hour of audio: growth per hour is mostly first-use "
                "allocation; the default run gives the verdict)"
            )
        for outcome in run.sessions:
            if not outcome.completed:
                lines.append(f"{'':<10} not completed: {outcome.name}: {outcome.why_not()}")
        lines.extend(f"{'':<10} {problem}" for problem in run.problems)
    return "\n".join(lines)


# ---- The client side: a driver process runs sessions and prints their outcomes ----


def looped(audio: NDArray[np.int16], seconds: float, rate: int) -> Iterator[NDArray[np.int16]]:
    """The audio in frames, from the top again at its end, for `seconds`."""
    left = round(seconds * rate)
    position = 0
    while left > 0:
        frame = audio[position : position + min(FRAME, left)]
        if frame.size < min(FRAME, left):
            # Across the seam, so every frame but the last is whole.
            frame = np.concatenate((frame, audio[: min(FRAME, left) - frame.size]))
        position = (position + frame.size) % audio.size
        left -= frame.size
        yield frame


async def one_session(args: argparse.Namespace, name: str, folder: Path) -> SessionOutcome:
    """Record one session, then read its log for completion and delays."""
    audio = read_pcm16(FIXTURE / "audio.wav")
    seconds = args.seconds
    speed = 1.0 if args.speed == "1x" else None
    url = streaming_url(args.endpoint, name, args.token)
    stream = Stream(
        StartRequest(sample_rate_hertz=audio.sample_rate),
        looped(audio.samples, seconds, audio.sample_rate),
        speed=speed,
    )
    # As fast as possible, a slow engine may still be working through its backlog.
    watch = Observers(stop_timeout_s=max(60.0, seconds))
    outcome = SessionOutcome(name, args.speed, 0.0, seconds, None, None, 0, None)
    try:
        with SessionLogWriter(
            folder, endpoint=url, sample_rate=audio.sample_rate, secrets=[args.token]
        ) as log:
            result = await run_session(url, stream, log=log, observers=watch)
    except SessionError as error:
        outcome.error = str(error)
        return outcome
    outcome.audio_s = result.samples_sent / audio.sample_rate
    outcome.close_code = result.close_code
    outcome.error = result.error
    recorded = read_session(folder)
    received = [(f.t, f.data) for f in recorded.received()]
    frames = recorded.audio_frames()
    outcome.delays_ms = event_delays_ms(
        [f.offset for f in frames], [f.t for f in frames], recorded.sample_rate, received
    )
    outcome.received_messages = len(
        {
            str(m.get("id"))
            for _, data in received
            if isinstance(data, dict) and data.get("type") == "message_response"
            for m in data.get("messages") or []
        }
    )
    if result.conversation_id:
        base = args.endpoint.replace("ws", "http", 1)
        try:
            with ConversationClient(base, args.token) as client:
                stored = client.get(result.conversation_id, "messages").get("messages", [])
            outcome.stored_messages = len(stored)
        except ConversationApiError as error:
            outcome.error = outcome.error or f"messages not fetched: {error}"
    return outcome


async def drive(args: argparse.Namespace) -> list[SessionOutcome]:
    """Run `--sessions` sessions at once; each folder goes once it is read, unless kept."""
    names = [f"{FIXTURE.name}--{args.label}-{i}" for i in range(args.sessions)]
    outcomes = await asyncio.gather(
        *(one_session(args, name, args.out / name) for name in names), return_exceptions=True
    )
    done = []
    for name, outcome in zip(names, outcomes, strict=True):
        done.append(
            SessionOutcome(name, args.speed, 0.0, args.seconds, None, repr(outcome), 0, None)
            if isinstance(outcome, BaseException)
            else outcome
        )
        if not args.keep:
            shutil.rmtree(args.out / name, ignore_errors=True)
    return done


# ---- The orchestration: mocks, drivers, sampling ----


def start_mock(engine: str, errors: Path) -> tuple[subprocess.Popen[str], str]:
    """A mock process for one engine (its stderr to `errors`), and its REST base URL."""
    serving = {"transcript": ["--transcript"], "cassette": ["--cassette"]}.get(engine)
    command = [sys.executable, "-m", "harness.cli", "mock", "--port", "0", "--engine", engine]
    if serving:
        command += [*serving, str(FIXTURE)]
    with errors.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if found := re.search(r"REST\s+(http://\S+)", line):
            # Keep reading its output, or the mock would block once the pipe fills.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, found.group(1)
    raise RuntimeError(f"the {engine} mock ended before it said where it listens")


@dataclass(frozen=True)
class Served:
    """A running mock as its clients need it, and where their session folders go."""

    base: str
    token: str
    out: Path
    keep: bool


def driver(
    mock: Served, label: str, speed: str, sessions: int, seconds: float
) -> subprocess.Popen[str]:
    """A client process running `sessions` sessions at once against the mock."""
    command = [
        sys.executable, __file__, "--drive", label, "--speed", speed,
        "--sessions", str(sessions), "--seconds", str(seconds), "--out", str(mock.out),
        "--endpoint", mock.base.replace("http", "ws", 1), "--token", mock.token,
    ]  # fmt: skip
    if mock.keep:
        command.append("--keep")
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def outcomes_of(process: subprocess.Popen[str]) -> tuple[list[SessionOutcome], str | None]:
    """A finished driver's sessions (or what went wrong with it)."""
    output, _ = process.communicate()
    try:
        return [SessionOutcome(**o) for o in json.loads(output)], None
    except (ValueError, TypeError):
        return [], f"a driver ended with {process.returncode} and no result"


class Sampler(threading.Thread):
    """Samples one process every `every` seconds until told to stop."""

    def __init__(self, pid: int, every: float, into: list[Sample]) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.into = pid, every, into
        self.done = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.every):
            if (now := sample(self.pid, time.monotonic() - self.t0)) is None:
                return
            self.into.append(now)


def run_engine(engine: str, args: argparse.Namespace, run: EngineRun) -> None:
    """Idle, warm-up, then the real-time and the max-speed clients at once; then settle."""
    out = args.work / engine
    errors = args.work / f"{engine}-mock.log"
    try:
        mock, base = start_mock(engine, errors)
    except RuntimeError as error:
        run.problems.append(str(error))
        return
    try:
        token = httpx.post(
            f"{base}/oauth2/token:generate",
            json={"type": "application", "appId": "soak", "appSecret": "soak"},
        ).json()["accessToken"]
        served = Served(base, token, out, args.keep)
        run.idle = sample(mock.pid, 0.0)
        sampler = Sampler(mock.pid, args.sample_every, run.samples)
        sampler.start()
        warm, _ = outcomes_of(driver(served, "warm", "max", 1, WARM_S))
        if not warm or not warm[0].completed:
            run.problems.append(
                f"warm-up did not complete: {warm[0].why_not() if warm else 'no result'}"
            )
        run.warm = sample(mock.pid, time.monotonic() - sampler.t0)
        seconds = args.minutes * 60
        clients = [
            driver(served, "rt", "1x", 1, seconds),
            driver(served, "max", "max", args.sessions, seconds),
        ]
        for client in clients:
            outcomes, problem = outcomes_of(client)
            run.sessions.extend(outcomes)
            if problem:
                run.problems.append(problem)
        time.sleep(SETTLE_S)
        run.end = sample(mock.pid, time.monotonic() - sampler.t0)
        sampler.done.set()
        sampler.join()
        if run.end is None:
            said = errors.read_text().strip().splitlines()[-3:]
            run.problems.append(f"the mock ended with {mock.poll()} during the run: {said}")
    finally:
        mock.terminate()
        mock.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="audio per session")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent max-speed sessions")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    parser.add_argument("--json", type=Path, default=Path("soak-result.json"))
    parser.add_argument("--keep", action="store_true", help="keep the session folders")
    # A driver process (run by the benchmark itself).
    parser.add_argument("--drive", dest="label", help=argparse.SUPPRESS)
    parser.add_argument("--speed", choices=("1x", "max"), help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.label:
        print(json.dumps([asdict(o) for o in asyncio.run(drive(args))]))
        return
    engines = [e for e in args.engines.split(",") if e]
    print(
        f"soak: {FIXTURE.name} looped; per engine (side by side): 1 session of "
        f"{args.minutes:g} min at 1x and {args.sessions} at max speed at once; "
        f"mock RSS/fds every {args.sample_every:g} s"
    )
    runs = [EngineRun(engine) for engine in engines]
    args.work = Path(tempfile.mkdtemp(prefix="soak-"))
    started = time.monotonic()
    threads = [threading.Thread(target=run_engine, args=(run.engine, args, run)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if args.keep:
        print(f"session folders kept in {args.work}")
    else:
        shutil.rmtree(args.work, ignore_errors=True)
    print(f"ran {time.monotonic() - started:.0f} s\n")
    print(table(runs))
    args.json.write_text(
        json.dumps({"minutes": args.minutes, "sessions": args.sessions,
                    "engines": [run.summary() for run in runs]}, indent=1) + "\n"
    )  # fmt: skip
    print(f"\nwritten: {args.json}")
    if not all(all(run.verdicts().values()) for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()

"""`symbl-harness record` at run time: endpoint and credentials, display, Ctrl-C, exit codes.

Exit codes: 0 recorded; 1 the endpoint refused, failed or dropped the session; 2 unusable
input; 130 aborted by a second Ctrl-C. Whatever was captured stays in the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live

from harness.audio.sources import FileSource, MicSource
from harness.client.auth import AuthError
from harness.client.record import Destination, Recording, record
from harness.client.session import Observers, SessionError, Stream
from harness.modes import Display
from harness.protocol import Event, StartRequest
from harness.serve import AbortError
from harness.session_folder.log import SessionLogError
from harness.tools.latency import lateness_ms
from harness.tools.live import JsonEvents, LiveView
from harness.tools.replay import ReplayPlan, replay_stream
from harness.tools.targets import target
from mock_symbl import MockConfig

Source = FileSource | MicSource | ReplayPlan
ABORTED = 130


@dataclass(frozen=True)
class RecordTake:
    """One recording to make: from which source, with which start request, to which folder."""

    folder: Path
    source: Source
    start: StartRequest
    connection_id: str
    speed: float | None = 1.0
    duration_s: float | None = None
    stop_timeout_s: float = 30.0
    display: Display = Display.QUIET

    @classmethod
    def replaying(
        cls,
        plan: ReplayPlan,
        folder: Path,
        speed: float | None,
        display: Display,
        stop_timeout_s: float = 30.0,
    ) -> RecordTake:
        """A replay of a planned session, under its own connection id and start request."""
        return cls(
            folder,
            plan,
            plan.start,
            plan.connection_id,
            speed=speed,
            stop_timeout_s=stop_timeout_s,
            display=display,
        )

    def stream(self) -> Stream:
        """What the take sends."""
        about = {"source": _describe(self.source)}
        if isinstance(self.source, ReplayPlan):
            replayed = replay_stream(self.source, self.speed, self.folder)
            return dataclasses.replace(
                replayed, duration_s=self.duration_s, about={**about, **replayed.about}
            )
        return Stream(
            self.start, self.source.frames(), self.speed, duration_s=self.duration_s, about=about
        )


@dataclass
class TakeOutcome:
    """How a take ended: its exit code, a message for the user, and the recording."""

    code: int
    message: str
    recording: Recording | None = None
    # Stopped early by a first Ctrl-C (or SIGTERM): what was recorded is complete but short.
    interrupted: bool = False


class _AbortedError(AbortError):
    """A take aborted by a second Ctrl-C, leaving the bundled mock without waiting for it."""

    def __init__(self, outcome: TakeOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def run_take(take: RecordTake, endpoint: str | None, mock: MockConfig | None = None) -> TakeOutcome:
    """Record against `endpoint`, or the bundled mock when it is None."""
    try:
        with target(endpoint, mock) as where:
            destination = where.destination(take.connection_id)
            outcome = asyncio.run(_take(take, destination))
            if outcome.code == ABORTED:
                raise _AbortedError(outcome)
            speech = where.mock.engines.speech_engine(take.connection_id) if where.mock else None
    except AuthError as error:
        return TakeOutcome(1, f"error: {error}")
    except _AbortedError as aborted:
        return aborted.outcome
    if speech is not None and outcome.recording is not None:
        outcome.message += (
            f"\nnote: the bundled mock answered with its {speech} engine (speech recognition, "
            "not a recording or a transcript): its text is not a baseline"
        )
    return outcome


async def _take(take: RecordTake, destination: Destination) -> TakeOutcome:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()
    assert task is not None
    console = Console(stderr=True)

    def interrupted() -> None:
        if stop.is_set():
            task.cancel()
            return
        stop.set()
        console.print("[yellow]stopping: stop_request sent (Ctrl-C again to abort)[/]")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)
    total = (
        round(take.source.seconds * take.source.rate)
        if isinstance(take.source, ReplayPlan)
        else None
    )
    view = LiveView(take.source.rate, total_samples=total)
    events = JsonEvents(sys.stdout) if take.display is Display.JSON else None

    def on_event(event: Event) -> None:
        view.event(event)
        if events is not None:
            events.event(event)

    live = (
        Live(view, refresh_per_second=8)
        if take.display is Display.LIVE
        else contextlib.nullcontext()
    )
    try:
        with live:
            recording = await record(
                take.folder,
                take.stream(),
                destination,
                Observers(stop, on_event, view.frame, take.stop_timeout_s),
            )
    except asyncio.CancelledError:
        said = f"error: aborted by a second Ctrl-C; what was captured is in {take.folder}"
        return TakeOutcome(ABORTED, said)
    except SessionError as error:
        return TakeOutcome(1, f"error: {error} (the attempt is logged in {take.folder})")
    except SessionLogError as error:
        return TakeOutcome(2, f"error: {error}")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    result = recording.result
    assert result is not None
    seconds = result.samples_sent / take.source.rate
    verb = "replayed into" if isinstance(take.source, ReplayPlan) else "recorded"
    summary = (
        f"{verb} {take.folder}: {seconds:.1f} s of audio, "
        f"{len(result.final_transcripts)} messages, conversation {result.conversation_id}"
    )
    pacing = lateness_ms(result.lateness_ns)
    if pacing:
        summary += (
            f"; pacing lateness p50 {pacing['p50']:.3f} ms, p99 {pacing['p99']:.3f} ms, "
            f"max {pacing['max']:.3f} ms"
        )
    if result.error:
        hint = " (raise --stop-timeout to wait longer)" if result.stop_timed_out else ""
        said = f"error: {result.error}{hint}; {summary}"
        return TakeOutcome(1, said, recording, stop.is_set())
    problems = "".join(f"\nwarning: {p}" for p in recording.problems)
    return TakeOutcome(0, summary + problems, recording, stop.is_set())


def _describe(source: Source) -> str:
    if isinstance(source, ReplayPlan):
        return f"replay of {source.folder}"
    if isinstance(source, FileSource):
        return f"file {source.frame_samples}-sample frames at {source.rate} Hz"
    return f"microphone {source.device or 'default'} at {source.rate} Hz"

"""`symbl-harness record` at run time: endpoint and credentials, display, Ctrl-C, exit codes.

Exit codes: 0 recorded; 1 the endpoint refused, failed or dropped the session; 2 unusable
input; 130 aborted by a second Ctrl-C. Whatever was captured stays in the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from harness.audio.sources import FileSource, MicSource
from harness.client.auth import AuthError, TokenSource
from harness.client.record import Recording, record
from harness.client.session import SessionError
from harness.protocol import Event, StartRequest
from harness.session_folder.log import SessionLogError
from harness.tools.latency import lateness_ms
from harness.tools.live import JsonEvents, LiveView
from harness.tools.replay import ReplayPlan
from mock_symbl.web.app import MockConfig
from mock_symbl.web.server import running_mock

Source = FileSource | MicSource | ReplayPlan
ABORTED = 130


@dataclass(frozen=True)
class RecordTake:
    """One recording to make."""

    folder: Path
    source: Source
    start: StartRequest
    connection_id: str
    speed: float | None
    duration_s: float | None
    stop_timeout_s: float
    display: str  # "live" (a terminal), "json" (one object per event) or "quiet"
    schedule: Sequence[float] | None = None
    header: dict[str, Any] = field(default_factory=dict)


@dataclass
class TakeOutcome:
    """How a take ended: its exit code, a message for the user, and the recording."""

    code: int
    message: str
    recording: Recording | None = None


def run_take(take: RecordTake, endpoint: str | None, mock: MockConfig | None = None) -> TakeOutcome:
    """Record against `endpoint`, or an in-process mock when it is None."""
    with contextlib.ExitStack() as stack:
        environ = None
        if endpoint is None:
            running = stack.enter_context(running_mock(mock or MockConfig()))
            endpoint = running.ws_url
            # The in-process mock accepts any pair; these exist only for this run.
            environ = {"SYMBL_APP_ID": "symbl-harness", "SYMBL_APP_SECRET": secrets.token_hex(16)}
        try:
            tokens = TokenSource(endpoint, environ)
            token = tokens.token()
        except AuthError as error:
            return TakeOutcome(1, f"error: {error}")
        return asyncio.run(_take(take, endpoint, token, tokens.secrets))


async def _take(take: RecordTake, endpoint: str, token: str, known: list[str]) -> TakeOutcome:
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
    events = JsonEvents(sys.stdout) if take.display == "json" else None
    frames = take.source.frames()

    def on_event(event: Event) -> None:
        view.event(event)
        if events is not None:
            events.event(event)

    live = Live(view, refresh_per_second=8) if take.display == "live" else contextlib.nullcontext()
    try:
        with live:
            recording = await record(
                take.folder,
                endpoint=endpoint,
                connection_id=take.connection_id,
                token=token,
                start=take.start,
                frames=frames,
                speed=take.speed,
                stop=stop,
                secrets=known,
                duration_s=take.duration_s,
                stop_timeout_s=take.stop_timeout_s,
                on_event=on_event,
                on_frame=view.frame,
                header={"source": _describe(take.source), **take.header},
                schedule=take.schedule,
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
        return TakeOutcome(1, f"error: {result.error}; {summary}", recording)
    problems = "".join(f"\nwarning: {p}" for p in recording.problems)
    return TakeOutcome(0, summary + problems, recording)


def _describe(source: Source) -> str:
    if isinstance(source, ReplayPlan):
        return f"replay of {source.folder}"
    if isinstance(source, FileSource):
        return f"file {source.frame_samples}-sample frames at {source.rate} Hz"
    return f"microphone {source.device or 'default'} at {source.rate} Hz"

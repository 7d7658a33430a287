"""Replay a recorded session: its start request and audio frames, on its own schedule.

Frame k goes out `t_k - t_0` seconds (the recorded send times) after the first, divided by
the speed; `max` sends as fast as the connection takes frames. Pacing is measured, not
assumed: every frame's lateness against its deadline is in the result.

A session whose client sent another encoding (its header's `wire_encoding`: Opus, MULAW,
FLAC) is replayed as the PCM in its `audio.wav`, declared LINEAR16 at the recorded rate:
those are the very samples the recorded server decoded and heard, where encoding them again
would add a second lossy generation and still not give the client's bytes back (they are
not kept). A decoded frame is cut to the protocol's 8,192 bytes, its pieces sent at its time;
a frame that decoded to nothing (a header, part of a page) sends nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.client.record import Destination, Recording, record
from harness.client.session import Observers, Stream
from harness.errors import HarnessError
from harness.protocol import StartRequest, StartRequestError
from harness.session_folder.log import (
    AudioFrame,
    SessionLog,
    SessionLogError,
    TextFrame,
    read_session,
)

# The protocol's largest binary frame, in Int16 samples.
MAX_FRAME_SAMPLES = 4096


class ReplayError(HarnessError):
    """A session folder that cannot be replayed; the message is one line."""


@dataclass(frozen=True)
class ReplayPlan:
    """What to send, and when."""

    folder: Path
    start: StartRequest
    audio: list[NDArray[np.int16]]
    schedule: list[float]
    connection_id: str
    warnings: list[str] = field(default_factory=list)

    @property
    def rate(self) -> int:
        """The sample rate of the recorded audio."""
        return self.start.sample_rate_hertz or 16000

    @property
    def seconds(self) -> float:
        """How much audio the plan sends."""
        return sum(frame.size for frame in self.audio) / self.rate

    def frames(self) -> Iterator[NDArray[np.int16]]:
        """The recorded frames, in order."""
        return iter(self.audio)


def plan_replay(folder: Path) -> ReplayPlan:
    """Read a session folder and plan its replay; raises ReplayError naming the problem."""
    try:
        log = read_session(folder)
    except SessionLogError as error:
        raise ReplayError(str(error)) from None
    return plan_from(log)


def plan_from(log: SessionLog) -> ReplayPlan:
    """Plan the replay of an already read session."""
    sent = [r for r in log.records if isinstance(r, TextFrame) and r.direction == "send"]
    starts = [
        r.data for r in sent if isinstance(r.data, dict) and r.data.get("type") == "start_request"
    ]
    if not starts:
        raise ReplayError(f"{log.folder} has no start_request to replay")
    try:
        start = StartRequest.from_json(starts[0])
    except StartRequestError as error:
        raise ReplayError(f"{log.folder}: its start_request is invalid ({error})") from None
    if start.sample_rate_hertz is None:
        start = dataclasses.replace(start, sample_rate_hertz=log.sample_rate)
    audio = log.audio_frames()
    if not audio:
        raise ReplayError(f"{log.folder} sent no audio: nothing to replay")
    first = audio[0].t
    frames = [(frame.t, log.audio_of(frame)) for frame in audio]
    if "wire_encoding" in log.header:
        start = dataclasses.replace(start, encoding="LINEAR16", sample_rate_hertz=log.sample_rate)
        frames = _decoded_frames(log, audio)
        if not frames:
            raise ReplayError(f"{log.folder}: its audio decoded to no samples: nothing to replay")
    connection_id = str(log.header.get("connection_id") or log.folder.name)
    return ReplayPlan(
        folder=log.folder,
        start=start,
        audio=[samples for _, samples in frames],
        schedule=[max(0.0, t - first) for t, _ in frames],
        connection_id=connection_id,
        warnings=[problem for problem in log.problems if "no footer" not in problem]
        + (["the recording was interrupted; replaying what it has"] if not log.complete else []),
    )


def _decoded_frames(
    log: SessionLog, audio: list[AudioFrame]
) -> list[tuple[float, NDArray[np.int16]]]:
    """A decoded session's frames as PCM frames the protocol takes: none empty, none over
    8,192 bytes."""
    frames = []
    for frame in audio:
        samples = log.audio_of(frame)
        for at in range(0, samples.size, MAX_FRAME_SAMPLES):
            frames.append((frame.t, samples[at : at + MAX_FRAME_SAMPLES]))
    return frames


def replay_stream(plan: ReplayPlan, speed: float | None, into: Path | None = None) -> Stream:
    """The plan as a stream: its start request and frames on its schedule, at `speed`; its
    log's header names the session replayed (`replay_of`, and from `into`, the folder the
    replay is recorded in, `replay_of_relative`)."""
    source = plan.folder.resolve()
    about: dict[str, Any] = {"replay_of": str(source)}
    if into is not None:
        # Holds when the replay and its source move together (a tree of sessions copied).
        about["replay_of_relative"] = os.path.relpath(source, into.resolve())
    about["speed"] = "max" if speed is None else speed
    return Stream(plan.start, plan.frames(), speed=speed, schedule=plan.schedule, about=about)


def replay_source(folder: Path, header: Mapping[str, Any]) -> Path | None:
    """The session folder that the replay recorded in `folder` replayed, if it is still
    there: found from the replay's own folder first, then where it was when replayed."""
    candidates = []
    relative = header.get("replay_of_relative")
    if isinstance(relative, str) and relative:
        candidates.append(Path(os.path.normpath(folder / relative)))
    recorded = header.get("replay_of")
    if isinstance(recorded, str) and recorded:
        candidates.append(Path(recorded))
    return next((path for path in candidates if path.is_dir()), None)


async def replay(
    plan: ReplayPlan,
    folder: Path,
    to: Destination,
    speed: float | None,
    observers: Observers | None = None,
) -> Recording:
    """Replay a planned session to `to`, recorded as a new session folder."""
    return await record(folder, replay_stream(plan, speed, folder), to, observers)

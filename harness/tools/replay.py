"""Replay a recorded session: its start request and audio frames, on its own schedule.

Frame k goes out `t_k - t_0` seconds (the recorded send times) after the first, divided by
the speed; `max` sends as fast as the connection takes frames. Pacing is measured, not
assumed: every frame's lateness against its deadline is in the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from harness.client.record import Destination, Recording, record
from harness.client.session import Observers, Stream
from harness.errors import HarnessError
from harness.protocol import StartRequest, StartRequestError
from harness.session_folder.log import SessionLog, SessionLogError, TextFrame, read_session


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
    connection_id = str(log.header.get("connection_id") or log.folder.name)
    return ReplayPlan(
        folder=log.folder,
        start=start,
        audio=[log.audio_of(frame) for frame in audio],
        schedule=[max(0.0, frame.t - first) for frame in audio],
        connection_id=connection_id,
        warnings=[problem for problem in log.problems if "no footer" not in problem]
        + (["the recording was interrupted; replaying what it has"] if not log.complete else []),
    )


def replay_stream(plan: ReplayPlan, speed: float | None) -> Stream:
    """The plan as a stream: its start request and frames on its schedule, at `speed`."""
    return Stream(
        plan.start,
        plan.frames(),
        speed=speed,
        schedule=plan.schedule,
        about={"replay_of": str(plan.folder), "speed": "max" if speed is None else speed},
    )


async def replay(
    plan: ReplayPlan,
    folder: Path,
    to: Destination,
    speed: float | None,
    observers: Observers | None = None,
) -> Recording:
    """Replay a planned session to `to`, recorded as a new session folder."""
    return await record(folder, replay_stream(plan, speed), to, observers)

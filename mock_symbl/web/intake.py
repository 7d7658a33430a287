"""What a client sent, read as it arrived, waiting in order for its session.

The socket's reader puts every frame here at once; the session's worker takes them in
order. The intake knows how long the next frame waited, how much audio waits, and when
a stop request (or the client's leaving) arrived: what `Backlog.pace()` needs.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass


class Marker(enum.Enum):
    """What ends the frames: the client left (or the reader stopped), or fell silent."""

    END = "end"
    SILENCE = "silence"


END = Marker.END
SILENCE = Marker.SILENCE


@dataclass(frozen=True, slots=True)
class Arrived:
    """A frame, the loop time it was read at, and whether it asks to stop."""

    frame: str | bytes
    at: float
    stop: bool = False


class Intake:
    """An unbounded FIFO of frames whose audio the backlog rules keep in bounds: audio
    that waits too long, or too much of it, is skimmed, which empties the queue fast."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._queue: asyncio.Queue[Arrived | Marker] = asyncio.Queue()
        self.audio_bytes = 0
        self._stop_at: float | None = None

    def text(self, text: str, *, stop: bool) -> None:
        """A text frame; `stop` if it asks to end recognition."""
        if stop and self._stop_at is None:
            self._stop_at = self._clock()
        self._queue.put_nowait(Arrived(text, self._clock(), stop))

    def audio(self, data: bytes) -> None:
        """A binary frame."""
        self.audio_bytes += len(data)
        self._queue.put_nowait(Arrived(data, self._clock()))

    def put(self, marker: Marker) -> None:
        """The end of the frames (the client's leaving counts as a stop)."""
        if self._stop_at is None:
            self._stop_at = self._clock()
        self._queue.put_nowait(marker)

    def hurry(self) -> None:
        """The server is stopping: what still waits is past its stop already."""
        self._stop_at = -math.inf

    async def get(self) -> Arrived | Marker:
        """The next frame or marker, in the order they arrived."""
        item = await self._queue.get()
        if isinstance(item, Arrived):
            if isinstance(item.frame, bytes):
                self.audio_bytes -= len(item.frame)
            elif item.stop:
                # Served now: a session that resumes after it streams at its own pace.
                self._stop_at = None
        return item

    def waited(self, item: Arrived) -> float:
        """Seconds since `item` arrived."""
        return self._clock() - item.at

    def stopping_for(self) -> float | None:
        """Seconds since a stop request (or the end) arrived; None if none has."""
        return None if self._stop_at is None else self._clock() - self._stop_at

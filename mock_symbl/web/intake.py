"""What a client sent, read as it arrived, waiting in order for its session.

The socket's reader puts every frame here at once; the session's worker takes them in
order. The intake knows how long the next frame waited, how much waits, and when the
stop requests (or the client's leaving) arrived: what `Backlog.pace()` needs.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mock_symbl.session.conversation import StopTimeout


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


@dataclass(frozen=True, slots=True)
class FaultsDue:
    """Faults a plan fires after the frames before it (served in order with them)."""

    faults: tuple[str, ...]
    frames: int


Item = Arrived | Marker | FaultsDue | StopTimeout


class Intake:
    """A FIFO of frames whose audio the backlog rules keep in bounds: audio that waits
    too long, or too much of it, is skimmed, which empties the queue fast."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()
        self.queued_bytes = 0
        self.text_bytes = 0
        # When each stop request still waiting (or the end) arrived, oldest first.
        self._stops: deque[float] = deque()
        self._hurried = False
        self.closed = False

    def text(self, text: str, *, stop: bool) -> None:
        """A text frame; `stop` if it asks to end recognition."""
        if stop:
            self._stops.append(self._clock())
        self.text_bytes += len(text)
        self._put(Arrived(text, self._clock(), stop))

    def audio(self, data: bytes) -> None:
        """A binary frame."""
        self.queued_bytes += len(data)
        self._put(Arrived(data, self._clock()))

    def put(self, item: Marker | FaultsDue | StopTimeout) -> None:
        """A marker (the end counts as a stop), faults due after the frames so far, or a
        stopped socket's time running out."""
        if item is END:
            self._stops.append(self._clock())
        self._put(item)

    def hurry(self) -> None:
        """The server is stopping: whatever waits is past its stop already."""
        self._hurried = True

    def close(self) -> None:
        """Serve nothing more: what waits is dropped, and what arrives from now on."""
        if not self.closed:
            self._items.clear()
            self._items.append(END)
            self._ready.set()
            self.closed = True

    def _put(self, item: Item) -> None:
        if not self.closed:
            self._items.append(item)
            self._ready.set()

    async def get(self) -> Item:
        """The next item, in the order they arrived."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._taken(self._items.popleft())

    def audio_run(self) -> list[bytes]:
        """The audio frames at the head of the queue, up to the next other item."""
        frames: list[bytes] = []
        while self._items:
            head = self._items[0]
            if not (isinstance(head, Arrived) and isinstance(head.frame, bytes)):
                break
            self._taken(self._items.popleft())
            frames.append(head.frame)
        return frames

    def _taken(self, item: Item) -> Item:
        if isinstance(item, Arrived):
            if isinstance(item.frame, bytes):
                self.queued_bytes -= len(item.frame)
            else:
                self.text_bytes -= len(item.frame)
                if item.stop and self._stops:
                    # Served now: a session that resumes after it streams at its own pace.
                    self._stops.popleft()
        return item

    def waited(self, item: Arrived) -> float:
        """Seconds since `item` arrived."""
        return self._clock() - item.at

    def stopping_for(self) -> float | None:
        """Seconds since the oldest stop request (or the end) still waiting arrived; None
        if none is waiting."""
        if self._hurried:
            return float("inf")
        return self._clock() - self._stops[0] if self._stops else None

"""The `cassette` engine: answer with the server events of a recorded session folder.

Each recorded event is released once the client has sent as many samples (in time, if
the rates differ) as the recorded client had sent before it arrived, so a recording
replays to any client at any speed with its events at the same audio positions. Events
the recording received after its stop request are released when this client stops.
Lifecycle messages are not replayed: the streaming session sends its own. Ids are
rewritten consistently (the same recorded id always becomes the same new one) and
wall-clock times are moved to the new conversation's start.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.protocol import message_type
from harness.session_folder.log import SessionLog, TextFrame
from mock_symbl.engines.base import Replayed

LIFECYCLE = frozenset(
    {
        "conversation_created",
        "started_listening",
        "recognition_started",
        "recognition_stopped",
        "conversation_completed",
    }
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Rewriter:
    """Map recorded ids to new ones and move recorded times by a fixed shift."""

    def __init__(self, conversation: tuple[str, str], new_id: Callable[[], str], shift: timedelta):
        self._ids = {conversation[0]: conversation[1]}
        self._new_id = new_id
        self._shift = shift

    def _time(self, match: re.Match[str]) -> str:
        moved = _parse_iso(match.group(0)) + self._shift
        return moved.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def __call__(self, value: Any) -> Any:
        """The value with every id and time rewritten."""
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            if value in self._ids:
                return self._ids[value]
            if _UUID.match(value):
                return self._ids.setdefault(value, self._new_id())
            return _ISO.sub(self._time, value)
        return value


class CassetteRecognizer:
    """Replays one recorded session's server events against this client's audio."""

    def __init__(self, log: SessionLog, offset_s: float = 0.0) -> None:
        """`offset_s`: where this client's audio starts in the recording's (matched by
        audio: the client may have trimmed the start, or added silence before it)."""
        self._rate = log.sample_rate
        self._offset_s = offset_s
        stop_index = next(
            (
                i
                for i, r in enumerate(log.records)
                if isinstance(r, TextFrame)
                and r.direction == "send"
                and isinstance(r.data, dict)
                and r.data.get("type") in ("stop_request", "stop_recognition")
            ),
            len(log.records),
        )
        self._timed: list[tuple[int, dict[str, Any]]] = []
        self._tail: list[dict[str, Any]] = []
        self.recorded_conversation_id = ""
        for index, record in enumerate(log.records):
            if not (isinstance(record, TextFrame) and record.direction == "recv"):
                continue
            if not isinstance(record.data, dict):
                continue
            kind = message_type(record.data)
            if kind in LIFECYCLE:
                data = record.data.get("message", {}).get("data") or {}
                self.recorded_conversation_id = self.recorded_conversation_id or str(
                    data.get("conversationId", "")
                )
                continue
            if index > stop_index:
                self._tail.append(record.data)
            else:
                self._timed.append((record.position, record.data))
        created = str(log.header.get("created") or "")
        self.recorded_start = _parse_iso(created) if created else datetime.now(UTC)
        self._next = 0
        self._samples = 0
        self._client_rate = 0
        self._rewrite: Rewriter | None = None

    def bind(self, conversation_id: str, started: datetime, new_id: Callable[[], str]) -> None:
        """Rewrite ids to this conversation's and times to its start."""
        self._rewrite = Rewriter(
            (self.recorded_conversation_id, conversation_id), new_id, started - self.recorded_start
        )

    @property
    def rewrite(self) -> Callable[[Any], Any] | None:
        """What moves the recording's ids and times to this conversation's, once bound."""
        return self._rewrite

    def _out(self, data: dict[str, Any]) -> Replayed:
        return Replayed(self._rewrite(data) if self._rewrite is not None else data)

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> list[Replayed]:
        """Release every event whose recorded audio position this client has now reached."""
        if self._client_rate and sample_rate != self._client_rate:
            # Keep the position in time when the client changes its rate mid-stream.
            self._samples = round(self._samples * sample_rate / self._client_rate)
        self._client_rate = sample_rate
        self._samples += int(np.asarray(samples).size)
        out = []
        # Compare times exactly: samples / rate >= position / recorded rate.
        reached = self._samples * self._rate + round(self._offset_s * self._rate * sample_rate)
        while self._next < len(self._timed) and (
            reached >= self._timed[self._next][0] * sample_rate
        ):
            out.append(self._out(self._timed[self._next][1]))
            self._next += 1
        return out

    def finish(self) -> list[Replayed]:
        """The client stopped: release the rest, including what came after the recorded stop."""
        rest = [data for _, data in self._timed[self._next :]] + self._tail
        self._next = len(self._timed)
        self._tail = []
        return [self._out(data) for data in rest]

"""What a person watches while a session runs, or one JSON object per event for machines."""

from __future__ import annotations

import json
import math
import time
from collections import deque
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Group, RenderableType
from rich.text import Text

from harness.audio.pcm import level
from harness.protocol import (
    Event,
    InsightResponse,
    MessageResponse,
    ProtocolError,
    RecognitionResult,
    ServerError,
    TopicResponse,
)

METER_WIDTH = 30
FLOOR_DB = -60.0


def bar(fraction: float, width: int) -> str:
    """A text bar filled to `fraction` (0 to 1)."""
    filled = round(max(0.0, min(fraction, 1.0)) * width)
    return "█" * filled + "·" * (width - filled)


def meter(dbfs: float, width: int = METER_WIDTH) -> str:
    """A level bar from FLOOR_DB to 0 dBFS."""
    return bar(0.0 if math.isinf(dbfs) else (max(dbfs, FLOOR_DB) - FLOOR_DB) / -FLOOR_DB, width)


class LiveView:
    """Captions (partials replaced in place, finals kept), level, elapsed time, insights."""

    def __init__(self, rate: int, keep: int = 8, total_samples: int | None = None) -> None:
        self.rate = rate
        self.total_samples = total_samples
        self.samples = 0
        self.level_db = -math.inf
        self.conversation_id: str | None = None
        self.partial = ""
        self.finals: deque[str] = deque(maxlen=keep)
        self.insights: deque[str] = deque(maxlen=keep)
        self.topics: list[str] = []
        self.errors: deque[str] = deque(maxlen=3)

    def frame(self, samples: NDArray[np.int16]) -> None:
        """Audio sent: advance the clock and the meter."""
        self.samples += samples.size
        self.level_db = level(samples).rms_dbfs

    def event(self, event: Event) -> None:
        """A server event arrived."""
        self.conversation_id = self.conversation_id or event.conversation_id
        if isinstance(event, RecognitionResult):
            self.partial = event.punctuated or event.transcript
        elif isinstance(event, MessageResponse):
            raw = event.raw.get("messages") or []
            for message, body in zip(event.messages, raw, strict=False):
                sentiment = body.get("sentiment") if isinstance(body, dict) else None
                label = sentiment.get("suggested") if isinstance(sentiment, dict) else None
                self.finals.append(f"[{label}] {message.text}" if label else message.text)
            self.partial = ""
        elif isinstance(event, InsightResponse):
            self.insights.extend(f"{i.type}: {i.text}" for i in event.insights)
        elif isinstance(event, TopicResponse):
            self.topics = list(dict.fromkeys([*self.topics, *(t.phrases for t in event.topics)]))
        elif isinstance(event, ServerError):
            self.errors.append(event.message or event.details or "error")
        elif isinstance(event, ProtocolError):
            self.errors.append(event.reason)

    def __rich__(self) -> RenderableType:
        seconds = self.samples / self.rate
        status = Text.assemble(
            (f"{int(seconds // 60):02d}:{seconds % 60:04.1f}", "bold"),
            "  ",
            (meter(self.level_db), "green"),
            f" {self.level_db:6.1f} dBFS" if not math.isinf(self.level_db) else "   silence",
            f"  conversation {self.conversation_id or '…'}",
        )
        if self.total_samples:
            done = min(self.samples / self.total_samples, 1.0)
            status.append(f"  {bar(done, 20)} {done:4.0%}")
        lines: list[RenderableType] = [status, Text()]
        lines += [Text(final) for final in self.finals]
        lines.append(Text(self.partial or "", style="italic cyan"))
        if self.insights:
            lines.append(Text("insights", style="bold"))
            lines += [Text(f"  {insight}", style="yellow") for insight in self.insights]
        if self.topics:
            lines.append(Text("topics  " + ", ".join(self.topics[-8:]), style="magenta"))
        lines += [Text(f"error  {error}", style="red") for error in self.errors]
        return Group(*lines)


class JsonEvents:
    """One JSON object per event on a stream: `{"t", "type", "event"}`."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._t0 = time.monotonic()

    def event(self, event: Event) -> None:
        """Write the event as one line."""
        record: dict[str, Any] = {
            "t": round(time.monotonic() - self._t0, 6),
            "type": event.type or type(event).__name__,
            "event": dict(event.raw),
        }
        if isinstance(event, ProtocolError):
            record["error"] = event.reason
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

"""How far recognition may fall behind a client's audio, sans I/O.

The web layer reads every frame as soon as it arrives (so control frames, pongs and stop
requests are never stuck behind audio) and queues it for the session. Recognition can
lag that queue (the asr engine on a busy machine, a client sending faster than real
time); `pace()` says how much work the next frame may cost, from how long it has waited:

- NORMAL while it waited less than `behind_after_s`;
- BEHIND from then on: no partials, and phrases that open get the engine's cheaper decode;
- SKIM once it waited `max_lag_s`, once more than `max_queued_bytes` of audio wait, or
  once a stop (or the client's leaving) is `stop_within_s` old: the audio then only moves
  the stream's clock on, so a stop is answered within that bound whatever the backlog.
"""

from __future__ import annotations

import ast
import json
import math
import sys
from dataclasses import dataclass

from mock_symbl.engines.base import Pace

STOP_TYPES = ("stop_request", "stop_recognition")
# Longer text frames are no stop request worth parsing twice.
STOP_MAX_CHARS = 4096
# Bytes per sample of the encodings whose duration is known before decoding.
SAMPLE_BYTES = {"LINEAR16": 2, "MULAW": 1}


@dataclass(frozen=True, slots=True)
class Backlog:
    """The bounds of recognition's lag behind the audio's arrival."""

    behind_after_s: float = 2.0
    max_lag_s: float = 30.0
    stop_within_s: float = 15.0
    max_queued_bytes: int = 32 << 20

    @classmethod
    def patient(cls) -> Backlog:
        """Never do less: every frame gets the full recognition however late (the same
        words on any machine, but no bound on a stop's answer or on memory)."""
        return cls(math.inf, math.inf, math.inf, sys.maxsize)

    def pace(self, waited_s: float, queued_bytes: int, stopping_for_s: float | None) -> Pace:
        """The pace for a frame that waited `waited_s`, with `queued_bytes` of audio
        waiting, and a stop (or hang-up) `stopping_for_s` ago (None: none yet)."""
        if (
            waited_s >= self.max_lag_s
            or queued_bytes > self.max_queued_bytes
            or (stopping_for_s is not None and stopping_for_s >= self.stop_within_s)
        ):
            return Pace.SKIM
        if waited_s >= self.behind_after_s:
            return Pace.BEHIND
        return Pace.NORMAL


def asks_to_stop(text: str) -> bool:
    """Whether a text frame is a stop request: JSON, or the Python SDK's `str(dict)`
    (single quotes, not JSON). Cheap enough for the socket's reader."""
    if len(text) > STOP_MAX_CHARS or not any(kind in text for kind in STOP_TYPES):
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return False
    return isinstance(value, dict) and value.get("type") in STOP_TYPES


def audio_seconds(size: int, encoding: str, sample_rate: int) -> float | None:
    """How much audio `size` bytes hold, if the encoding tells without decoding."""
    width = SAMPLE_BYTES.get(encoding)
    if width is None or sample_rate <= 0:
        return None
    return size / (width * sample_rate)


class DataRate:
    """Whether a client sends audio faster than `max_ratio` times real time.

    A bucket of audio seconds: it starts with `burst_s` (clients send a buffer's worth at
    once when they connect) and fills at `max_ratio` audio seconds per wall second.
    """

    def __init__(self, max_ratio: float, burst_s: float = 2.0) -> None:
        self._ratio = max_ratio
        self._burst = burst_s
        self._allowance = burst_s
        self._then: float | None = None

    def too_fast(self, at_s: float, seconds: float) -> bool:
        """Take `seconds` of audio that arrived at `at_s` (wall); True once it is too fast."""
        if self._then is not None:
            self._allowance = min(self._burst, self._allowance + (at_s - self._then) * self._ratio)
        self._then = at_s
        self._allowance -= seconds
        return self._allowance < 0

"""Injected faults, sans I/O: what to do to one session, and when.

A `Faults` plan comes from the streaming URL's `fault_*` query parameters, from the
control route (`POST /v1/mock/faults`), or from a recorded session that had one. The
mock announces the plan to the client as an `x_mock_fault` message (and says so again
each time a fault fires), so the client's recording carries it and a cassette replay of
that recording reproduces it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.session_folder.log import ErrorRecord, Record, TextFrame

FAULT_MESSAGE = "x_mock_fault"
QUERY_PREFIX = "fault_"
# RFC 6455 7.4.1: 1004-1006 and 1015 never go on the wire.
SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
JITTERS = ("uniform", "exponential")
REFUSED = "Injected fault: handshake refused."
INJECTED = "Injected fault"
# The most each field may ask for: past these a plan is a typo or an attack, not a test.
MAX_SECONDS = 3600
MAX_MS = 600_000
MAX_FRAMES = 2**31 - 1
BOUNDS = {
    "delay_ms": MAX_MS,
    "jitter_ms": MAX_MS,
    "drop_after_s": MAX_SECONDS,
    "stall_s": MAX_SECONDS,
    "retry_after_s": MAX_SECONDS,
    "drop_after_frames": MAX_FRAMES,
    "error_after_frames": MAX_FRAMES,
    "stall_after_frames": MAX_FRAMES,
    "seed": 2**63 - 1,
}


class FaultError(HarnessError, ValueError):
    """A fault plan that cannot be carried out; the message names the field."""


@dataclass(frozen=True, slots=True)
class Faults:
    """What to do to a session. Every field off by default."""

    # Every event waits `delay_ms`, plus a random share of `jitter_ms` (drawn per event
    # from `jitter`, seeded by `seed`); events keep their order, as on one TCP stream.
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter: str = "uniform"
    seed: int = 0
    # End the connection after this long (from the handshake) or this many audio frames:
    # with a close frame of `close_code`, or, with no code, by dropping TCP (the client
    # sees 1006).
    drop_after_s: float | None = None
    drop_after_frames: int | None = None
    close_code: int | None = None
    # Refuse the handshake with this HTTP status.
    refuse_status: int | None = None
    # Send an `error` message after this many audio frames.
    error_after_frames: int | None = None
    # Stop reading for `stall_s` seconds after `stall_after_frames` audio frames.
    stall_s: float = 0.0
    stall_after_frames: int = 0
    # The Conversation API answers this share of requests with 429 (with Retry-After) or 500.
    rest_429_share: float = 0.0
    rest_500_share: float = 0.0
    retry_after_s: int = 1
    # Refuse a client sending audio faster than this multiple of real time (None: any pace).
    max_data_rate: float | None = None

    def __post_init__(self) -> None:
        for name, most in BOUNDS.items():
            value = getattr(self, name)
            # NaN fails both comparisons, so it is refused with infinity and the absurd.
            if value is not None and not 0 <= value <= most:
                raise FaultError(f"{name} must be between 0 and {most}, got {value!r}")
        rate = self.max_data_rate
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise FaultError(f"max_data_rate must be a finite multiple above 0, got {rate!r}")
        for name in ("rest_429_share", "rest_500_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise FaultError(f"{name} must be between 0 and 1")
        if self.rest_429_share + self.rest_500_share > 1.0:
            raise FaultError("rest_429_share + rest_500_share must not pass 1")
        if self.jitter not in JITTERS:
            raise FaultError(f"jitter must be one of {', '.join(JITTERS)}")
        if self.close_code is not None and not (
            self.close_code in SENDABLE_CLOSE_CODES or 3000 <= self.close_code <= 4999
        ):
            raise FaultError(f"close_code {self.close_code} cannot be sent in a close frame")
        if self.refuse_status is not None and not 400 <= self.refuse_status <= 599:
            raise FaultError("refuse_status must be an HTTP error status (400-599)")

    @property
    def active(self) -> bool:
        """True if the plan does anything at all."""
        return self != Faults()

    @property
    def streaming(self) -> bool:
        """True if the plan does anything to a streaming connection."""
        return dataclasses.replace(self, rest_429_share=0.0, rest_500_share=0.0) != Faults()

    def to_json(self) -> dict[str, Any]:
        """The fields that differ from the default."""
        default = Faults()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        """A plan from `{"delay_ms": 200, …}`; unknown fields and wrong types are errors."""
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in types:
                raise FaultError(f"unknown fault {name!r} (known: {', '.join(types)})")
            values[name] = _coerce(name, str(types[name]), value)
        return cls(**values)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Faults:
        """A plan from `fault_delay_ms=200&fault_drop_after_frames=50…`."""
        return cls.from_json(
            {k[len(QUERY_PREFIX) :]: v for k, v in query.items() if k.startswith(QUERY_PREFIX)}
        )

    def announcement(self) -> str:
        """The message that tells the client (and its recording) which plan is in force."""
        return json.dumps({"type": FAULT_MESSAGE, "faults": self.to_json()}, separators=(",", ":"))


def _coerce(name: str, kind: str, value: Any) -> Any:
    """A JSON or query-string value as the field's type."""
    if value is None and "None" in kind:
        return None
    try:
        if "int" in kind:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if "float" in kind:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
    except (TypeError, ValueError, OverflowError):
        raise FaultError(f"fault {name!r} must be a number, got {value!r}") from None
    return str(value)


def fired(fault: str, **where: float | int) -> str:
    """The message sent just before a fault fires: which one, and where in the session."""
    return json.dumps({"type": FAULT_MESSAGE, "fired": fault, **where}, separators=(",", ":"))


def recorded_plan(message: Mapping[str, Any]) -> Faults | None:
    """The plan an `x_mock_fault` announcement carries, if `message` is one."""
    if message.get("type") != FAULT_MESSAGE or not isinstance(message.get("faults"), dict):
        return None
    try:
        return Faults.from_json(message["faults"])
    except FaultError:
        return None


def plan_of_recording(records: Iterable[Record]) -> Faults | None:
    """The plan a recorded session ran under: its first announcement, or the plan a refused
    handshake's answer carried (kept in the recording's error record)."""
    for record in records:
        if isinstance(record, TextFrame) and record.direction == "recv":
            if isinstance(record.data, dict) and (plan := recorded_plan(record.data)):
                return plan
        elif isinstance(record, ErrorRecord) and FAULT_MESSAGE in record.message:
            body = record.message[record.message.find("{") :]
            try:
                answer = json.loads(body)
            except ValueError:
                continue
            if isinstance(answer, dict) and isinstance(answer.get(FAULT_MESSAGE), dict):
                return recorded_plan({"type": FAULT_MESSAGE, "faults": answer[FAULT_MESSAGE]})
    return None


class EventDelays:
    """The delay of each successive event of one session, in seconds."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self._random = random.Random(faults.seed)

    def next(self) -> float:
        """How long the next event waits before it goes out."""
        faults = self._faults
        extra = 0.0
        if faults.jitter_ms:
            if faults.jitter == "uniform":
                extra = self._random.uniform(0.0, faults.jitter_ms)
            else:
                extra = self._random.expovariate(1.0 / faults.jitter_ms)
        return (faults.delay_ms + extra) / 1000.0


class FrameTriggers:
    """Which faults fire as audio frames arrive: call `frame()` once per frame."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self.frames = 0
        self._errored = False
        self._stalled = False

    def frame(self) -> list[str]:
        """Count one audio frame; the faults that fire now (`error`, `stall`, `drop`)."""
        self.frames += 1
        faults = self._faults
        due = []
        errors = faults.error_after_frames
        if errors is not None and not self._errored and self.frames >= errors:
            self._errored = True
            due.append("error")
        if faults.stall_s and not self._stalled and self.frames >= faults.stall_after_frames:
            self._stalled = True
            due.append("stall")
        if faults.drop_after_frames is not None and self.frames >= faults.drop_after_frames:
            due.append("drop")
        return due


class RestFaults:
    """Which Conversation API requests fail: the asked shares, spread evenly, no randomness."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._owed = {429: 0.0, 500: 0.0}

    def next(self) -> int | None:
        """The status the next request gets (429 or 500), or None to answer it normally."""
        self._owed[429] += self.faults.rest_429_share
        self._owed[500] += self.faults.rest_500_share
        for status, owed in self._owed.items():
            # A share accumulates per request; a whole one owed makes this request fail.
            if owed >= 1.0 - 1e-9:
                self._owed[status] = owed - 1.0
                return status
        return None


class FaultBoard:
    """The plans in force: one for every session, and per connection id. An app's own plans
    (set with its token) apply to its sessions only, and before everyone's."""

    def __init__(self, default: Faults | None = None) -> None:
        self.default = default or Faults()
        self.by_connection: dict[str, Faults] = {}
        self._rest = RestFaults(self.default)
        self._apps: dict[str, FaultBoard] = {}

    def set(self, faults: Faults, connection_id: str | None = None, app: str | None = None) -> None:
        """Put a plan in force for one connection id, or (without one) for every session:
        of one app (by its key), or of every app."""
        if app is not None:
            self._apps.setdefault(app, FaultBoard()).set(faults, connection_id)
        elif connection_id is None:
            self.default = faults
            self._rest = RestFaults(faults)
        else:
            self.by_connection[connection_id] = faults

    def clear(self, app: str | None = None) -> None:
        """No faults any more: for one app, or (without one) for anybody."""
        if app is not None:
            self._apps.pop(app, None)
            return
        self.set(Faults())
        self.by_connection.clear()
        self._apps.clear()

    def for_connection(
        self,
        connection_id: str,
        query: Mapping[str, str],
        recorded: Faults | None,
        app: str | None = None,
    ) -> Faults:
        """The plan of one streaming connection: its URL's, else the control route's for its
        id, else the one every session gets (the app's before everyone's), else the one its
        cassette was recorded with."""
        if any(key.startswith(QUERY_PREFIX) for key in query):
            return Faults.from_query(query)
        own = self._apps.get(app) if app is not None else None
        boards = [self] if own is None else [own, self]
        for board in boards:
            if connection_id in board.by_connection:
                return board.by_connection[connection_id]
        for board in boards:
            if board.default.streaming:
                return board.default
        return recorded or Faults()

    def rest_fault(self, app: str | None = None) -> tuple[int, int] | None:
        """The injected status of the app's next Conversation API request and the
        Retry-After to send with it, if it gets one."""
        own = self._apps.get(app) if app is not None else None
        board = self if own is None or not own.fails_rest else own
        status = board._rest.next()
        return None if status is None else (status, board.default.retry_after_s)

    @property
    def fails_rest(self) -> bool:
        """True if the plan for every session fails some Conversation API requests."""
        return bool(self.default.rest_429_share or self.default.rest_500_share)

    def to_json(self, app: str | None = None) -> dict[str, Any]:
        """The plans in force (one app's own, with its key), as the control route shows them."""
        if app is not None:
            return self._apps.get(app, FaultBoard()).to_json()
        return {
            "default": self.default.to_json(),
            "connections": {key: plan.to_json() for key, plan in self.by_connection.items()},
        }

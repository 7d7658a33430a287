"""One streaming session over websockets: connect, start, stream, stop, collect.

The I/O edge around `harness.protocol`: frames are sent on an absolute schedule
(`t0 + samples / rate / speed` on the monotonic clock, sleeping to within SPIN_NS and
yielding to the event loop for the rest), every frame is stamped with
`time.perf_counter_ns()` just before it is sent or just after it is received, and
everything goes to a `SessionLogWriter` when one is given.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets
from numpy.typing import NDArray
from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from harness.audio.sources import until_stopped
from harness.errors import EndpointError
from harness.protocol import Dispatcher, Event, StartRequest, encode, stop_request
from harness.session_folder.log import SessionLogWriter
from harness.session_folder.redact import without_query

SPIN_NS = 1_500_000
MESSAGE_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})
STOP_TIMEOUT_S = 30.0


Frames = Iterable[NDArray[np.int16]] | AsyncIterable[NDArray[np.int16]]


async def as_async(frames: Frames) -> AsyncGenerator[NDArray[np.int16], None]:
    """Iterate sync and async frame sources alike; an async source is closed at the end."""
    if isinstance(frames, AsyncIterable):
        try:
            async for frame in frames:
                yield frame
        finally:
            close = getattr(frames, "aclose", None)
            if close is not None:
                await close()
    else:
        for frame in frames:
            yield frame


class StampedConnection(ClientConnection):
    """A client connection that notes when each message's last bytes came off the socket.

    `data_received` runs as soon as the event loop reads the socket, before any frame is
    parsed or any task wakes; `arrivals` holds one stamp per message, in order.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: collections.deque[int] = collections.deque()
        self._read_at = 0

    def data_received(self, data: bytes) -> None:
        self._read_at = time.perf_counter_ns()
        super().data_received(data)

    def process_event(self, event: Request | Response | Frame) -> None:
        if isinstance(event, Frame) and event.fin and event.opcode in MESSAGE_OPCODES:
            self.arrivals.append(self._read_at)
        super().process_event(event)

    def arrival(self) -> int:
        """The socket-side stamp of the message just taken from the connection."""
        return self.arrivals.popleft() if self.arrivals else time.perf_counter_ns()


class SessionError(EndpointError):
    """The session could not run: the endpoint refused or dropped it. One-line message."""


@dataclass
class SessionResult:
    """What a session sent and received."""

    events: list[Event] = field(default_factory=list)
    conversation_id: str | None = None
    final_transcripts: list[str] = field(default_factory=list)
    samples_sent: int = 0
    frames_sent: int = 0
    close_code: int | None = None
    close_reason: str = ""
    lateness_ns: list[int] = field(default_factory=list)
    error: str | None = None
    # The endpoint did not close within the stop timeout (`error` says so).
    stop_timed_out: bool = False


async def wait_until(deadline_ns: int) -> None:
    """Sleep until the monotonic deadline: coarse sleep, then yield-spin the last stretch."""
    remaining = deadline_ns - time.perf_counter_ns()
    if remaining > SPIN_NS:
        await asyncio.sleep((remaining - SPIN_NS) / 1e9)
    while time.perf_counter_ns() < deadline_ns:
        await asyncio.sleep(0)


class _Streamer:
    """The moving parts of one session; `run_session` is its public face."""

    def __init__(
        self,
        socket: StampedConnection,
        log: SessionLogWriter | None,
        on_event: Callable[[Event], object] | None,
    ) -> None:
        self.socket = socket
        self.log = log
        self.on_event = on_event
        self.dispatcher = Dispatcher()
        self.result = SessionResult()

    async def receive(self) -> None:
        async for message in self.socket:
            at = self.socket.arrival()
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            if self.log is not None:
                self.log.received_text(text, at=at)
            for event in self.dispatcher.feed(text):
                self.result.events.append(event)
                if self.on_event is not None:
                    self.on_event(event)

    async def send_text(self, text: str) -> None:
        at = time.perf_counter_ns()
        await self.socket.send(text)
        if self.log is not None:
            self.log.sent_text(text, at=at)

    async def send_frames(
        self,
        frames: Frames,
        rate: int,
        speed: float | None,
        receiver: asyncio.Task[None],
        schedule: Sequence[float] | None,
    ) -> None:
        result = self.result
        t0 = time.perf_counter_ns()
        async with contextlib.aclosing(as_async(frames)) as stream:
            async for frame in stream:
                pcm = np.asarray(frame, dtype="<i2").tobytes()
                if speed is not None:
                    due = (
                        schedule[result.frames_sent]
                        if schedule is not None
                        else result.samples_sent / rate
                    )
                    deadline = t0 + int(due / speed * 1e9)
                    await wait_until(deadline)
                else:
                    # A server that reads at once never makes a send wait: let the other
                    # tasks of this loop (the receiver, other sessions' handshakes) run.
                    await asyncio.sleep(0)
                at = time.perf_counter_ns()
                if speed is not None:
                    result.lateness_ns.append(at - deadline)
                await self.socket.send(pcm)
                if self.log is not None:
                    self.log.sent_audio(pcm, at=at)
                result.samples_sent += len(pcm) // 2
                result.frames_sent += 1
                if receiver.done():
                    return

    def finish(self) -> SessionResult:
        result = self.result
        result.close_code = self.socket.close_code
        result.close_reason = self.socket.close_reason or ""
        if result.close_code not in (1000, None) and result.error is None:
            result.error = (
                f"connection closed with {result.close_code} {result.close_reason}".strip()
            )
        if self.log is not None:
            if result.error:
                self.log.error(result.error)
            self.log.closed(result.close_code, result.close_reason)
        result.conversation_id = self.dispatcher.conversation_id
        result.final_transcripts = self.dispatcher.final_transcripts
        return result


@dataclass(frozen=True)
class Stream:
    """What to send: a start request, its audio frames (Int16 at its rate) and their pace.

    Frame k is due at `schedule[k]` seconds after the first (a recorded session's send
    times), or by default when the samples before it would have been spoken. `speed` 1.0
    keeps that pace, N goes N times faster, None sends as fast as the socket takes frames.
    """

    start: StartRequest
    frames: Frames
    speed: float | None = 1.0
    schedule: Sequence[float] | None = None
    # Send no more than this much audio.
    duration_s: float | None = None
    # What a session log's header says of the source (`replay_of`, `source`, ...).
    about: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observers:
    """Who watches a session and may end it: a stop signal, event and frame callbacks."""

    # Set: send no more audio, send the stop request, collect the final events.
    stop: asyncio.Event | None = None
    on_event: Callable[[Event], object] | None = None
    on_frame: Callable[[NDArray[np.int16]], object] | None = None
    stop_timeout_s: float = STOP_TIMEOUT_S


def _frames(stream: Stream, watch: Observers) -> Frames:
    """The stream's frames, cut at its duration and at the stop signal, each one observed."""
    limited = stream.duration_s is not None or watch.on_frame is not None
    if not limited and watch.stop is None:
        return stream.frames
    frames: AsyncIterator[NDArray[np.int16]] = as_async(stream.frames)
    if limited:
        rate = stream.start.sample_rate_hertz or 16000
        limit = None if stream.duration_s is None else round(stream.duration_s * rate)
        frames = _limited(frames, limit, watch.on_frame)
    if watch.stop is not None:
        frames = until_stopped(frames, watch.stop)
    return frames


async def _limited(
    frames: AsyncIterator[NDArray[np.int16]],
    max_samples: int | None,
    on_frame: Callable[[NDArray[np.int16]], object] | None,
) -> AsyncIterator[NDArray[np.int16]]:
    sent = 0
    async for frame in frames:
        if max_samples is not None and sent >= max_samples:
            return
        piece = frame if max_samples is None else frame[: max_samples - sent]
        sent += piece.size
        if on_frame is not None:
            on_frame(piece)
        yield piece


async def run_session(
    url: str,
    stream: Stream,
    *,
    log: SessionLogWriter | None = None,
    observers: Observers | None = None,
    headers: dict[str, str] | None = None,
    subprotocols: Sequence[str] = (),
) -> SessionResult:
    """Send `stream` to `url` and collect what comes back, logging both ways to `log`.

    Raises SessionError if the connection cannot be made.
    """
    watch = observers or Observers()
    start = stream.start
    try:
        socket = await websockets.connect(
            url,
            additional_headers=headers,
            subprotocols=[websockets.Subprotocol(p) for p in subprotocols] or None,
            max_size=None,
            ping_interval=None,
            create_connection=StampedConnection,
        )
    except websockets.InvalidURI:
        # Its message repeats the URL, with the access token in its query.
        raise SessionError(
            f"cannot connect to {without_query(url)}: not a ws:// or wss:// URL"
        ) from None
    except (OSError, websockets.InvalidHandshake, TimeoutError) as error:
        said = _refusal(error)
        if log is not None:
            log.error(f"connect failed: {said}")
        raise SessionError(f"cannot connect to {without_query(url)}: {said}") from None
    assert isinstance(socket, StampedConnection)
    if log is not None:
        log.opened(url, headers=list((headers or {}).items()))
    streamer = _Streamer(socket, log, watch.on_event)
    receiver = asyncio.create_task(streamer.receive())
    try:
        await streamer.send_text(start.encode())
        rate = start.sample_rate_hertz or 16000
        await streamer.send_frames(
            _frames(stream, watch), rate, stream.speed, receiver, stream.schedule
        )
        if not receiver.done():
            await streamer.send_text(encode(stop_request()))
        await asyncio.wait_for(asyncio.shield(receiver), watch.stop_timeout_s)
    except websockets.ConnectionClosed:
        # The socket is gone, but what arrived before the close may still wait to be read.
        with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
            await asyncio.wait_for(asyncio.shield(receiver), watch.stop_timeout_s)
    except TimeoutError:
        streamer.result.error = f"no close within {watch.stop_timeout_s:g} s of the stop request"
        streamer.result.stop_timed_out = True
    finally:
        if not receiver.done():
            receiver.cancel()
        await socket.close()
        await asyncio.gather(receiver, return_exceptions=True)
    return streamer.finish()


def _refusal(error: Exception) -> str:
    """The error, with the body of a refused handshake's answer (where servers say why)."""
    if isinstance(error, websockets.InvalidStatus):
        body = error.response.body.decode("utf-8", "replace").strip()
        if body:
            return f"{error}: {body[:500]}"
    return str(error)


def frames_of(samples: NDArray[np.int16], frame_samples: int) -> list[NDArray[np.int16]]:
    """Cut audio into frames of `frame_samples` (the last one may be shorter)."""
    return [samples[i : i + frame_samples] for i in range(0, samples.size, frame_samples)]

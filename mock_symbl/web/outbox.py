"""Frames waiting for one socket, written by a task of their own, so no sender ever waits.

A client that stops reading fills its transport buffer, and uvicorn then makes every send
to it wait. Senders (its own session, and the other sockets of its conversation that
broadcast to it) only enqueue; when this socket's writes stall for `timeout_s`, or more
than `limit` frames wait, the outbox gives up on it and calls `on_stall` once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from mock_symbl.session.faults import EventDelays

log = logging.getLogger("mock_symbl")
NOT_READING = "client is not reading"


SENT_STAMP = "x_mock_sent_ns"


def stamped(text: str) -> str:
    """A JSON object frame with the server's send time added (`time.perf_counter_ns()`,
    the machine's monotonic clock, comparable with a client's on the same machine)."""
    if not text.endswith("}"):
        return text
    return f'{text[:-1]},"{SENT_STAMP}":{time.perf_counter_ns()}}}'


@dataclass(frozen=True, slots=True)
class _Closing:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Dropping:
    """End the connection without a close frame, as a network failure would."""


TRANSPORT = "mock_symbl.transport"
DROP_GRACE_S = 2.0


class ExposeTransport:
    """ASGI middleware: put the connection's transport in a WebSocket's scope, so a fault
    can drop TCP without a close frame (ASGI itself has no way to)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # uvicorn hands the app its protocol's bound `send`; the protocol owns the transport.
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[TRANSPORT] = transport
        await self.app(scope, receive, send)


def drop_transport(socket: WebSocket) -> bool:
    """End the TCP connection under an ASGI WebSocket with no close frame; False if the
    server hides the transport."""
    transport = socket.scope.get(TRANSPORT)
    if transport is None:
        return False
    # FIN after what was sent, not RST: a reset could discard what the client has not read
    # yet. If the client does not close its side, abort soon after.
    transport.write_eof()
    asyncio.get_running_loop().call_later(DROP_GRACE_S, transport.abort)
    return True


class Outbox:
    """The outgoing frames of one WebSocket."""

    def __init__(
        self,
        socket: WebSocket,
        *,
        limit: int,
        timeout_s: float,
        on_stall: Callable[[], object],
        stamp: bool = False,
        delays: EventDelays | None = None,
    ) -> None:
        self._socket = socket
        self._delays = delays
        self._stamp = stamp
        self._limit = limit
        self._timeout_s = timeout_s
        self._on_stall = on_stall
        # Each frame with the loop time it may leave at (later than now when delays are injected).
        self._queue: asyncio.Queue[tuple[float, str | _Closing | _Dropping]] = asyncio.Queue()
        self._closing = False
        self.stalled = False
        # Sees every text frame as it goes out (a recording of the connection).
        self.tap: Callable[[str], object] | None = None
        self._writer = asyncio.create_task(self._write())

    def send(self, text: str) -> None:
        """Queue a text frame."""
        if self._closing or self.stalled:
            return
        if self._queue.qsize() >= self._limit:
            self._stall(f"{self._limit} frames waiting")
            return
        self._put(text)

    def close(self, code: int, reason: str) -> None:
        """Queue the close, after every frame already queued."""
        if not self._closing:
            self._closing = True
            self._put(_Closing(code, reason))

    def drop(self) -> None:
        """Queue dropping the connection (no close frame), after every frame already queued."""
        if not self._closing:
            self._closing = True
            self._put(_Dropping())

    def _put(self, item: str | _Closing | _Dropping) -> None:
        due = asyncio.get_running_loop().time()
        if self._delays is not None:
            due += self._delays.next()
        self._queue.put_nowait((due, item))

    async def finish(self) -> None:
        """Let the queued frames go out (within the timeout), then stop the writer."""
        if not self.stalled and not self._writer.done():
            # The writer ends early if the socket is gone: then nothing more will go out.
            joined = asyncio.ensure_future(self._queue.join())
            await asyncio.wait(
                {joined, self._writer}, timeout=self._timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            joined.cancel()
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)

    def _stall(self, why: str) -> None:
        if not self.stalled:
            self.stalled = True
            log.warning("giving up on a socket: %s (%s)", NOT_READING, why)
            self._on_stall()

    async def _write(self) -> None:
        while True:
            due, item = await self._queue.get()
            try:
                wait = due - asyncio.get_running_loop().time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if isinstance(item, _Closing):
                    await asyncio.wait_for(
                        self._socket.close(item.code, item.reason), self._timeout_s
                    )
                elif isinstance(item, _Dropping):
                    if not drop_transport(self._socket):
                        await self._socket.close(1011, "Injected fault: connection dropped")
                else:
                    text = stamped(item) if self._stamp else item
                    await asyncio.wait_for(self._socket.send_text(text), self._timeout_s)
                    if self.tap is not None:
                        self.tap(item)
            except TimeoutError:
                self._stall(f"a write waited {self._timeout_s:g} s")
                return
            except (RuntimeError, WebSocketDisconnect, OSError):
                # The socket is gone; its session ends when its receive loop sees that.
                return
            finally:
                self._queue.task_done()

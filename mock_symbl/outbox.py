"""Frames waiting for one socket, written by a task of their own, so no sender ever waits.

A client that stops reading fills its transport buffer, and uvicorn then makes every send
to it wait. Senders (its own session, and the other sockets of its conversation that
broadcast to it) only enqueue; when this socket's writes stall for `timeout_s`, or more
than `limit` frames wait, the outbox gives up on it and calls `on_stall` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

log = logging.getLogger("mock_symbl")
NOT_READING = "client is not reading"


SENT_STAMP = "x_mock_sent_ns"


def stamped(text: str) -> str:
    """A JSON object frame with the server's send time added (`time.perf_counter_ns()`,
    the machine's monotonic clock, comparable with a client's on the same machine)."""
    if not text.endswith("}"):
        return text
    return f'{text[:-1]},"{SENT_STAMP}":{time.perf_counter_ns()}}}'


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
    ) -> None:
        self._socket = socket
        self._stamp = stamp
        self._limit = limit
        self._timeout_s = timeout_s
        self._on_stall = on_stall
        self._queue: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue()
        self._closing = False
        self.stalled = False
        self._writer = asyncio.create_task(self._write())

    def send(self, text: str) -> None:
        """Queue a text frame."""
        if self._closing or self.stalled:
            return
        if self._queue.qsize() >= self._limit:
            self._stall(f"{self._limit} frames waiting")
            return
        self._queue.put_nowait(text)

    def close(self, code: int, reason: str) -> None:
        """Queue the close, after every frame already queued."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait((code, reason))

    async def finish(self) -> None:
        """Let the queued frames go out (within the timeout), then stop the writer."""
        if not self.stalled:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), self._timeout_s)
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)

    def _stall(self, why: str) -> None:
        if not self.stalled:
            self.stalled = True
            log.warning("giving up on a socket: %s (%s)", NOT_READING, why)
            self._on_stall()

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, tuple):
                    await asyncio.wait_for(self._socket.close(*item), self._timeout_s)
                else:
                    text = stamped(item) if self._stamp else item
                    await asyncio.wait_for(self._socket.send_text(text), self._timeout_s)
            except TimeoutError:
                self._stall(f"a write waited {self._timeout_s:g} s")
                return
            except (RuntimeError, WebSocketDisconnect, OSError):
                # The socket is gone; its session ends when its receive loop sees that.
                return
            finally:
                self._queue.task_done()

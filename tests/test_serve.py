"""A server in a background thread: an abort stops it at once, not after a graceful wait."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from harness.serve import AbortError, running


class Lines(logging.Handler):
    """The messages a logger emits."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_an_abort_cancels_a_busy_connection_without_the_graceful_wait() -> None:
    busy = threading.Event()
    cancelled = threading.Event()

    async def endless(socket: WebSocket) -> None:
        await socket.accept()
        busy.set()
        try:
            # Work that would outlast the graceful shutdown (as recognition after a stop can).
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()

    lines = Lines()
    uvicorn_log = logging.getLogger("uvicorn.error")
    app = Starlette(routes=[WebSocketRoute("/", endless)])
    try:
        with pytest.raises(AbortError), running(app) as server, connect(f"{server.ws_url}/"):
            # Listening from here: the server's logging set-up replaced the handlers before.
            uvicorn_log.addHandler(lines)
            assert busy.wait(60)
            raise AbortError
    finally:
        uvicorn_log.removeHandler(lines)
    assert cancelled.is_set()
    # No "Cancel 1 running task(s), timeout graceful shutdown exceeded": nothing waited.
    assert not [m for m in lines.messages if "graceful shutdown" in m], lines.messages

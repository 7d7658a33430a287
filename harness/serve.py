"""Serve an ASGI app with uvicorn: in the foreground, or in a background thread."""

from __future__ import annotations

import errno
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from harness.connection_guards import ConnectionLimits, guarded_protocols
from harness.errors import HarnessError

STARTUP_TIMEOUT_S = 30.0
# WebSocket keepalive: a ping every 20 s; a client that has not answered within 30 s more
# is gone. The app reads its sockets continuously, so a pong is never stuck behind
# unread audio; the margin is for a machine too busy to run the client promptly.
WS_PING_INTERVAL_S = 20.0
WS_PING_TIMEOUT_S = 30.0
# An idle HTTP keep-alive connection is closed after this long (uvicorn's own default).
HTTP_KEEP_ALIVE_S = 5


@dataclass(frozen=True, slots=True)
class RunningServer:
    """Where a running server answers."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        """`http://host:port`, the REST base."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """`ws://host:port`, the streaming base."""
        return "ws" + self.base_url[4:]

    def streaming_url(self, connection_id: str) -> str:
        """The streaming endpoint for one connection id."""
        return f"{self.ws_url}/v1/streaming/{connection_id}"


def _config(app: ASGIApp, limits: ConnectionLimits, quiet: bool = False) -> uvicorn.Config:
    http, ws = guarded_protocols(limits)
    return uvicorn.Config(
        app,
        # uvicorn's warnings are about one connection each (a bad request, a bad frame).
        log_level="error" if quiet else "warning",
        http=http,
        ws=ws,
        lifespan="off",
        ws_max_size=1 << 20,
        ws_ping_interval=WS_PING_INTERVAL_S,
        ws_ping_timeout=WS_PING_TIMEOUT_S,
        timeout_keep_alive=HTTP_KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
    )


class AbortError(Exception):
    """Raised inside `running()`: the server stops at once, without waiting for its
    connections to finish (the user aborted what they served)."""


class ListenError(HarnessError):
    """An address the server cannot listen on: in use, not this machine's, not allowed."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio disables Nagle (TCP_NODELAY) only on sockets that say
    # they are TCP; without it, every frame after the first of a burst waits for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ListenError(
                f"{address} is in use (another server listens there: choose another port)"
            ) from None
        raise ListenError(f"cannot listen on {address}: {error.strerror}") from None
    except OverflowError as error:
        sock.close()
        raise ListenError(f"cannot listen on {address}: {error}") from None
    return sock


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8080,
    announce: Callable[[RunningServer], None] = lambda _: None,
    limits: ConnectionLimits | None = None,
    quiet: bool = False,
) -> str | None:
    """Bind, announce where, and serve in the foreground until SIGINT or SIGTERM; `quiet`
    logs no line about one connection, only errors of the server itself.

    Returns the name of the signal that stopped it.
    On a signal, uvicorn closes the open sockets; each session then finalises and stores
    what it recognised before the process exits.
    """
    sock = _bind(host, port)
    announce(RunningServer(host, sock.getsockname()[1]))
    server = uvicorn.Server(_config(app, limits or ConnectionLimits(), quiet))
    received: list[int] = []
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; these
    # handlers take that signal, so a stop by Ctrl-C or SIGTERM is a normal exit.
    previous = {
        sig: signal.signal(sig, lambda number, _: received.append(number))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return signal.Signals(received[0]).name if received else None


@contextmanager
def running(
    app: ASGIApp, host: str = "127.0.0.1", limits: ConnectionLimits | None = None
) -> Iterator[RunningServer]:
    """Start `app` on an ephemeral port in a background thread; stop it on exit: gracefully
    (its connections finish, up to a few seconds), or at once on an AbortError."""
    sock = _bind(host, 0)
    server = uvicorn.Server(_config(app, limits or ConnectionLimits()))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        waited = 0.0
        while not server.started and thread.is_alive() and waited < STARTUP_TIMEOUT_S:
            time.sleep(0.01)
            waited += 0.01
        if not server.started:
            raise RuntimeError("the server did not start")
        yield RunningServer(host, sock.getsockname()[1])
    except AbortError:
        server.force_exit = True
        raise
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()

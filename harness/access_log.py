"""An access log: one line per HTTP request or WebSocket connection, once it has ended.

  06:01:02 127.0.0.1:51234 POST /oauth2/token:generate 200 4 ms
  06:01:03 127.0.0.1:51236 WS /v1/streaming/a?access_token=REDACTED 101 closed 1000 by client 5.3 s
  06:01:09 127.0.0.1:51240 WS /v1/streaming/a?access_token=REDACTED 401 refused 2 ms

`AccessLog` wraps an ASGI app and records the facts of each connection as they pass (its
status, its close code); `access_line` turns them into the line. Secrets never reach it:
the value of every secret query key is redacted, and a secret the headers carry (an
Authorization header, a subprotocol) is taken out wherever else it appears. The logger never
slows or breaks a connection: it only notes what goes by, and a failure of its own is
swallowed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.session_folder.redact import REDACTED, Redactor, is_secret_key

# A longer request target is cut: a line is for reading, not a copy of the request.
MAX_TARGET_CHARS = 300
# What a server's close before its accept becomes: uvicorn answers it with 403.
CLOSED_BEFORE_ACCEPT = 403
# What uvicorn answers an app that failed before its response started.
SERVER_ERROR = 500
# The close codes uvicorn sends when an accepted app returns, or fails, without closing.
NORMAL_CLOSE = 1000
INTERNAL_ERROR_CLOSE = 1011
# The close code uvicorn sends each open socket as the server stops (Service Restart).
SERVER_STOPPING = 1012


@dataclass(slots=True)
class ConnectionFacts:
    """What happened on one connection, as the access log saw it go by."""

    # When it began, on the wall clock (seconds since the epoch).
    started: float
    # The client's (host, port), when the server knows it.
    client: tuple[str, int] | None
    # The HTTP method, or "WS" for a WebSocket connection.
    method: str
    # The request target as the client sent it: path (still percent-encoded) and query.
    raw_path: bytes
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # The HTTP status answered: 101 for an accepted WebSocket, else its refusal's status.
    status: int | None = None
    # A WebSocket's close: its code and which side sent it first ("client" or "server").
    close_code: int | None = None
    closed_by: str | None = None
    # Seconds from its start to its end, and whether the app failed on it.
    duration_s: float = 0.0
    failed: bool = False


def access_line(facts: ConnectionFacts) -> str:
    """The one line that tells a person what happened on a connection, secrets redacted."""
    clock = time.strftime("%H:%M:%S", time.localtime(facts.started))
    fields = [clock, _address(facts.client), facts.method, _target(facts), *_outcome(facts)]
    return " ".join([*fields, _duration(facts.duration_s)])


def _address(client: tuple[str, int] | None) -> str:
    if client is None:
        return "-"
    host, port = client
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _outcome(facts: ConnectionFacts) -> list[str]:
    if facts.method != "WS":
        if facts.status is None:
            return [str(SERVER_ERROR), "(the server failed)"] if facts.failed else ["no response"]
        return [str(facts.status)] + (["(the server failed)"] if facts.failed else [])
    if facts.status == 101:
        code, by = facts.close_code, facts.closed_by
        if code is None:
            # The app returned, or failed, without closing: uvicorn closed it.
            code, by = (INTERNAL_ERROR_CLOSE if facts.failed else NORMAL_CLOSE), "server"
        return ["101", f"closed {code} by {by}"]
    if facts.status is not None:
        return [str(facts.status), "refused"]
    if facts.closed_by == "client":
        return ["-", "client left before the handshake"]
    return [str(SERVER_ERROR), "refused (the server failed)"]


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def _target(facts: ConnectionFacts) -> str:
    """The path and query, each secret value redacted and any unprintable byte escaped."""
    redactor = Redactor()
    redactor.headers(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in facts.headers
    )
    query = facts.query.decode("latin-1")
    pairs = []
    for pair in query.split("&") if query else []:
        key, sep, value = pair.partition("=")
        if sep and is_secret_key(key):
            redactor.add(value)
            pairs.append(f"{key}={REDACTED}")
        else:
            pairs.append(pair)
    # The query is redacted as text too (a secret nested in a value); the path only of the
    # secrets known by then, since a path such as /oauth2/token:generate is no key and value.
    query = "?" + redactor.text("&".join(pairs)) if pairs else ""
    target = redactor.known(facts.raw_path.decode("latin-1")) + query
    target = "".join(_printable(char) for char in target)
    if len(target) > MAX_TARGET_CHARS:
        target = target[: MAX_TARGET_CHARS - 1] + "…"
    return target


def _printable(char: str) -> str:
    """A character as a terminal may show it: anything outside printable ASCII escaped, so a
    client cannot move the cursor or recolour the screen with its request."""
    return char if " " < char <= "~" else f"\\x{ord(char):02x}"


Write = Callable[[str], None]


class AccessLog:
    """ASGI middleware: after each HTTP request and WebSocket connection, `write` its line."""

    def __init__(self, app: ASGIApp, write: Write) -> None:
        self.app = app
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the connection with `app`, noting what passes; write its line at its end."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            facts = _facts(scope)
        except Exception:
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        # Data frames (every audio frame of a stream) tell nothing of the connection: they
        # pass by with one comparison each.
        async def noted_receive() -> Message:
            message = await receive()
            if message["type"] != "websocket.receive":
                _noted(facts, message, "client")
            return message

        async def noted_send(message: Message) -> None:
            if message["type"] != "websocket.send":
                _noted(facts, message, "server")
            await send(message)

        try:
            await self.app(scope, noted_receive, noted_send)
        except Exception:
            facts.failed = True
            raise
        finally:
            facts.duration_s = time.perf_counter() - began
            # A line lost is better than a connection broken.
            with contextlib.suppress(Exception):
                self.write(access_line(facts))


def logged(app: ASGIApp, write: Write | None) -> ASGIApp:
    """`app` with its access lines going to `write`; `app` itself when `write` is None."""
    return app if write is None else AccessLog(app, write)


def _facts(scope: Scope) -> ConnectionFacts:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
    client = scope.get("client")
    return ConnectionFacts(
        started=time.time(),
        client=(str(client[0]), int(client[1])) if client else None,
        method="WS" if scope["type"] == "websocket" else str(scope["method"]),
        raw_path=bytes(raw_path),
        query=bytes(scope.get("query_string") or b""),
        headers=tuple(headers),
    )


def _noted(facts: ConnectionFacts, message: Message, side: str) -> None:
    """Record what `message`, sent by `side`, tells of the connection; never raises."""
    with contextlib.suppress(Exception):
        _note(facts, message, side)


def _note(facts: ConnectionFacts, message: Message, side: str) -> None:
    kind = message["type"]
    if kind in ("http.response.start", "websocket.http.response.start"):
        facts.status = int(message["status"])
    elif kind == "websocket.accept":
        facts.status = 101
    elif kind in ("websocket.close", "websocket.disconnect") and facts.closed_by is None:
        facts.close_code = int(message.get("code", NORMAL_CLOSE))
        # The app hears 1012 when the server itself closes its sockets as it stops.
        facts.closed_by = "server" if facts.close_code == SERVER_STOPPING else side
        if side == "server" and facts.status is None:
            facts.status = CLOSED_BEFORE_ACCEPT

"""Limits: REST requests per minute (a token bucket), failed token requests, concurrent
streams, and the size of a request body."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

# Past this many keys, buckets that have filled up again are forgotten (a full bucket is
# what an unseen key gets anyway), so callers inventing keys cannot grow the map forever.
PRUNE_AT = 10_000


class RateLimiter:
    """Allow `per_minute` requests per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be positive, got {per_minute}")
        self._capacity = float(per_minute)
        self._refill_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._prune_at = PRUNE_AT
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Take one request for `key`: None if allowed, else whole seconds to wait."""
        return self._take(key, take=True)

    def waiting(self, key: str) -> int | None:
        """Like `retry_after`, without taking a request: None if `key` may make one now."""
        return self._take(key, take=False)

    def _take(self, key: str, *, take: bool) -> int | None:
        with self._lock:
            now = self._clock()
            tokens = self._tokens(key, now)
            if len(self._buckets) > self._prune_at:
                self._buckets = {
                    k: bucket
                    for k, bucket in self._buckets.items()
                    if self._tokens(k, now) < self._capacity
                }
                # Keys all still draining: wait for twice as many before the next sweep.
                self._prune_at = max(PRUNE_AT, 2 * len(self._buckets))
            if tokens >= 1.0:
                if take:
                    self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._refill_per_s))

    def _tokens(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (self._capacity, now))
        return min(self._capacity, tokens + (now - then) * self._refill_per_s)


class FailureThrottle:
    """Refuse every attempt of a key (a client address, an app id) once it has failed
    `per_minute` times in a burst, until its failures drain at `per_minute` a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures = RateLimiter(per_minute, clock)

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """None if every key may try now, else whole seconds until all of them may."""
        waits = [wait for key in keys if (wait := self._failures.waiting(key)) is not None]
        return max(waits, default=None)

    def failed(self, keys: Iterable[str]) -> None:
        """Count one failure against each key."""
        for key in keys:
            self._failures.retry_after(key)


class StreamCounter:
    """Open streams per key, refusing more than `limit` at once (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        """Count one more open stream for `key`, unless that would pass the limit."""
        with self._lock:
            count = self._open.get(key, 0)
            if self._limit is not None and count >= self._limit:
                return False
            self._open[key] = count + 1
            return True

    def release(self, key: str) -> None:
        """A stream of `key` closed."""
        with self._lock:
            count = self._open.get(key, 0) - 1
            if count > 0:
                self._open[key] = count
            else:
                self._open.pop(key, None)


class BodyTooLargeError(Exception):
    """A request body passed the limit while it was being read."""


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, told by its Content-Length
    or counted as it arrives, so no more than the limit (and one chunk) is ever held.

    `larger`: paths that take bigger bodies (uploaded media files), and their limit.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: tuple[re.Pattern[str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.larger is not None and self.larger[0].fullmatch(scope["path"]):
            limit = self.larger[1]
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # The rest of the body stays unread: the connection closes after the answer.
        answer = JSONResponse(
            {"message": f"The request body is over the limit of {limit} bytes."},
            status_code=413,
            headers={"Connection": "close"},
        )
        await answer(scope, receive, send)


class ConnectionIdLimit:
    """ASGI middleware: refuse a WebSocket handshake whose connection id (the path's last
    segment) is longer than `max_chars`, with a 400 (or a 1008 close, where the server
    cannot send a denial response)."""

    def __init__(self, app: ASGIApp, max_chars: int) -> None:
        self.app = app
        self.max_chars = max_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection_id = str(scope.get("path", "")).rpartition("/")[2]
        if scope["type"] != "websocket" or len(connection_id) <= self.max_chars:
            await self.app(scope, receive, send)
            return
        message = f"The connection id is longer than {self.max_chars} characters."
        socket = WebSocket(scope, receive, send)
        if "websocket.http.response" in scope.get("extensions", {}):
            await socket.send_denial_response(JSONResponse({"message": message}, 400))
        else:
            await socket.close(1008, message)

"""Per-app limits: REST requests per minute (a token bucket) and concurrent streams."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Allow `per_minute` requests per key, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be positive, got {per_minute}")
        self._capacity = float(per_minute)
        self._refill_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Take one request for `key`: None if allowed, else whole seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - then) * self._refill_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self._refill_per_s))


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

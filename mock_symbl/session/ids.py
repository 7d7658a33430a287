"""Identifiers the server hands out: 16-digit conversation ids and UUIDs."""

from __future__ import annotations

import random
import uuid


class IdSource:
    """Random ids; seeded, the same sequence every time (for reproducible tests)."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def conversation_id(self) -> str:
        """A 16-digit numeric string, as the hosted service's conversation ids are."""
        return str(self._random.randrange(10**15, 10**16))

    def uuid(self) -> str:
        """A version-4 UUID."""
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

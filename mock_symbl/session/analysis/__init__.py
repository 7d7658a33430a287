"""What the Conversation API computes from a stored conversation, in Symbl's documented
shapes: analytics, an extractive summary, call intents and a call score.

All pure functions of the messages (their times and words), members and insights. Times
are the messages' offsets in seconds from the conversation's start.
"""

from __future__ import annotations

import hashlib
from typing import Any

Json = dict[str, Any]


def numeric_id(*parts: str) -> str:
    """A stable 16-digit id derived from what it identifies (as Symbl's numeric ids look)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return str(10**15 + int.from_bytes(digest[:8], "big") % (9 * 10**15))

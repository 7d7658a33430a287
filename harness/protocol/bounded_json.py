"""JSON decoding with a nesting limit: a frame of a thousand `[` must not exhaust the stack.

The check runs before `json.loads`, so no recursion is ever attempted: counting brackets
is enough for almost every message, and only a text with more opening brackets than the
limit is scanned for its real depth (strings skipped, the rest summed in C).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# The deepest Symbl message nests 5 levels; far below the ~1,000 that overflow the stack.
MAX_JSON_DEPTH = 64
# A string literal, possessive so an unterminated one costs one pass, not one per quote.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonTooDeepError(ValueError):
    """A JSON text nested deeper than the limit; a ValueError like any other bad JSON."""


def json_depth(text: str) -> int:
    """How deep the text's arrays and objects nest (0 for a scalar), ignoring strings."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads`, refusing (JsonTooDeepError) text nested deeper than `max_depth`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise JsonTooDeepError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)

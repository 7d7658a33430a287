"""Options with fixed values, as StrEnums, and the one validator that names the valid values."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from harness.errors import HarnessError

Mode = TypeVar("Mode", bound=StrEnum)


class ModeError(HarnessError, ValueError):
    """A value that is none of an option's valid values."""


def parse_mode(kind: type[Mode], value: str, what: str) -> Mode:
    """`value` as a member of `kind`, or ModeError naming `what` and every valid value."""
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(member.value for member in kind)
        raise ModeError(f"unknown {what} {value!r} (one of: {valid})") from None


class Display(StrEnum):
    """How a recording shows its events: a live terminal view, JSON lines, or nothing."""

    LIVE = "live"
    JSON = "json"
    QUIET = "quiet"


class RecordMode(StrEnum):
    """When a test suite records (VCR.py's record modes): baselines of replayed sessions, and
    recordings of a client's sessions that no recording matched."""

    NONE = "none"  # never: a client's unmatched audio is an error
    ONCE = "once"  # the missing ones (a client's misses, while it has no recording yet)
    NEW = "new"  # the missing ones and baselines older than their session; every miss
    ALL = "all"  # every one, again
    PASSED = "passed"  # as `new`, kept only when the test passed


class Expiry(StrEnum):
    """What a test does with a recording older than its expiry (Polly.js's strategies)."""

    WARN = "warn"  # use it, with a warning
    FAIL = "fail"  # fail the test
    RECORD = "record"  # leave it out, record the client's session anew

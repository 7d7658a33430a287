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
    """When a regression suite writes baselines (VCR.py's record modes)."""

    NONE = "none"  # never
    ONCE = "once"  # the missing ones
    NEW = "new"  # the missing ones and those older than their session
    ALL = "all"  # every one

"""Speaker events, sans I/O: who spoke when (`PUT …/speakers`), and so who said each message.

Events come in pairs per user, `started_speaking` then `stopped_speaking`, at offsets from
the start of the conversation (`{"seconds", "nanos"}`, where Symbl's own example writes
5 s as 5000000000 nanos: the two are added, not range-checked). A turn never stopped
lasts to the end. A message goes to the speaker whose turns overlap it longest; one that
no turn overlaps keeps its sender.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mock_symbl.store import Member, StoredMessage

STARTED = "started_speaking"
STOPPED = "stopped_speaking"


class SpeakerEventsError(ValueError):
    """Speaker events that cannot be read; the message names the event and field."""


@dataclass(frozen=True, slots=True)
class Turn:
    """A stretch of the conversation, in seconds from its start, when a member spoke."""

    member: Member
    start: float
    end: float


def _seconds(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpeakerEventsError(f"{path}: expected a number.")
    try:
        number = float(value)
    except ValueError:
        raise SpeakerEventsError(f"{path}: {value!r} is not a number.") from None
    if not math.isfinite(number) or number < 0:
        raise SpeakerEventsError(f"{path}: must be a number of at least 0.")
    return number


def _offset(event: Mapping[str, object], path: str) -> float:
    offset = event.get("offset")
    if not isinstance(offset, dict):
        raise SpeakerEventsError(f"{path}.offset: expected an object with seconds and nanos.")
    seconds = _seconds(offset.get("seconds", 0), f"{path}.offset.seconds")
    nanos = _seconds(offset.get("nanos", 0), f"{path}.offset.nanos")
    return seconds + nanos / 1e9


def _member(event: Mapping[str, object], path: str) -> Member:
    user = event.get("user")
    if not isinstance(user, dict):
        raise SpeakerEventsError(f"{path}.user: expected an object with id, name and email.")
    fields: dict[str, str | None] = {}
    for name in ("id", "name", "email", "userId"):
        value = user.get(name)
        if value is not None and not isinstance(value, str):
            raise SpeakerEventsError(f"{path}.user.{name}: expected a string.")
        fields[name] = value or None
    email = fields["email"] or fields["userId"]
    known = fields["id"] or email or fields["name"]
    if known is None:
        raise SpeakerEventsError(f"{path}.user: needs an id, an email or a name.")
    # A user named only by email or name gets an id derived from it, the same each time.
    member_id = fields["id"] or str(uuid.uuid5(uuid.NAMESPACE_URL, f"symbl-speaker:{known}"))
    return Member(id=member_id, name=fields["name"], email=email)


def turns(body: Mapping[str, object]) -> list[Turn]:
    """The turns a `PUT …/speakers` body describes; SpeakerEventsError names a bad event."""
    events = body.get("speakerEvents")
    if not isinstance(events, list) or not events:
        raise SpeakerEventsError("speakerEvents: must be a non-empty array of speaker events.")
    timed: list[tuple[float, int, str, Member]] = []
    for index, event in enumerate(events):
        path = f"speakerEvents[{index}]"
        if not isinstance(event, dict):
            raise SpeakerEventsError(f"{path}: expected an object.")
        kind = event.get("type")
        if kind not in (STARTED, STOPPED):
            raise SpeakerEventsError(f"{path}.type: expected {STARTED!r} or {STOPPED!r}.")
        timed.append((_offset(event, path), index, str(kind), _member(event, path)))
    found: list[Turn] = []
    speaking: dict[str, tuple[float, Member]] = {}
    for at, index, kind, member in sorted(timed, key=lambda e: (e[0], e[1])):
        if kind == STARTED:
            speaking.setdefault(member.id, (at, member))
            continue
        opened = speaking.pop(member.id, None)
        if opened is None:
            raise SpeakerEventsError(
                f"speakerEvents[{index}]: {member.name or member.id} stops speaking at "
                f"{at:g} s without having started."
            )
        found.append(Turn(opened[1], opened[0], at))
    found.extend(Turn(member, start, math.inf) for start, member in speaking.values())
    return sorted(found, key=lambda t: t.start)


def speakers(found: Sequence[Turn]) -> list[Member]:
    """The members the turns name, once each, in the order they first spoke."""
    seen: dict[str, Member] = {}
    for turn in found:
        seen.setdefault(turn.member.id, turn.member)
    return list(seen.values())


def senders(messages: Sequence[StoredMessage], found: Sequence[Turn]) -> dict[str, Member]:
    """The new sender of each message some turn overlaps, by message id."""
    out: dict[str, Member] = {}
    for message in messages:
        start, end = message.time_offset, message.time_offset + message.duration
        best: tuple[float, Member] | None = None
        for turn in found:
            overlap = min(end, turn.end) - max(start, turn.start)
            # A message of no duration counts as overlapped by the turn it falls in.
            if overlap < 0 or (overlap == 0 and end > start):
                continue
            if best is None or overlap > best[0]:
                best = (overlap, turn.member)
        if best is not None:
            out[message.id] = best[1]
    return out

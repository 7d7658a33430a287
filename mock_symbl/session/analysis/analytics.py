"""Analytics: talk time, listening time, pace, overlap and silence, per member and overall,
from the times and words of the messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mock_symbl.session.analysis import Json
from mock_symbl.store import Member, StoredMessage

Interval = tuple[float, float]


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    """Intervals merged where they touch or overlap, in order."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Iterable[Interval]) -> float:
    return float(sum(end - start for start, end in intervals))


def _intersection(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The time covered by both of two merged interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def word_count(message: StoredMessage) -> int:
    """The words of a message: its timed words, else those of its text."""
    return len(message.words) or len(message.text.split())


def _who(member: Member) -> Json:
    """`{id, name, userId?}`: a member as analytics names it."""
    return member.to_json()


def percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 3) if whole > 0 else 0.0


def _metric(kind: str, seconds: float, whole: float) -> Json:
    return {"type": kind, "percent": percent(seconds, whole), "seconds": round(seconds, 3)}


@dataclass(frozen=True, slots=True)
class Speaker:
    """One member's speech: when they talked (merged) and how many words they said."""

    member: Member
    talk: tuple[Interval, ...]
    words: int

    @property
    def talk_s(self) -> float:
        """Seconds this member talked."""
        return _length(self.talk)

    @property
    def wpm(self) -> int:
        """Words per minute of talk time (0 for a member who never talked)."""
        return round(self.words * 60.0 / self.talk_s) if self.talk_s > 0 else 0


def speakers(messages: Sequence[StoredMessage], members: Sequence[Member]) -> list[Speaker]:
    """Every member (in the conversation's order, then any other sender) with their speech."""
    known = {m.id: m for m in members}
    order = [m.id for m in members]
    spans: dict[str, list[Interval]] = {m.id: [] for m in members}
    words: Counter[str] = Counter()
    for message in messages:
        sender = message.sender.id
        if sender not in spans:
            known[sender] = message.sender
            order.append(sender)
            spans[sender] = []
        spans[sender].append((message.time_offset, message.time_offset + message.duration))
        words[sender] += word_count(message)
    return [Speaker(known[i], tuple(_union(spans[i])), words[i]) for i in order]


@dataclass(frozen=True, slots=True)
class Analytics:
    """A conversation's talk, silence and overlap, overall and per member."""

    speakers: tuple[Speaker, ...]
    span_s: float

    @property
    def talk_s(self) -> float:
        """Every member's talk time added up (two talking at once count twice)."""
        return sum(s.talk_s for s in self.speakers)

    @property
    def silence_s(self) -> float:
        """Time in the conversation when nobody talked."""
        spoken = _length(_union(i for s in self.speakers for i in s.talk))
        return max(self.span_s - spoken, 0.0)

    def overlap_s(self, a: Speaker, b: Speaker) -> float:
        """Seconds two members talked at the same time."""
        return _length(_intersection(a.talk, b.talk))

    @property
    def total_overlap_s(self) -> float:
        """Time when two or more members talked at once."""
        both = [
            i
            for n, a in enumerate(self.speakers)
            for b in self.speakers[n + 1 :]
            for i in _intersection(a.talk, b.talk)
        ]
        return _length(_union(both))

    def to_json(self) -> Json:
        """`GET …/analytics`: `metrics` and `members`."""
        talk, silence = self.talk_s, self.silence_s
        # As Symbl's example: silence and talk time share one whole; overlap is a share of
        # the talk time; a member's listening time is everyone else's talk time.
        whole = talk + silence
        overlap = self.total_overlap_s
        metrics = [
            _metric("total_silence", silence, whole),
            _metric("total_talk_time", talk, whole),
            _metric("total_overlap", overlap, talk),
        ]
        return {"metrics": metrics, "members": [self._member(s) for s in self.speakers]}

    def _member(self, speaker: Speaker) -> Json:
        talk, own = self.talk_s, speaker.talk_s
        overlapping = []
        for other in self.speakers:
            seconds = self.overlap_s(speaker, other) if other is not speaker else 0.0
            if seconds > 0:
                overlapping.append(
                    {
                        **_who(other.member),
                        # Symbl: the overlap's share of both members' talk time together.
                        "percent": percent(seconds, own + other.talk_s),
                        "seconds": round(seconds, 3),
                    }
                )
        return {
            **_who(speaker.member),
            "pace": {"wpm": speaker.wpm},
            "talkTime": {"percentage": percent(own, talk), "seconds": round(own, 3)},
            "listenTime": {
                "percentage": percent(talk - own, talk),
                "seconds": round(talk - own, 3),
            },
            "overlap": {
                "overlapDuration": round(float(sum(o["seconds"] for o in overlapping)), 3),
                "overlappingMembers": overlapping,
            },
        }


def analytics(
    messages: Sequence[StoredMessage], members: Sequence[Member], ended_s: float | None
) -> Analytics:
    """A conversation's analytics; it lasts until it ended (`ended_s` after its start) or
    until its last word, whichever is later."""
    found = speakers(messages, members)
    last = max((end for s in found for _, end in s.talk), default=0.0)
    return Analytics(tuple(found), max(ended_s or 0.0, last))

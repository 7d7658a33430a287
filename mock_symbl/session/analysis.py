"""What the Conversation API computes from a stored conversation: analytics, an extractive
summary, call intents and a call score, in Symbl's documented shapes.

All pure functions of the messages (their times and words), members and insights. Times
are the messages' offsets in seconds from the conversation's start.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yake

from mock_symbl.store import Member, StoredInsight, StoredMessage

Interval = tuple[float, float]
Json = dict[str, Any]

# The Call Score docs: "The transcript needs to be at least 50 words or longer in order to
# qualify for call-score processing".
CALL_SCORE_MIN_WORDS = 50
# A comfortable speaking pace, in words per minute: full marks inside, less outside.
PACE_RANGE = (110.0, 170.0)
# A summary item covers at most this many consecutive messages, and keeps a third of them.
SUMMARY_SPAN = 10
# A question counts as answered when another member speaks within this many messages.
ANSWER_WITHIN = 2
# Full marks for asking questions at one question per this many messages.
MESSAGES_PER_QUESTION = 5

_WORD = re.compile(r"[a-z0-9']+")


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


def _percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 3) if whole > 0 else 0.0


def _metric(kind: str, seconds: float, whole: float) -> Json:
    return {"type": kind, "percent": _percent(seconds, whole), "seconds": round(seconds, 3)}


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
                        "percent": _percent(seconds, own + other.talk_s),
                        "seconds": round(seconds, 3),
                    }
                )
        return {
            **_who(speaker.member),
            "pace": {"wpm": speaker.wpm},
            "talkTime": {"percentage": _percent(own, talk), "seconds": round(own, 3)},
            "listenTime": {
                "percentage": _percent(talk - own, talk),
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


@cache
def _stopwords() -> frozenset[str]:
    return frozenset(yake.KeywordExtractor(lan="en").stopword_set)


def _content_words(text: str) -> list[str]:
    stop = _stopwords()
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in stop]


def numeric_id(*parts: str) -> str:
    """A stable 16-digit id derived from what it identifies (as Symbl's numeric ids look)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return str(10**15 + int.from_bytes(digest[:8], "big") % (9 * 10**15))


def summary(conversation_id: str, messages: Sequence[StoredMessage]) -> list[Json]:
    """An extractive summary: for every run of up to SUMMARY_SPAN messages, the third of
    them whose content words recur most across the conversation (Luhn's measure), in
    the order they were said, with references to those messages."""
    words = [_content_words(m.text) for m in messages]
    frequency = Counter(w for found in words for w in found)
    top = max(frequency.values(), default=1)

    def weight(index: int) -> float:
        distinct = set(words[index])
        said = max(len(messages[index].text.split()), 1)
        return sum(frequency[w] / top for w in distinct) / math.sqrt(said)

    items = []
    for first in range(0, len(messages), SUMMARY_SPAN):
        run = [i for i in range(first, min(first + SUMMARY_SPAN, len(messages))) if words[i]]
        if not run:
            continue
        keep = math.ceil(len(run) / 3)
        chosen = sorted(sorted(run, key=lambda i: (-weight(i), i))[:keep])
        items.append(
            {
                "id": numeric_id(conversation_id, "summary", messages[chosen[0]].id),
                "text": " ".join(messages[i].text for i in chosen),
                "messageRefs": [{"id": messages[i].id} for i in chosen],
            }
        )
    return items


# Call intents (the Telephony API's `intents`), each recognised by the phrases that mark it.
# A negative phrase is looked for first and blanked, so "not interested" is not "interested".
_INTENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "answering_machine",
        re.compile(
            r"\b(leave (me |us )?(a|your) (message|name)|after the (tone|beep)|voice ?mail|"
            r"(is|am|are) not available|unable to (take|answer) (your|the) call|"
            r"record your message|mailbox)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "do_not_call",
        re.compile(
            r"\b((do not|don't|never) (call|contact|phone) (me|us|this number)|stop calling|"
            r"(remove|take) (me|us|my number) (off|from)|(put|add) (me|us) (on|to) (the|your) "
            r"do not call list)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "not_interested",
        re.compile(
            r"\b((am|are|is|'m|'re) not interested|not interested|no thanks|no thank you|"
            r"not (right )?now|not looking for|we are (all )?set|we're (all )?set|"
            r"(do not|don't) need (it|this|that|anything))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "interested",
        re.compile(
            r"\b(interested|tell me more|sounds (good|great|interesting)|sign (me|us) up|"
            r"(i|we) would like to|(i|we)'d like to|let's do it|yes please|"
            r"send (me|us) (the|more|some) (details|information|info|pricing|quote))\b",
            re.IGNORECASE,
        ),
    ),
)


def _intent_hits(text: str) -> list[tuple[str, int]]:
    """The intents a message shows, with how many of their phrases it holds."""
    hits = []
    for intent, cue in _INTENT_CUES:
        found = sum(1 for _ in cue.finditer(text))
        if found:
            hits.append((intent, found))
            text = cue.sub(" ", text)
    return hits


def _intent_score(phrases: int) -> float:
    return round(min(0.7 + 0.1 * phrases, 0.99), 2)


def intents(conversation_id: str, messages: Sequence[StoredMessage]) -> list[Json]:
    """The call intents in the messages: one per message that shows any, the strongest
    first and the others as its alternatives."""
    out = []
    for message in messages:
        hits = _intent_hits(message.text)
        if not hits:
            continue
        ranked = sorted(hits, key=lambda hit: -hit[1])
        best, phrases = ranked[0]
        out.append(
            {
                "id": numeric_id(conversation_id, "intent", message.id),
                "text": message.text,
                "type": "intent",
                "score": _intent_score(phrases),
                "messageIds": [message.id],
                "intent": best,
                "alternatives": [
                    {"intent": name, "score": _intent_score(n)} for name, n in ranked[1:]
                ],
                "entities": [],
            }
        )
    return out


def call_score_job_id(conversation_id: str) -> str:
    """The id of the job that computes a conversation's call score (stable per conversation)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"symbl:callscore:{conversation_id}"))


def call_score_status(ended: bool, words: int) -> str:
    """`in_progress` until the conversation ends, then `completed`, or `failed` for a
    transcript too short to score."""
    if not ended:
        return "in_progress"
    return "completed" if words >= CALL_SCORE_MIN_WORDS else "failed"


@dataclass(frozen=True, slots=True)
class Facet:
    """One measured side of a criterion: its mark in [0, 1] and what it says."""

    mark: float
    praise: str
    advice: str


def _criterion(name: str, facets: Sequence[Facet]) -> Json:
    score = round(100 * sum(f.mark for f in facets) / len(facets))
    best = max(facets, key=lambda f: f.mark)
    worst = min(facets, key=lambda f: f.mark)
    return {
        "name": name,
        "score": score,
        "summary": " ".join(f.praise if f.mark >= 0.5 else f.advice for f in facets),
        "feedback": {
            "positive": {"summary": best.praise if best.mark > 0 else "Nothing stood out."},
            "negative": {"summary": worst.advice if worst.mark < 1 else "Nothing to improve."},
        },
    }


def _names(found: Sequence[Speaker]) -> str:
    return ", ".join(f"{s.member.name or s.member.id}" for s in found)


def _communication(talk: Analytics, messages: Sequence[StoredMessage]) -> Json:
    talking = [s for s in talk.speakers if s.talk_s > 0]
    if len(talking) < 2:
        balance = Facet(
            0.0, "", f"Only {_names(talking) or 'nobody'} talked: there was no dialogue."
        )
    else:
        shares = ", ".join(
            f"{s.member.name or s.member.id} {_percent(s.talk_s, talk.talk_s):.0f}%"
            for s in talking
        )
        fair = 1 / len(talking)
        dominant = max(s.talk_s for s in talking) / talk.talk_s
        mark = 1 - (dominant - fair) / (1 - fair)
        balance = Facet(
            mark,
            f"Talk time was shared ({shares}).",
            f"One voice dominated the talk time ({shares}).",
        )
    words = sum(s.words for s in talk.speakers)
    wpm = round(words * 60 / talk.talk_s) if talk.talk_s > 0 else 0
    low, high = PACE_RANGE
    pace_mark = (
        1.0 if low <= wpm <= high else wpm / low if wpm < low else max(0, 1 - (wpm - high) / 130)
    )
    pace = Facet(
        pace_mark,
        f"The pace of {wpm} words per minute was easy to follow.",
        f"The pace of {wpm} words per minute was outside the comfortable {low:.0f} to {high:.0f}.",
    )
    mood = sum(m.sentiment for m in messages) / len(messages) if messages else 0.0
    tone = Facet(
        (mood + 1) / 2,
        f"The tone was positive (average sentiment {mood:.2f}).",
        f"The tone was not positive (average sentiment {mood:.2f}).",
    )
    return _criterion("Communication and Engagement", [balance, pace, tone])


def _answered(question: StoredInsight, messages: Sequence[StoredMessage]) -> bool:
    index = next((i for i, m in enumerate(messages) if m.id in question.message_ids), None)
    if index is None:
        return False
    after = messages[index + 1 : index + 1 + ANSWER_WITHIN]
    return any(m.sender.id != question.sender.id for m in after)


def _question_handling(
    questions: Sequence[StoredInsight], messages: Sequence[StoredMessage]
) -> Json:
    wanted = max(1, math.ceil(len(messages) / MESSAGES_PER_QUESTION))
    asked = Facet(
        min(1.0, len(questions) / wanted),
        f"{len(questions)} question(s) were asked in {len(messages)} messages.",
        f"Only {len(questions)} question(s) were asked in {len(messages)} messages; "
        f"aim at one every {MESSAGES_PER_QUESTION}.",
    )
    answered = sum(_answered(q, messages) for q in questions)
    replies = Facet(
        answered / len(questions) if questions else 0.0,
        f"{answered} of {len(questions)} question(s) got an answer from another member.",
        f"{len(questions) - answered} of {len(questions)} question(s) got no answer from "
        "another member.",
    )
    return _criterion("Question Handling", [asked, replies])


def _forward_motion(steps: Sequence[StoredInsight]) -> Json:
    # Each agreed next step halves what is left to reach full marks.
    mark = 1 - 0.5 ** len(steps)
    quoted = " ".join(f'"{s.text}"' for s in steps[:3])
    motion = Facet(
        mark,
        f"{len(steps)} next step(s) were agreed: {quoted}".strip(),
        "No next step (action item or follow-up) was agreed."
        if not steps
        else f"Only {len(steps)} next step(s) were agreed; more would move the call forward.",
    )
    return _criterion("Forward Motion", [motion])


def call_score(
    talk: Analytics,
    messages: Sequence[StoredMessage],
    questions: Sequence[StoredInsight],
    steps: Sequence[StoredInsight],
) -> Json:
    """`GET …/callscore`: the average of the criteria's scores, each out of 100."""
    criteria = [
        _communication(talk, messages),
        _question_handling(questions, messages),
        _forward_motion(steps),
    ]
    score = round(sum(c["score"] for c in criteria) / len(criteria))
    parts = ", ".join(f"{c['name']} {c['score']}" for c in criteria)
    return {
        "score": score,
        "summary": f"The call scored {score} of 100: {parts}.",
        "criteria": criteria,
    }

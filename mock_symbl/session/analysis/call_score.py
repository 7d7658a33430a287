"""The call score: criteria scored out of 100 by rules measured on the conversation, and
their average; and the status of its computation."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from mock_symbl.session.analysis import Json
from mock_symbl.session.analysis.analytics import Analytics, Speaker, percent
from mock_symbl.session.insights import suggested
from mock_symbl.store import StoredInsight, StoredMessage

# The Call Score docs: "The transcript needs to be at least 50 words or longer in order to
# qualify for call-score processing".
MIN_WORDS = 50
# A comfortable speaking pace, in words per minute: full marks inside, less outside.
PACE_RANGE = (110.0, 170.0)
# A question counts as answered when another member speaks within this many messages.
ANSWER_WITHIN = 2
# Full marks for asking questions at one question per this many messages.
MESSAGES_PER_QUESTION = 5


def job_id(conversation_id: str) -> str:
    """The id of the job that computes a conversation's call score (stable per conversation)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"symbl:callscore:{conversation_id}"))


def status(ended: bool, words: int) -> str:
    """`in_progress` until the conversation ends, then `completed`, or `failed` for a
    transcript too short to score."""
    if not ended:
        return "in_progress"
    return "completed" if words >= MIN_WORDS else "failed"


@dataclass(frozen=True, slots=True)
class Facet:
    """One measured side of a criterion: its mark in [0, 1] and what it says."""

    mark: float
    praise: str
    advice: str


def _criterion(name: str, facets: Sequence[Facet]) -> Json:
    points = round(100 * sum(f.mark for f in facets) / len(facets))
    best = max(facets, key=lambda f: f.mark)
    worst = min(facets, key=lambda f: f.mark)
    return {
        "name": name,
        "score": points,
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
            f"{s.member.name or s.member.id} {percent(s.talk_s, talk.talk_s):.0f}%" for s in talking
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
    comfortable = f"the comfortable {low:.0f} to {high:.0f}"
    pace = Facet(
        pace_mark,
        f"The pace of {wpm} words per minute was within {comfortable}."
        if pace_mark == 1
        else f"The pace of {wpm} words per minute was near {comfortable}.",
        f"The pace of {wpm} words per minute was outside {comfortable}.",
    )
    mood = sum(m.sentiment for m in messages) / len(messages) if messages else 0.0
    said = f"The tone was {suggested(mood)} (average sentiment {mood:.2f})."
    tone = Facet((mood + 1) / 2, said, said)
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


def score(
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
    points = round(sum(c["score"] for c in criteria) / len(criteria))
    parts = ", ".join(f"{c['name']} {c['score']}" for c in criteria)
    return {
        "score": points,
        "summary": f"The call scored {points} of 100: {parts}.",
        "criteria": criteria,
    }

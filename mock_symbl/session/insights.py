"""What the mock finds in finalised messages: sentences, sentiment, insights, topics, trackers.

All pure functions of text. Sentiment is VADER's compound score; topics are YAKE key
phrases; questions, action items and follow-ups are recognised from the words that mark
them in English (interrogatives, commitments, requests, deadlines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import yake
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Thresholds of PROTOCOL.md: -0.3 is still neutral, -0.437 is negative.
NEGATIVE_BELOW = -0.3
POSITIVE_ABOVE = 0.3

_QUESTION_OPENERS = frozenset(
    [
        "what",
        "why",
        "how",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "which",
        "can",
        "could",
        "would",
        "will",
        "is",
        "are",
        "am",
        "was",
        "were",
        "do",
        "does",
        "did",
        "should",
        "shall",
        "may",
        "might",
        "have",
        "has",
        "had",
        "isn't",
        "aren't",
        "don't",
        "doesn't",
        "didn't",
        "won't",
    ]
)
_COMMITMENT = re.compile(
    r"\b(i|we|he|she|they|you)\s+(will|'ll|shall|are going to|am going to|is going to|need to|"
    r"have to|must|should)\b|\b(i'll|we'll|you'll|let's|let us)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"^(please\b|kindly\b|make sure\b|remember to\b)|\b(can|could|would|will) you (please )?"
    r"(send|share|review|update|schedule|check|prepare|call|email|finish|fix)\b",
    re.IGNORECASE,
)
_DEADLINE = re.compile(
    r"\b(by|before|until|on|next)\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"tomorrow|tonight|today|week|month|end of (the )?(day|week|month))\b|\btomorrow\b",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"\b(follow(ing)? up|get back to|reach out|check in|circle back|touch base|send (you|them|"
    r"him|her) (an? )?(email|note|update)|call (you|them|him|her) back)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Finding:
    """An insight found in one message."""

    type: str
    confidence: float


@dataclass(frozen=True, slots=True)
class TopicPhrase:
    """A key phrase of a conversation, its score in (0, 1] and the messages it occurs in."""

    text: str
    score: float
    message_indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TrackerHit:
    """A tracker phrase found in a message: `offset` of an exact match, -1 for a similar one."""

    tracker: str
    value: str
    message_index: int
    offset: int


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentence(words: Sequence[str]) -> str:
    """Recognised words as a sentence: capitalised, `I` upper-case, ending `.` or `?`."""
    cleaned = [w.strip() for w in words if w.strip()]
    if not cleaned:
        return ""
    cleaned = [
        "I" + w[1:] if w.lower() == "i" or w.lower().startswith("i'") else w for w in cleaned
    ]
    text = " ".join(cleaned)
    text = text[0].upper() + text[1:]
    if text[-1] in ".?!":
        return text
    return text + ("?" if cleaned[0].lower() in _QUESTION_OPENERS else ".")


def polarity(text: str) -> float:
    """Sentiment polarity in [-1, 1] (VADER compound score)."""
    return float(_analyzer().polarity_scores(text)["compound"])


def suggested(score: float) -> str:
    """`negative`, `neutral` or `positive` by PROTOCOL.md's thresholds."""
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def sentiment_json(score: float) -> dict[str, object]:
    """The `sentiment` object of a message or topic."""
    return {"polarity": {"score": round(score, 3)}, "suggested": suggested(score)}


def find_insights(text: str) -> list[Finding]:
    """Questions, action items and follow-ups in one message, with a confidence each."""
    findings: list[Finding] = []
    stripped = text.strip()
    first = stripped.split(" ", 1)[0].lower().strip(",") if stripped else ""
    is_question = stripped.endswith("?") or first in _QUESTION_OPENERS
    request = bool(_REQUEST.search(stripped))
    commitment = bool(_COMMITMENT.search(stripped))
    deadline = bool(_DEADLINE.search(stripped))
    follow_up = bool(_FOLLOW_UP.search(stripped))
    if is_question:
        findings.append(Finding("question", 0.95 if stripped.endswith("?") else 0.8))
    if follow_up:
        findings.append(Finding("follow_up", 0.9 if commitment or deadline else 0.75))
    elif request or commitment:
        confidence = 0.6 + 0.15 * request + 0.15 * commitment + 0.1 * deadline
        findings.append(Finding("action_item", round(min(confidence, 0.99), 2)))
    return findings


def topics(messages: Sequence[str], limit: int = 5) -> list[TopicPhrase]:
    """Key phrases of the conversation (YAKE), best first, with the messages holding them."""
    text = " ".join(messages).strip()
    if not text:
        return []
    extractor = yake.KeywordExtractor(lan="en", n=2, top=limit, dedupLim=0.7)
    out = []
    for phrase, raw_score in extractor.extract_keywords(text):
        # YAKE scores fall as relevance rises, from about 0 upward.
        score = round(1.0 / (1.0 + 10.0 * float(raw_score)), 3)
        needle = phrase.lower()
        indexes = tuple(i for i, m in enumerate(messages) if needle in m.lower())
        out.append(TopicPhrase(phrase.lower(), score, indexes))
    return out


def tracker_hits(
    trackers: Iterable[tuple[str, Sequence[str]]], messages: Sequence[str]
) -> list[TrackerHit]:
    """Vocabulary matches: exact (with the offset), or similar (a plural or other ending)."""
    hits: list[TrackerHit] = []
    for name, vocabulary in trackers:
        for value in vocabulary:
            exact = re.compile(rf"\b{re.escape(value)}\b", re.IGNORECASE)
            similar = re.compile(rf"\b{re.escape(value.rstrip('s'))}\w{{0,3}}\b", re.IGNORECASE)
            for index, message in enumerate(messages):
                match = exact.search(message)
                if match:
                    hits.append(TrackerHit(name, value, index, match.start()))
                elif similar.search(message):
                    hits.append(TrackerHit(name, value, index, -1))
    return hits

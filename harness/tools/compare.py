"""A semantic diff of two sessions: what was said, found and felt, and when, not their bytes.

Ids, wall-clock times and partial hypotheses are ignored. Compared: the lifecycle and the
sequence of event types (partials aside), final transcripts (word error rate, as written and
normalised: harness.text_norm), insights (matched by type and text similarity), topics, the
sentiment label of each matched message, and how much later or earlier each matched message
came relative to the audio sent. Text is matched and judged in its normalised form, as speech
benchmarks do: "It's 2:30" and "it is two thirty" are the same words.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from harness.protocol import InsightResponse, MessageResponse, TopicResponse, parse_message
from harness.session_folder.log import SessionLog, TextFrame
from harness.text_norm import normalise, word_error_rates

PARTIAL = "recognition_result"


@dataclass(frozen=True)
class Tolerances:
    """How far a candidate may stray from its baseline and still match it.

    `wer` bounds the word error rate of the normalised transcripts (`harness.text_norm`).
    """

    wer: float = 0.0
    timing_ms: float = 500.0
    insight_similarity: float = 0.8
    missing_insights: int = 0
    extra_insights: int = 0
    missing_topics: int = 0
    sentiment_flips: int = 0

    @classmethod
    def parse(cls, settings: list[str]) -> Tolerances:
        """`name=value` settings over the defaults; raises ValueError naming a bad one."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for setting in settings:
            name, sep, value = setting.partition("=")
            if not sep or name not in known:
                raise ValueError(f"unknown tolerance {setting!r} (known: {', '.join(known)})")
            try:
                number = int(value) if known[name] == "int" else float(value)
            except ValueError:
                raise ValueError(f"tolerance {name} needs a number, got {value!r}") from None
            # NaN compares false with everything, so a bound of nan would pass any figure.
            if not 0 <= number < math.inf:
                raise ValueError(f"tolerance {name} needs a finite number >= 0, got {value!r}")
            values[name] = number
        return cls(**values)


@dataclass(frozen=True)
class Difference:
    """One thing that differs; `within` when the tolerances allow it."""

    aspect: str
    detail: str
    within: bool = False


@dataclass(frozen=True)
class ToleranceCheck:
    """One tolerance against what was measured: `measured` is None where nothing was (timing
    at max speed), and for `insight_similarity`, a threshold that matches insights, not a
    figure."""

    name: str
    bound: float
    measured: float | None

    @property
    def within(self) -> bool | None:
        """Whether the figure is within its bound; None where nothing was measured."""
        return None if self.measured is None else self.measured <= self.bound


@dataclass
class Comparison:
    """The outcome: differences, headline figures, and whether the candidate matches."""

    differences: list[Difference] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # The final messages side by side, as matched for the transcript, sentiment and timing.
    aligned: list[AlignedMessage] = field(default_factory=list)
    tolerances: Tolerances = field(default_factory=Tolerances)
    # What each tolerance bounds, as measured (a tolerance absent here measured nothing).
    measured: dict[str, float] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """True when every difference is within tolerance."""
        return all(d.within for d in self.differences)

    def checks(self) -> list[ToleranceCheck]:
        """Every tolerance, in the order Tolerances declares them, with its figure."""
        return [
            ToleranceCheck(f.name, getattr(self.tolerances, f.name), self.measured.get(f.name))
            for f in fields(Tolerances)
        ]

    def to_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready values."""
        return {
            "matches": self.matches,
            "figures": self.figures,
            "differences": [asdict(d) for d in self.differences],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Message:
    text: str
    position: int
    sentiment: str | None


@dataclass
class _Digest:
    """What one session said and when, reduced to what `compare` looks at."""

    rate: int
    max_speed: bool
    types: list[str] = field(default_factory=list)
    messages: list[_Message] = field(default_factory=list)
    insights: list[tuple[str, str]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)


def _digest(log: SessionLog) -> _Digest:
    digest = _Digest(log.sample_rate, str(log.header.get("speed")) == "max")
    for frame in log.received():
        if not isinstance(frame, TextFrame) or not isinstance(frame.data, dict):
            continue
        event = parse_message(frame.data)
        kind = event.type
        if kind != PARTIAL:
            digest.types.append(kind)
        if isinstance(event, MessageResponse):
            raw_messages = frame.data.get("messages") or []
            for message, raw in zip(event.messages, raw_messages, strict=False):
                label = (
                    (raw.get("sentiment") or {}).get("suggested") if isinstance(raw, dict) else None
                )
                digest.messages.append(_Message(message.text, frame.position, label))
        elif isinstance(event, InsightResponse):
            digest.insights.extend((i.type, i.text) for i in event.insights)
        elif isinstance(event, TopicResponse):
            digest.topics.update(t.phrases.lower() for t in event.topics)
    return digest


@dataclass(frozen=True)
class AlignedMessage:
    """A baseline message beside its candidate: `same`, `changed`, `missing` or `extra`."""

    status: str
    baseline: str | None
    candidate: str | None


@dataclass(frozen=True)
class _Row:
    status: str
    baseline: _Message | None
    candidate: _Message | None


def _align(baseline: list[_Message], candidate: list[_Message]) -> list[_Row]:
    """Messages matched in order by their normalised text (a diff of the two lists)."""
    matcher = difflib.SequenceMatcher(
        a=[normalise(m.text) for m in baseline],
        b=[normalise(m.text) for m in candidate],
        autojunk=False,
    )
    rows: list[_Row] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        olds, news = baseline[a0:a1], candidate[b0:b1]
        paired = min(len(olds), len(news))
        status = "same" if tag == "equal" else "changed"
        rows += [_Row(status, a, b) for a, b in zip(olds, news, strict=False)]
        rows += [_Row("missing", a, None) for a in olds[paired:]]
        rows += [_Row("extra", None, b) for b in news[paired:]]
    return rows


def compare(baseline: SessionLog, candidate: SessionLog, tolerances: Tolerances) -> Comparison:
    """Compare a candidate session with its baseline."""
    result = Comparison(tolerances=tolerances)
    base, cand = _digest(baseline), _digest(candidate)
    rows = _align(base.messages, cand.messages)
    result.aligned = [
        AlignedMessage(
            r.status,
            r.baseline.text if r.baseline is not None else None,
            r.candidate.text if r.candidate is not None else None,
        )
        for r in rows
    ]
    pairs = [
        (r.baseline, r.candidate)
        for r in rows
        if r.baseline is not None and r.candidate is not None
    ]
    _sequence(base, cand, result)
    _transcripts(base, cand, pairs, tolerances, result)
    _insights(base, cand, tolerances, result)
    _topics(base, cand, tolerances, result)
    _sentiment(pairs, tolerances, result)
    if base.max_speed or cand.max_speed:
        result.notes.append(
            "timing not compared: a session sent at max speed has no meaningful arrival times"
        )
    else:
        _timing(pairs, base.rate, cand.rate, tolerances, result)
    return result


def _sequence(base: _Digest, cand: _Digest, result: Comparison) -> None:
    if base.types == cand.types:
        return
    matcher = difflib.SequenceMatcher(a=base.types, b=cand.types, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        was = ", ".join(base.types[a0:a1]) or "nothing"
        now = ", ".join(cand.types[b0:b1]) or "nothing"
        where = (
            f"after event {a0}"
            if a1 == a0
            else f"event {a1}"
            if a1 - a0 == 1
            else f"events {a0 + 1}-{a1}"
        )
        result.differences.append(
            Difference("sequence", f"{where}: baseline {was}; candidate {now}")
        )


def _transcripts(
    base: _Digest,
    cand: _Digest,
    pairs: list[tuple[_Message, _Message]],
    tolerances: Tolerances,
    result: Comparison,
) -> None:
    rates = word_error_rates(
        " ".join(m.text for m in base.messages), " ".join(m.text for m in cand.messages)
    )
    error = rates.normalised
    result.measured["wer"] = error
    result.figures["wer"] = round(error, 4)
    result.figures["wer_raw"] = round(rates.raw, 4)
    result.figures["messages"] = {"baseline": len(base.messages), "candidate": len(cand.messages)}
    if error == 0 and rates.raw > 0:
        result.notes.append(
            f"the transcripts differ only in form (raw word error rate {rates.raw:.3f}): "
            "case, punctuation, contractions or how numbers are written"
        )
    if error > 0:
        changed = [
            f"{a.text!r} -> {b.text!r}" for a, b in pairs if normalise(a.text) != normalise(b.text)
        ]
        detail = f"word error rate {error:.3f} normalised, {rates.raw:.3f} raw" + (
            f": {'; '.join(changed[:3])}" if changed else ""
        )
        if len(base.messages) != len(cand.messages):
            detail += f" ({len(base.messages)} messages -> {len(cand.messages)})"
        result.differences.append(Difference("transcript", detail, error <= tolerances.wer))


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(a=normalise(a), b=normalise(b), autojunk=False).ratio()


def _insights(base: _Digest, cand: _Digest, tolerances: Tolerances, result: Comparison) -> None:
    unmatched = list(cand.insights)
    missing = []
    for kind, text in base.insights:
        best = max(
            (c for c in unmatched if c[0] == kind),
            key=lambda c: _similar(text, c[1]),
            default=None,
        )
        if best is not None and _similar(text, best[1]) >= tolerances.insight_similarity:
            unmatched.remove(best)
        else:
            missing.append((kind, text))
    result.figures["insights"] = {"baseline": len(base.insights), "candidate": len(cand.insights)}
    result.measured["missing_insights"] = len(missing)
    result.measured["extra_insights"] = len(unmatched)
    for kind, text in missing:
        result.differences.append(
            Difference(
                "insights", f"missing {kind}: {text!r}", len(missing) <= tolerances.missing_insights
            )
        )
    for kind, text in unmatched:
        result.differences.append(
            Difference(
                "insights", f"extra {kind}: {text!r}", len(unmatched) <= tolerances.extra_insights
            )
        )


def _topics(base: _Digest, cand: _Digest, tolerances: Tolerances, result: Comparison) -> None:
    missing = sorted(base.topics - cand.topics)
    result.figures["topics"] = {"baseline": len(base.topics), "candidate": len(cand.topics)}
    result.measured["missing_topics"] = len(missing)
    if missing:
        within = len(missing) <= tolerances.missing_topics
        result.differences.append(Difference("topics", f"missing: {', '.join(missing)}", within))
    extra = sorted(cand.topics - base.topics)
    if extra:
        result.notes.append(f"new topics in the candidate: {', '.join(extra)}")


def _sentiment(
    pairs: list[tuple[_Message, _Message]], tolerances: Tolerances, result: Comparison
) -> None:
    flips = [
        (a, b)
        for a, b in pairs
        if a.sentiment is not None and b.sentiment is not None and a.sentiment != b.sentiment
    ]
    result.figures["sentiment_flips"] = len(flips)
    result.measured["sentiment_flips"] = len(flips)
    for a, b in flips:
        result.differences.append(
            Difference(
                "sentiment",
                f"{a.text!r}: {a.sentiment} -> {b.sentiment}",
                len(flips) <= tolerances.sentiment_flips,
            )
        )


def _timing(
    pairs: list[tuple[_Message, _Message]],
    base_rate: int,
    cand_rate: int,
    tolerances: Tolerances,
    result: Comparison,
) -> None:
    shifts = [(b.position / cand_rate - a.position / base_rate) * 1000 for a, b in pairs]
    if not shifts:
        return
    result.measured["timing_ms"] = max(abs(shift) for shift in shifts)
    result.figures["timing_ms"] = {
        "mean": round(sum(shifts) / len(shifts), 1),
        "earliest": round(min(shifts), 1),
        "latest": round(max(shifts), 1),
    }
    for (a, _), shift in zip(pairs, shifts, strict=True):
        if abs(shift) > tolerances.timing_ms:
            direction = "later" if shift > 0 else "earlier"
            result.differences.append(
                Difference(
                    "timing", f"{a.text!r} came {abs(shift):.0f} ms {direction} in the audio"
                )
            )

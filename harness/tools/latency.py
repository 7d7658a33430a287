"""Latency figures of a recorded session, as docs/benchmarking.md defines them.

Everything is read from the session log: `t_send` of each audio frame (stamped just before
it was sent) and `t_recv` of each event (stamped when it arrived, before parsing). Word
times come from the reference transcript. Events pair with phrases in order: the partials
after the (i-1)-th `message_response` and up to the i-th belong to phrase i.

Stability, as a person reading the live captions meets it. A phrase's hypotheses are its
non-empty partials in arrival order, then its final (the words of its `message_response`).
Words are normalised (case, punctuation) and compared by position, as a caption line shows
them: hypothesis k+1 *retracts* the word at position i of hypothesis k when it shows another
word there or none.

- `flicker`: the hypotheses (partials, or the final) that retract at least one word the one
  before showed; words only appended are not flicker. `flicker_per_phrase`: its mean.
- `word_revisions`: for each word of each final, the retractions at its position up to and
  including the final: 0 for a word that, once shown, never changed.
- `revisions_per_word`: their mean; `changed_word_share`: the share of final words revised
  at least once.

`stability_of` computes these figures, for one session or for many phrases pooled.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.protocol import MessageResponse, message_type, parse_message
from harness.session_folder.log import Closed, Opened, SessionLog, TextFrame
from harness.session_folder.transcript import Transcript

QUANTILES = ("p50", "p90", "p99", "max")


def percentiles(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """p50, p90, p99, max and n of some figures, rounded to `digits` decimals."""
    if not values:
        return {}
    array = np.asarray(values, dtype=np.float64)
    figures = {q: float(np.percentile(array, int(q[1:]))) for q in QUANTILES if q != "max"}
    figures["max"] = float(array.max())
    return {**{k: round(v, digits) for k, v in figures.items()}, "n": float(array.size)}


def lateness_ms(lateness_ns: Sequence[int]) -> dict[str, float]:
    """Percentiles of pacing lateness (nanoseconds in), in milliseconds to 0.1 µs."""
    return percentiles([value / 1e6 for value in lateness_ns], digits=4)


def event_kind(data: Any) -> str:
    """A recorded frame's message type ("" for a frame that is not a JSON object)."""
    return message_type(data) if isinstance(data, dict) else ""


def _norm(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def partial_words(data: dict[str, Any]) -> list[str]:
    """The normalised words of a `recognition_result`."""
    alternatives = data["message"].get("payload", {}).get("raw", {}).get("alternatives") or [{}]
    transcript = str(alternatives[0].get("transcript") or "")
    return [w for w in (_norm(word) for word in transcript.split()) if w]


class SendClock:
    """When the frame holding a given audio position was sent (the clock latency is read on)."""

    def __init__(self, log: SessionLog) -> None:
        frames = log.audio_frames()
        self.starts = np.asarray([f.offset for f in frames])
        self.times = [f.t for f in frames]
        self.rate = log.sample_rate

    def sent(self, seconds: float, *, end: bool = False) -> float | None:
        """`t_send` of the frame holding the sample at `seconds`; with `end`, of the frame
        holding the last sample before it (where something that ends at `seconds` ends)."""
        if not self.times:
            return None
        sample = round(seconds * self.rate) - (1 if end else 0)
        index = int(np.searchsorted(self.starts, max(sample, 0), side="right")) - 1
        return self.times[max(index, 0)]


@dataclass
class SessionLatency:
    """The latency metrics of one session, in milliseconds (lists: one figure each).

    Set-up and tear-down, from the connection's start (`t` = 0, just before connecting):
    `handshake_ms` until the WebSocket opened; `set_up_ms` until the start request was
    answered (the first `started_listening` or `recognition_started`);
    `start_to_recognition_ms` from sending `start_request` to `recognition_started`;
    `stop_to_completed_ms` from sending `stop_request` to `conversation_completed`;
    `stop_to_close_ms` from sending `stop_request` to the connection's close. Stability
    is counted per phrase (`phrase_flicker`) and per final word (`word_revisions`); its
    figures are `stability()`, as the module's docstring defines them.
    """

    first_partial_ms: list[float] = field(default_factory=list)
    word_emission_ms: list[float] = field(default_factory=list)
    finalisation_ms: list[float] = field(default_factory=list)
    insight_ms: list[float] = field(default_factory=list)
    topic_ms: list[float] = field(default_factory=list)
    coverage: float = 0.0
    phrase_flicker: list[int] = field(default_factory=list)
    word_revisions: list[int] = field(default_factory=list)
    handshake_ms: float | None = None
    set_up_ms: float | None = None
    start_to_recognition_ms: float | None = None
    stop_to_completed_ms: float | None = None
    stop_to_close_ms: float | None = None

    def stability(self) -> dict[str, Any]:
        """Flicker and revisions per word over this session's phrases (`stability_of`)."""
        return stability_of(self.phrase_flicker, self.word_revisions)

    def summary(self) -> dict[str, Any]:
        """Percentiles of each list, the other figures as they are, and the stability."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            out[name] = percentiles(value) if isinstance(value, list) else value
        return {**out, "stability": self.stability()}


def stability_of(phrase_flicker: Sequence[int], word_revisions: Sequence[int]) -> dict[str, Any]:
    """The stability figures (see the module's docstring) of some phrases, from the flicker of
    each and the revisions of each of their final words; a mean of nothing is None."""
    phrases, words = len(phrase_flicker), len(word_revisions)
    flicker = sum(phrase_flicker)
    return {
        "phrases": phrases,
        "words": words,
        "flicker": flicker,
        "flicker_per_phrase": round(flicker / phrases, 4) if phrases else None,
        "revisions_per_word": round(sum(word_revisions) / words, 4) if words else None,
        "changed_word_share": round(sum(1 for w in word_revisions if w) / words, 4)
        if words
        else None,
        "word_revisions": percentiles([float(w) for w in word_revisions]),
    }


def _groups(log: SessionLog) -> tuple[list[list[TextFrame]], list[TextFrame]]:
    """Partials per phrase, and the message_response closing each phrase."""
    groups: list[list[TextFrame]] = [[]]
    finals: list[TextFrame] = []
    for frame in log.received():
        kind = event_kind(frame.data)
        if kind == "recognition_result" and partial_words(frame.data):
            groups[-1].append(frame)
        elif kind == "message_response":
            finals.append(frame)
            groups.append([])
    return groups[: len(finals)], finals


def final_words(data: dict[str, Any]) -> list[str]:
    """The normalised words of a `message_response` (all its messages, in order)."""
    event = parse_message(data)
    messages = event.messages if isinstance(event, MessageResponse) else ()
    text = " ".join(message.text for message in messages)
    return [w for w in (_norm(word) for word in text.split()) if w]


def _retracted(before: list[str], after: list[str]) -> list[int]:
    """Positions of `before` whose word `after` no longer shows (changed or gone)."""
    return [i for i, word in enumerate(before) if i >= len(after) or after[i] != word]


def _stability(
    groups: list[list[TextFrame]], finals: list[TextFrame], result: SessionLatency
) -> None:
    """Flicker per phrase and revisions per final word (see the module's docstring)."""
    for partials, final in zip(groups, finals, strict=False):
        history = [partial_words(p.data) for p in partials] + [final_words(final.data)]
        counts = [0] * len(history[-1])
        flicker = 0
        for before, after in itertools.pairwise(history):
            gone = _retracted(before, after)
            flicker += 1 if gone else 0
            for position in gone:
                if position < len(counts):
                    counts[position] += 1
        result.word_revisions.extend(counts)
        result.phrase_flicker.append(flicker)


def _words(
    groups: list[list[TextFrame]], transcript: Transcript, clock: SendClock, result: SessionLatency
) -> None:
    counted = 0
    for phrase, partials in zip(transcript.phrases, groups, strict=False):
        seen: Counter[str] = Counter()
        for word in phrase.words:
            text = _norm(word.word)
            seen[text] += 1
            sent = clock.sent(word.end, end=True)
            for partial in partials:
                if Counter(partial_words(partial.data))[text] >= seen[text] and sent is not None:
                    result.word_emission_ms.append((partial.t - sent) * 1000)
                    counted += 1
                    break
    total = len(transcript.words)
    result.coverage = round(counted / total, 4) if total else 0.0


def _message_ends(log: SessionLog) -> dict[str, float]:
    """Audio end (seconds) of every finalised message, by id."""
    ends: dict[str, float] = {}
    for frame in log.received():
        if event_kind(frame.data) != "message_response":
            continue
        for message in frame.data.get("messages") or []:
            duration = message.get("duration") or {}
            if "timeOffset" in duration and "duration" in duration:
                ends[str(message.get("id"))] = float(duration["timeOffset"]) + float(
                    duration["duration"]
                )
    return ends


def _references(log: SessionLog, clock: SendClock, result: SessionLatency) -> None:
    ends = _message_ends(log)
    for frame in log.received():
        kind = event_kind(frame.data)
        if kind == "insight_response":
            refs = [i.get("messageReference", {}).get("id") for i in frame.data["insights"]]
            target = result.insight_ms
        elif kind == "topic_response":
            refs = [
                r.get("id") for t in frame.data["topics"] for r in t.get("messageReferences", [])
            ]
            target = result.topic_ms
        else:
            continue
        known = [ends[str(ref)] for ref in refs if str(ref) in ends]
        sent = clock.sent(max(known), end=True) if known else None
        if sent is not None:
            target.append((frame.t - sent) * 1000)


def _ms(start: float | None, end: float | None) -> float | None:
    return round((end - start) * 1000, 3) if start is not None and end is not None else None


def _lifecycle(log: SessionLog, result: SessionLatency) -> None:
    sent: dict[str, float] = {}
    for r in log.records:
        if isinstance(r, TextFrame) and r.direction == "send" and isinstance(r.data, dict):
            sent.setdefault(str(r.data.get("type")), r.t)
    received = {event_kind(r.data): r.t for r in reversed(log.received())}
    opened = next((r.t for r in log.records if isinstance(r, Opened)), None)
    closed = next((r.t for r in log.records if isinstance(r, Closed)), None)
    answers = [received[k] for k in ("started_listening", "recognition_started") if k in received]
    result.handshake_ms = _ms(0.0, opened)
    result.set_up_ms = _ms(0.0, min(answers)) if answers else None
    start, stop = sent.get("start_request"), sent.get("stop_request")
    result.start_to_recognition_ms = _ms(start, received.get("recognition_started"))
    result.stop_to_completed_ms = _ms(stop, received.get("conversation_completed"))
    result.stop_to_close_ms = _ms(stop, closed)


def session_latency(log: SessionLog, transcript: Transcript) -> SessionLatency:
    """Every latency metric of one recorded session against its reference transcript."""
    result = SessionLatency()
    clock = SendClock(log)
    groups, finals = _groups(log)
    for phrase, partials, final in zip(transcript.phrases, groups, finals, strict=False):
        first_word_start = clock.sent(phrase.words[0].start)
        last_word_end = clock.sent(phrase.end, end=True)
        if partials and first_word_start is not None:
            result.first_partial_ms.append((partials[0].t - first_word_start) * 1000)
        if last_word_end is not None:
            result.finalisation_ms.append((final.t - last_word_end) * 1000)
    _words(groups, transcript, clock, result)
    _references(log, clock, result)
    _stability(groups, finals, result)
    _lifecycle(log, result)
    return result


def finalisation_latency_ms(log: SessionLog, transcript: Transcript) -> list[float]:
    """For each phrase: its `message_response` receive time minus the send time of the
    frame that holds the phrase's last word end."""
    return session_latency(log, transcript).finalisation_ms

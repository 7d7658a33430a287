"""Latency metrics on a synthetic session whose delays are known exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.session_folder.log import SessionLogWriter, read_session
from harness.session_folder.transcript import Phrase, TimedWord, Transcript
from harness.tools.latency import percentiles, session_latency

# Latency arithmetic on recorded sessions: nothing here depends on how busy the CPU is.
pytestmark = pytest.mark.untimed

RATE = 16000
FRAME = 1600  # 0.1 s
TRANSCRIPT = Transcript(
    sample_rate=RATE,
    duration=2.0,
    phrases=(
        Phrase(
            text="Hello world.",
            start=0.2,
            end=0.9,
            words=(TimedWord("Hello", 0.2, 0.5), TimedWord("world", 0.6, 0.9)),
        ),
    ),
)


def ns(seconds: float) -> int:
    return round(seconds * 1e9)


def partial(text: str) -> str:
    words = [{"word": w} for w in text.split()]
    alternative = {"words": words, "transcript": text}
    return json.dumps(
        {
            "type": "message",
            "message": {
                "type": "recognition_result",
                "isFinal": False,
                "payload": {"raw": {"alternatives": [alternative]}},
                "punctuated": {"transcript": text},
            },
        }
    )


def session(folder: Path, events: list[tuple[float, str | dict[str, Any]]]) -> Path:
    """Frames every 0.1 s from t=0 (frame k holds 0.1k-0.1(k+1) s), events at given times."""
    log = SessionLogWriter(folder, endpoint="ws://127.0.0.1:1/x", sample_rate=RATE, clock=lambda: 0)
    log.opened("ws://127.0.0.1:1/x", at=ns(0.005))
    log.sent_text('{"type":"start_request"}', at=ns(0.01))
    timeline: list[tuple[float, str, Any]] = [(k * 0.1 + 0.0001, "audio", k) for k in range(20)]
    timeline += [(t, "event", e) for t, e in events]
    timeline += [(2.1, "stop", None), (2.15, "close", None)]
    for t, kind, item in sorted(timeline, key=lambda entry: entry[0]):
        if kind == "audio":
            log.sent_audio(bytes(FRAME * 2), at=ns(t))
        elif kind == "stop":
            log.sent_text('{"type":"stop_request"}', at=ns(t))
        elif kind == "close":
            log.closed(1000, "", at=ns(t))
        else:
            log.received_text(item if isinstance(item, str) else json.dumps(item), at=ns(t))
    log.close()
    return folder


MESSAGE = {
    "type": "message_response",
    "messages": [
        {
            "id": "m1",
            "payload": {"content": "Hello world."},
            "duration": {"timeOffset": 0.2, "duration": 0.7},
        }
    ],
}
EVENTS: list[tuple[float, str | dict[str, Any]]] = [
    (
        0.05,
        {
            "type": "message",
            "message": {"type": "recognition_started", "data": {"conversationId": "1"}},
        },
    ),
    (0.55, partial("hallo")),
    (0.65, partial("hello")),
    (1.05, partial("hello world")),
    (1.6, MESSAGE),
    (
        1.7,
        {
            "type": "insight_response",
            "insights": [{"type": "question", "messageReference": {"id": "m1"}}],
        },
    ),
    (
        1.8,
        {
            "type": "topic_response",
            "topics": [{"phrases": "world", "messageReferences": [{"id": "m1"}]}],
        },
    ),
]


def test_every_metric_measures_the_known_delay(tmp_path: Path) -> None:
    metrics = session_latency(read_session(session(tmp_path / "s", EVENTS)), TRANSCRIPT)
    # First word starts at 0.2 s: frame 2, sent at 0.2001; first partial at 0.55.
    assert metrics.first_partial_ms == pytest.approx([349.9])
    # A word ending at 0.5 s ends in frame 4 (0.4-0.5 s, sent at 0.4001): "hello" is first
    # heard at 0.65; "world" ends at 0.9 s, in frame 8 (sent 0.8001), first heard at 1.05.
    assert metrics.word_emission_ms == pytest.approx([249.9, 249.9])
    assert metrics.coverage == 1.0
    # The phrase ends at 0.9 s, in frame 8 (sent 0.8001); the message came at 1.6.
    assert metrics.finalisation_ms == pytest.approx([799.9])
    # Message m1 ends at 0.2 + 0.7 = 0.9 s, also frame 8: the insight at 1.7, the topic at 1.8.
    assert metrics.insight_ms == pytest.approx([899.9])
    assert metrics.topic_ms == pytest.approx([999.9])
    # "hallo" became "hello": one revision of one of the two final words.
    stability = metrics.stability()
    assert (stability["flicker"], stability["flicker_per_phrase"]) == (1, 1.0)
    assert stability["revisions_per_word"] == 0.5
    assert stability["changed_word_share"] == 0.5
    assert metrics.word_revisions == [1, 0]
    assert metrics.handshake_ms == pytest.approx(5.0)
    # Connecting began at t = 0; recognition_started (the only answer here) came at 0.05.
    assert metrics.set_up_ms == pytest.approx(50.0)
    assert metrics.start_to_recognition_ms == pytest.approx(40.0)
    assert metrics.stop_to_completed_ms is None
    assert metrics.stop_to_close_ms == pytest.approx(50.0)


def lifecycle(kind: str) -> dict[str, Any]:
    return {"type": "message", "message": {"type": kind, "data": {"conversationId": "1"}}}


def final(text: str) -> dict[str, Any]:
    message = {"id": "m1", "payload": {"content": text}}
    return {"type": "message_response", "messages": [message]}


def test_flicker_and_revisions_count_each_retracted_word(tmp_path: Path) -> None:
    events: list[tuple[float, str | dict[str, Any]]] = [
        (0.3, partial("the cat")),
        (0.4, partial("The cap sat")),  # retracts "cat": flicker 1
        (0.5, partial("the cat")),  # retracts "cap" and "sat": flicker 2
        (0.6, partial("the cat sat on")),  # appends only
        (0.7, partial("the cat sat on the")),  # appends only
        (1.0, final("The cat sat on a mat.")),  # the final retracts "the": flicker 3
    ]
    metrics = session_latency(read_session(session(tmp_path / "s", events)), TRANSCRIPT)
    assert metrics.phrase_flicker == [3]
    # Per final word: "cat" revised twice, "sat" once, "a" once, the others never.
    assert metrics.word_revisions == [0, 2, 1, 0, 1, 0]
    stability = metrics.stability()
    assert stability["revisions_per_word"] == pytest.approx(4 / 6, abs=1e-4)
    assert stability["changed_word_share"] == 0.5
    assert (stability["phrases"], stability["flicker"]) == (1, 3)


def test_set_up_ends_at_the_first_answer_and_tear_down_at_completion(tmp_path: Path) -> None:
    events: list[tuple[float, str | dict[str, Any]]] = [
        (0.03, lifecycle("started_listening")),
        (0.05, lifecycle("recognition_started")),
        (2.12, lifecycle("conversation_completed")),
    ]
    metrics = session_latency(read_session(session(tmp_path / "s", events)), TRANSCRIPT)
    assert metrics.set_up_ms == pytest.approx(30.0)
    assert metrics.start_to_recognition_ms == pytest.approx(40.0)
    assert metrics.stop_to_completed_ms == pytest.approx(20.0)
    assert metrics.stop_to_close_ms == pytest.approx(50.0)


def test_words_never_heard_lower_the_coverage(tmp_path: Path) -> None:
    events = [e for e in EVENTS if "world" not in json.dumps(e[1]) or e[0] == 1.6]
    metrics = session_latency(read_session(session(tmp_path / "s", events)), TRANSCRIPT)
    assert metrics.coverage == 0.5
    assert metrics.word_emission_ms == pytest.approx([249.9])


def test_percentiles() -> None:
    assert percentiles([]) == {}
    figures = percentiles([1.0, 2.0, 3.0, 4.0])
    assert figures["p50"] == 2.5
    assert figures["max"] == 4.0
    assert figures["n"] == 4.0

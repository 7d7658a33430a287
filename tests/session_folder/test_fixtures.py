"""The reference sessions: real speech, the promised variety, and word times that fit."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.session_folder.transcript import Transcript, TranscriptError, read_transcript
from harness.session_folder.wavfile import read_pcm16

from helpers import FIXTURES

NAMES = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())


def load(name: str) -> tuple[np.ndarray, int, Transcript]:
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    assert audio.repaired is None
    return audio.samples, audio.sample_rate, read_transcript(FIXTURES / name / "transcript.json")


def test_there_are_at_least_four_fixtures_covering_every_rate() -> None:
    assert len(NAMES) >= 4
    rates = {load(name)[1] for name in NAMES}
    assert {8000, 16000, 44100, 48000} <= rates


def test_lengths_span_a_few_seconds_to_a_minute() -> None:
    durations = [load(name)[0].size / load(name)[1] for name in NAMES]
    assert all(3 <= d <= 60 for d in durations)
    assert min(durations) < 10
    assert max(durations) > 45


@pytest.mark.parametrize("name", NAMES)
def test_transcript_matches_its_audio(name: str) -> None:
    samples, rate, transcript = load(name)
    assert transcript.sample_rate == rate
    assert transcript.duration == pytest.approx(samples.size / rate, abs=1e-3)
    words = transcript.words
    assert words
    assert all(w.start < w.end for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert words[-1].end <= transcript.duration
    for phrase in transcript.phrases:
        assert phrase.words[0].start == phrase.start
        assert phrase.words[-1].end == phrase.end
        assert [w.word.lower() for w in phrase.words] == [
            w.lower().strip(",.?!") for w in phrase.text.split()
        ]


@pytest.mark.parametrize("name", NAMES)
def test_phrases_are_separated_by_pauses_that_end_a_phrase(name: str) -> None:
    _, _, transcript = load(name)
    for before, after in itertools.pairwise(transcript.phrases):
        assert after.start - before.end >= 0.6


@pytest.mark.parametrize("name", NAMES)
def test_word_times_sit_on_speech_and_pauses_are_silent(name: str) -> None:
    samples, rate, transcript = load(name)
    audio = samples.astype(np.float64)

    def rms(start: float, end: float) -> float:
        part = audio[int(start * rate) : int(end * rate)]
        return float(np.sqrt(np.mean(part**2))) if part.size else 0.0

    speech = np.mean([rms(w.start, w.end) for w in transcript.words])
    pauses = [rms(a.end + 0.1, b.start - 0.1) for a, b in itertools.pairwise(transcript.phrases)]
    assert speech > 30 * max(*pauses, 1.0)


def labels() -> set[str]:
    return {label for name in NAMES for p in load(name)[2].phrases for label in p.labels}


def test_one_fixture_asks_questions_and_assigns_action_items() -> None:
    assert any(
        {"question", "action_item"} <= {lab for p in load(n)[2].phrases for lab in p.labels}
        for n in NAMES
    )


def test_one_fixture_is_strongly_positive_and_strongly_negative() -> None:
    assert any(
        {"positive", "negative"} <= {lab for p in load(n)[2].phrases for lab in p.labels}
        for n in NAMES
    )
    assert {"question", "action_item", "follow_up", "positive", "negative"} <= labels()


def test_one_fixture_is_hot_enough_to_clip() -> None:
    def clipped_runs(samples: np.ndarray) -> int:
        at_rail = np.abs(samples.astype(np.int32)) >= 32767
        starts = np.flatnonzero(
            at_rail[2:] & at_rail[1:-1] & at_rail[:-2] & ~np.r_[False, at_rail[:-3]]
        )
        return starts.size

    runs = {name: clipped_runs(load(name)[0]) for name in NAMES}
    assert max(runs.values()) >= 50
    assert sum(1 for count in runs.values() if count == 0) >= 3


def test_a_broken_transcript_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "transcript.json"
    good = json.loads((FIXTURES / NAMES[0] / "transcript.json").read_text())
    good["phrases"][0]["words"][0]["start"] = "soon"
    path.write_text(json.dumps(good))
    with pytest.raises(TranscriptError, match=r"phrases\[0\]\.words\[0\]\.start"):
        read_transcript(path)
    path.write_text("{")
    with pytest.raises(TranscriptError, match=r"transcript\.json"):
        read_transcript(path)


def test_the_script_regenerates_a_fixture(
    espeak_ng: str, require: Callable[[str, bool, str], None], tmp_path: Path
) -> None:
    require(
        "pocketsphinx",
        importlib.util.find_spec("pocketsphinx") is not None,
        "pip install -e .",
    )
    script = FIXTURES.parent / "make_fixtures.py"
    result = subprocess.run(
        [sys.executable, str(script), "--only", "hot", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh = read_transcript(tmp_path / "hot" / "transcript.json")
    kept = read_transcript(FIXTURES / "hot" / "transcript.json")
    assert [w.word for w in fresh.words] == [w.word for w in kept.words]
    recorded = json.loads((FIXTURES / "hot" / "transcript.json").read_text())["synthesizer"]
    version = subprocess.run([espeak_ng, "--version"], capture_output=True, text=True, check=True)
    if f"text-to-speech: {recorded['version']} " in version.stdout:
        # The same synthesiser makes the same bytes.
        assert (tmp_path / "hot" / "audio.wav").read_bytes() == (
            FIXTURES / "hot" / "audio.wav"
        ).read_bytes()
    else:
        assert fresh.duration == pytest.approx(kept.duration, rel=0.15)

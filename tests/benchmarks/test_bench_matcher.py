"""The matcher benchmark runs end to end on a small library and reports every section; its
synthetic library is reproducible (the figures themselves are the benchmark's, not the suite's)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_matcher.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_matcher", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the class is made.
    sys.modules["bench_matcher"] = module
    spec.loader.exec_module(module)
    return module


matcher = load()


def test_a_small_run_reports_matches_false_matches_and_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--library", "12", "--queries", "3", "--draws", "1", "--sentences", "2"]
    report = matcher.main([*argv, "--repeat", "1", "--seed", "3"])
    printed = capsys.readouterr().out
    assert printed.splitlines() == report.lines
    assert report.recordings == 16
    assert report.landmarks > 0
    assert "decision rule: hits >= 10" in printed
    for distortion in matcher.distortions():
        assert any(line.startswith(distortion.name) for line in report.lines)
    # The 4 fixtures and 3 entries under every distortion (one draw each), both ways.
    assert report.tally.share()[1] == 2 * len(matcher.distortions()) * (4 + 3)
    correct, total = report.tally.share("fixtures", matcher.FROM_SOUND)
    assert correct >= 0.9 * total
    assert set(report.lookup_ms) == {"4 fixtures (baseline)", "16 recordings"}
    assert all(0 < median <= p99 for median, p99 in report.lookup_ms.values())
    assert set(report.fingerprint_ms) == {"2 s query", "12 s recording"}
    if shutil.which("espeak-ng") is None:
        assert report.false is None
        assert "false matches: not measured" in printed
    else:
        assert report.false.false_queries == 2 * len(matcher.distortions()) * 2
        assert report.false.false_matches == []
        assert "false matches: 0 of 68 queries" in printed


def test_the_synthetic_library_is_the_same_for_the_same_seed() -> None:
    made = []
    for _ in range(2):
        library = matcher.Library.of_fixtures(matcher.FIXTURES)
        library.synthesise(5, np.random.default_rng(11))
        made.append(library)
    first, again = made
    assert first.entries == again.entries
    entry = first.entries[0]
    assert np.array_equal(first.audio(entry).samples, again.audio(entry).samples)
    assert first.audio(entry).samples.size / entry.rate == pytest.approx(
        matcher.INDEX_SECONDS, abs=1e-3
    )
    assert all(0.85 <= abs(e.speed) <= 1.15 and abs(e.speed - 1) >= 0.03 for e in first.entries)


def test_recordings_hold_the_same_speech_only_where_their_tape_and_speed_agree() -> None:
    library = matcher.Library.of_fixtures(matcher.FIXTURES)
    library.synthesise(3, np.random.default_rng(5))
    entry = library.entries[0]
    assert library.same_speech(entry.key, 1.0, entry.key, 1.0)
    assert not library.same_speech(entry.key, 1.0, entry.key, 1.5)
    # A fixture is never sped up; every synthetic recording is.
    assert not any(library.same_speech("standup", 1.0, e.key, 1.0) for e in library.entries)
    names = sorted(library.fixtures)
    assert not library.same_speech(names[0], 1.0, names[1], 1.0)

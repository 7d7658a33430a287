"""Bench metrics read against delays the mock injects: none comes before its delay."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.session_folder.log import read_session
from harness.session_folder.transcript import read_transcript
from harness.tools.bench import METRICS, Bound, Load, Ramp, run_benchmark
from harness.tools.latency import session_latency
from mock_symbl import MockConfig
from mock_symbl.session.faults import Faults

from helpers import FIXTURES

HOT = FIXTURES / "hot"
DELAY_MS = 200.0


def bench_hot(out: Path, faults: Faults) -> dict[str, list[float]]:
    report = run_benchmark(
        [HOT],
        Load([1], 1, 2.0),
        endpoint=None,
        out=out,
        mock=MockConfig(faults=faults),
    )
    assert [run.error for run in report.runs] == [None]
    return {name: report.metric(name, 1) for name in METRICS}


def test_an_injected_delay_holds_back_every_latency_metric(tmp_path: Path) -> None:
    plain = bench_hot(tmp_path / "plain", Faults())
    delayed = bench_hot(tmp_path / "delayed", Faults(delay_ms=DELAY_MS))
    for name in METRICS:
        assert plain[name], f"{name}: no figures"
        assert len(delayed[name]) == len(plain[name]), name
        # No event can be seen before the mock let it go (1 ms: the clocks' rounding).
        assert min(delayed[name]) >= DELAY_MS - 1, f"{name}: {min(delayed[name]):.1f} ms"


def test_an_injected_delay_shows_in_set_up(tmp_path: Path) -> None:
    bench_hot(tmp_path / "delayed", Faults(delay_ms=DELAY_MS))
    (folder,) = (p for p in (tmp_path / "delayed").iterdir() if p.is_dir())
    metrics = session_latency(read_session(folder), read_transcript(HOT / "transcript.json"))
    assert metrics.handshake_ms is not None
    assert metrics.start_to_recognition_ms is not None
    assert metrics.start_to_recognition_ms >= DELAY_MS - 1


def test_jitter_spreads_word_emission(tmp_path: Path) -> None:
    figures = bench_hot(tmp_path / "jitter", Faults(jitter_ms=100.0, seed=11))
    words = figures["word_emission_ms"]
    # Ten words, each held back 0-100 ms more: they cannot all land in one narrow band.
    assert max(words) - min(words) > 10


def test_a_ramp_reports_the_last_level_that_held(tmp_path: Path) -> None:
    # With one stream allowed per app, the second session at once is refused: capacity 1.
    report = run_benchmark(
        [HOT],
        Load(Ramp(1, 8, (Bound.parse("word_emission:p99=1000"),)), 1, None),
        endpoint=None,
        out=tmp_path,
        mock=MockConfig(max_streams=1),
    )
    assert report.levels() == [1, 2]
    assert report.capacity is not None
    assert report.capacity["held"] == 1
    assert report.capacity["broke_at"] == 2
    assert "sessions failed" in report.capacity["why"]


def test_a_ramp_stops_at_the_first_level_over_a_latency_bound(tmp_path: Path) -> None:
    report = run_benchmark(
        [HOT],
        Load(Ramp(1, 8, (Bound.parse("word_emission:p99=50"),)), 1, 4.0),
        endpoint=None,
        out=tmp_path,
        mock=MockConfig(faults=Faults(delay_ms=100)),
    )
    assert report.capacity is not None
    assert (report.capacity["held"], report.capacity["broke_at"]) == (None, 1)
    assert report.capacity["why"].startswith("word_emission_ms p99 ")


@pytest.mark.parametrize(
    "text", ["word_emission:p42=5", "latency:p99=5", "word_emission:p99=soon", "p99"]
)
def test_a_bound_that_cannot_be_read_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"bound|limit"):
        Bound.parse(text)

"""What bench.json warns of, and what its plots show: read from the figures' artists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.session_folder.transcript import read_transcript
from harness.tools.bench import METRICS, BenchReport, BenchRun, Load, run_benchmark
from harness.tools.bench_plots import cdf_figure, timeline_figure
from harness.tools.latency import SessionLatency, lateness_ms, percentiles

from helpers import FIXTURES

SESSIONS = (FIXTURES / "hot", FIXTURES / "standup")


def report_with(lateness_ns: list[int], finalisation_ms: list[float]) -> BenchReport:
    run = BenchRun(Path("s"), 1, Path("s-n1-r0-0"), SessionLatency(finalisation_ms=finalisation_ms))
    return BenchReport(
        speed=1.0,
        runs=[run],
        floor={
            "loopback_round_trip_ms": percentiles([0.1] * 100, digits=4),
            "pacing_lateness_ms": lateness_ms(lateness_ns),
        },
    )


def test_a_floor_near_the_figures_is_a_warning_in_bench_json() -> None:
    # A loaded machine: 2 frames in 100 went out 374 ms late; the phrases finalise in ~600 ms.
    loaded = report_with([1_000_000] * 98 + [374_000_000] * 2, [600.0, 620.0]).to_json()
    assert loaded["floor"]["pacing_lateness_ms"]["p99"] == pytest.approx(374.0)
    assert loaded["warning"] is not None
    assert "p99 374.0 ms" in loaded["warning"]
    assert "finalisation p50 (610.0 ms)" in loaded["warning"]
    assert "cannot be trusted" in loaded["warning"]


def test_a_quiet_floor_gives_no_warning() -> None:
    quiet = report_with([1_000_000] * 100, [600.0, 620.0]).to_json()
    assert quiet["warning"] is None


def test_without_finals_the_floor_is_read_against_the_quickest_metric() -> None:
    run = BenchRun(Path("s"), 1, Path("s-n1-r0-0"), SessionLatency(word_emission_ms=[20.0]))
    report = BenchReport(speed=1.0, runs=[run], floor={"pacing_lateness_ms": {"p99": 5.0}})
    warning = report.to_json()["warning"]
    assert warning is not None
    assert "word_emission p50 (20.0 ms)" in warning


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> BenchReport:
    """hot and standup, one and two at a time, through the bundled mock."""
    out = tmp_path_factory.mktemp("bench")
    report = run_benchmark(list(SESSIONS), Load([1, 2], 1, None), endpoint=None, out=out)
    assert [run.error for run in report.runs] == [None] * 4
    return report


def test_the_cdfs_mark_p50_p99_and_the_floor_with_one_legend(bench: BenchReport) -> None:
    figure = cdf_figure(bench)
    panels = {axis.get_title(): axis for axis in figure.axes}
    assert set(panels) == {name.removesuffix("_ms").replace("_", " ") for name in METRICS}
    floor_p99 = bench.floor["loopback_round_trip_ms"]["p99"]  # max speed: no pacing
    for name in METRICS:
        axis = panels[name.removesuffix("_ms").replace("_", " ")]
        for gid, q in (("p50", 50), ("p99", 99)):
            marked = sorted(
                float(line.get_xdata()[0]) for line in axis.lines if line.get_gid() == gid
            )
            expected = sorted(float(np.percentile(bench.metric(name, n), q)) for n in (1, 2))
            assert marked == pytest.approx(expected), (name, gid)
        (floor,) = (line for line in axis.lines if line.get_gid() == "floor")
        assert float(floor.get_xdata()[0]) == pytest.approx(floor_p99)
    # One legend, for the whole figure, naming the levels, the markers and the floor.
    assert [axis.get_legend() for axis in figure.axes] == [None] * len(METRICS)
    (legend,) = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[:4] == ["1 at once", "2 at once", "p50", "p99"]
    assert labels[4].startswith("floor: loopback round trip p99")
    # Only the first panel labels the shared share axis, and only with shares.
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["0.5", "0.9", "0.99"]
    assert not any(t.get_visible() and t.get_text() for t in figure.axes[1].get_yticklabels())


def test_the_timeline_shows_every_replay_under_its_phrases_words(bench: BenchReport) -> None:
    figure = timeline_figure(bench)
    replays = sorted(
        str(line.get_gid())
        for axis in figure.axes
        for line in axis.lines
        if str(line.get_gid()).startswith("replay:")
    )
    assert replays == sorted(f"replay:{run.folder.name}" for run in bench.runs)
    for axis, session in zip(figure.axes, SESSIONS, strict=True):
        assert axis.get_title(loc="left") == session.name
        words = [
            " ".join(text.get_text().split()) for text in axis.texts if text.get_gid() == "phrase"
        ]
        assert words == [
            phrase.text for phrase in read_transcript(session / "transcript.json").phrases
        ]
        assert [t.get_text() for t in axis.get_yticklabels()] == [
            "1 at once, round 1",
            "2 at once, round 1",
        ]
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()][:3] == [
        "phrase (while its audio was sent)",
        "partial arrived",
        "final arrived",
    ]

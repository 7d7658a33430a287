"""What bench.json warns of, and what its plots show: read from the figures' artists."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text

from harness.cli.bench import _show_bench
from harness.session_folder.log import read_session
from harness.session_folder.transcript import read_transcript
from harness.tools.bench import METRICS, BenchReport, BenchRun, Load, run_benchmark
from harness.tools.bench_plots import cdf_figure, timeline_figure
from harness.tools.latency import SessionLatency, lateness_ms, percentiles
from mock_symbl import MockConfig
from mock_symbl.session.faults import Faults

from helpers import FIXTURES

# Tables and plots made from recorded sessions: nothing here depends on how busy the CPU is.
pytestmark = pytest.mark.untimed

SLACK_PX = 0.5

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
    # At max speed the phrases are far narrower than their words: the labels still do not
    # overlap, and stay in their panel.
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for axis in figure.axes:
        panel = axis.get_window_extent(renderer)
        # The words' box (an annotation's own extent takes in its line to the span).
        boxes = [Text.get_window_extent(t, renderer) for t in axis.texts if t.get_gid() == "phrase"]
        # Within half a pixel: the extents are sums of floats.
        for box, following in itertools.pairwise(boxes):
            assert box.x1 <= following.x0 + SLACK_PX, axis.get_title(loc="left")
        assert panel.x0 - SLACK_PX <= boxes[0].x0 and boxes[-1].x1 <= panel.x1 + SLACK_PX
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()][:3] == [
        "phrase (while its audio was sent)",
        "partial arrived",
        "final arrived",
    ]


@pytest.mark.parametrize(
    ("loopback_ms", "pacing_ms", "floor_of"),
    [(50.0, 5.0, "loopback round trip"), (5.0, 50.0, "pacing lateness")],
)
def test_the_warning_the_table_and_the_plot_name_one_floor(
    loopback_ms: float, pacing_ms: float, floor_of: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = BenchRun(Path("s"), 1, Path("s-n1-r0-0"), SessionLatency(finalisation_ms=[100.0, 120.0]))
    report = BenchReport(
        speed=1.0,
        runs=[run],
        floor={
            "loopback_round_trip_ms": percentiles([loopback_ms] * 100, digits=4),
            "pacing_lateness_ms": lateness_ms([int(pacing_ms * 1e6)] * 100),
        },
    )
    summary = report.to_json()
    # The larger p99 of the two parts, whichever it is.
    assert summary["floor_p99"] == {"ms": 50.0, "of": floor_of}
    assert summary["warning"].startswith(f"the machine's floor ({floor_of} p99 50.0 ms) is over")
    figure = cdf_figure(report)
    drawn = {
        float(line.get_xdata()[0])
        for axis in figure.axes
        for line in axis.lines
        if line.get_gid() == "floor"
    }
    assert drawn == {50.0}
    (legend,) = figure.legends
    assert legend.get_texts()[-1].get_text() == f"floor: {floor_of} p99 50.0 ms"
    _show_bench(summary)
    shown = capsys.readouterr().out.splitlines()
    # The table of the floor's parts is titled with the same figure, from the same part.
    assert f"floor: {floor_of} p99 50.0 ms" in shown
    rows = {cells[0]: cells for line in shown if (cells := table_cells(line))}
    assert rows[floor_of][4] == "50.0"
    assert shown[-1] == f"warning: {summary['warning']}"


def table_cells(line: str) -> list[str]:
    """The cells of one row of a table as rich draws it ([] for any other line)."""
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_when_every_session_failed_the_plots_say_so_and_show_where_each_failed(
    tmp_path: Path,
) -> None:
    report = run_benchmark(
        [SESSIONS[0]],
        Load([1], 1, None),
        endpoint=None,
        out=tmp_path,
        mock=MockConfig(faults=Faults(drop_after_frames=5)),
    )
    (run,) = report.runs
    assert run.error is not None and run.metrics is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" among them
        cdfs = cdf_figure(report)
        lines = timeline_figure(report)
    empty = [text.get_text() for axis in cdfs.axes for text in axis.texts]
    assert empty == ["no session completed\n(1 failed)"] * len(METRICS)
    # Nothing drawn: no legend, no share ticks.
    assert cdfs.legends == []
    assert list(cdfs.axes[0].get_yticks()) == []
    # The failed replay keeps its lane, until its connection closed, with where it failed.
    (axis,) = lines.axes
    gids = [str(line.get_gid()) for line in axis.lines]
    assert gids.index(f"replay:{run.folder.name}") < gids.index("failed")
    assert [t.get_text() for t in axis.get_yticklabels()] == ["1 at once, round 1 (failed)"]
    # Only the phrases whose audio went out before the connection dropped are shown.
    log = read_session(run.folder)
    sent = sum(frame.samples for frame in log.audio_frames()) / log.sample_rate
    phrases = read_transcript(SESSIONS[0] / "transcript.json").phrases
    shown = [" ".join(t.get_text().split()) for t in axis.texts if t.get_gid() == "phrase"]
    assert shown == [phrase.text for phrase in phrases if phrase.start < sent]
    (legend,) = lines.legends
    assert [t.get_text() for t in legend.get_texts()][-1] == "replay failed"


@pytest.mark.parametrize(
    ("phrase_flicker", "word_revisions"), [([], []), ([0, 2], [0, 1, 0, 3]), ([1], [])]
)
def test_a_level_of_one_session_has_that_sessions_own_stability(
    phrase_flicker: list[int], word_revisions: list[int]
) -> None:
    metrics = SessionLatency(phrase_flicker=phrase_flicker, word_revisions=word_revisions)
    report = BenchReport(speed=1.0, runs=[BenchRun(Path("s"), 1, Path("s-n1-r0-0"), metrics)])
    assert report.level_json(1)["stability"] == metrics.stability()

"""Plots of a benchmark (PNG, matplotlib): latency CDFs, and every replay's timeline.

Each plot is built as a `Figure` (what the tests inspect) and saved by a second function.
Artists a reader must find carry a `gid`: `p50`, `p99`, `floor` on the CDFs, and `empty`
for the note on a panel with no figures; on the timeline, `replay:NAME` for each replay's
line, `failed` where a failed replay ended, and `phrase` for each phrase's label.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from harness.session_folder.log import (
    TRANSCRIPT_FILE,
    SessionLog,
    SessionLogError,
    read_session,
)
from harness.session_folder.transcript import Transcript, read_transcript
from harness.tools.bench import METRICS, BenchReport, BenchRun, floor_p99, milliseconds
from harness.tools.latency import SendClock, event_kind, partial_words

# The CDF's y axis, stretched near 1 so the tail (p90, p99) is not a sliver at the top.
SHARE_TICKS = (0.5, 0.9, 0.99)


def _stretch(share: np.ndarray) -> np.ndarray:
    """-log10(1 - share), capped: 0.5, 0.9 and 0.99 land evenly apart."""
    return -np.log10(np.clip(1.0 - share, 10**-2.3, None))


def cdf_figure(report: BenchReport) -> Figure:
    """One panel per latency metric: its cumulative distribution at each concurrency level,
    p50 (o) and p99 (^) marked on each curve, the machine's floor as a grey line, one
    legend for the figure; when no session completed, panels that say so and no legend."""
    levels = report.levels()
    colours = {level: f"C{i % 10}" for i, level in enumerate(levels)}
    floor = floor_p99(report.floor)
    completed = any(run.metrics is not None for run in report.runs)
    failed = sum(1 for run in report.runs if run.error)
    empty = "no figures" if completed else f"no session completed\n({failed} failed)"
    figure, axes = plt.subplots(
        1, len(METRICS), figsize=(3.4 * len(METRICS), 3.6), sharey=True, squeeze=False
    )
    for axis, name in zip(axes[0], METRICS, strict=True):
        axis.set_title(name.removesuffix("_ms").replace("_", " "))
        counts = []
        for level in levels:
            values = np.sort(np.asarray(report.metric(name, level)))
            if not values.size:
                continue
            counts.append(f"{values.size}")
            share = np.arange(1, values.size + 1) / values.size
            axis.step(values, _stretch(share), where="post", color=colours[level])
            p50, p99 = np.percentile(values, [50, 99])
            axis.plot(p50, _stretch(np.asarray(0.5)), "o", color=colours[level], gid="p50")
            axis.plot(p99, _stretch(np.asarray(0.99)), "^", color=colours[level], gid="p99")
        if not counts:
            axis.text(
                0.5, 0.5, empty, ha="center", va="center", transform=axis.transAxes, gid="empty"
            )
            axis.set_xticks([])
            continue
        if floor is not None:
            axis.axvline(floor[0], color="0.4", linestyle=":", linewidth=1.5, gid="floor")
        axis.set_xlabel(f"ms (n = {' / '.join(counts)})")
        axis.xaxis.set_major_locator(MaxNLocator(nbins=4))
        axis.grid(alpha=0.3)
        # The first panel's ticks name the shares for all; the others' would name nothing.
        axis.tick_params(axis="y", left=axis is axes[0][0])
    speed = "max speed" if report.speed is None else f"{report.speed:g}x"
    figure.suptitle(f"Streaming latency ({speed})")
    if not completed:
        # No curve, so no share to read and nothing for a legend to name.
        axes[0][0].set_yticks([])
        figure.tight_layout()
        return figure
    axes[0][0].set_yticks(_stretch(np.asarray(SHARE_TICKS)), [f"{t:g}" for t in SHARE_TICKS])
    axes[0][0].set_ylim(0, float(_stretch(np.asarray(1.0))) * 1.02)
    axes[0][0].set_ylabel("share of figures at or below")
    # A level whose every replay failed drew no curve: the legend does not name it.
    drawn = sorted({run.concurrency for run in report.runs if run.metrics is not None})
    handles: list[Line2D] = [
        Line2D([], [], color=colours[level], label=f"{level} at once") for level in drawn
    ]
    handles += [
        Line2D([], [], marker="o", color="0.2", linestyle="", label="p50"),
        Line2D([], [], marker="^", color="0.2", linestyle="", label="p99"),
    ]
    if floor is not None:
        label = f"floor: {floor[1]} p99 {milliseconds(floor[0])} ms"
        handles.append(Line2D([], [], color="0.4", linestyle=":", label=label))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def latency_cdfs(report: BenchReport, path: Path) -> Path:
    """`cdf_figure`, saved as a PNG."""
    return _save(cdf_figure(report), path)


def _replays(report: BenchReport) -> dict[Path, list[tuple[BenchRun, SessionLog]]]:
    """Every replay that wrote its session log (a failed one too), with that log, by the
    session it replayed."""
    by_source: dict[Path, list[tuple[BenchRun, SessionLog]]] = defaultdict(list)
    for run in report.runs:
        try:
            log = read_session(run.folder)
        except SessionLogError:
            continue  # the replay failed before it could write anything
        by_source[run.source].append((run, log))
    return by_source


# Timeline geometry, in inches: each replay's lane, and the band for the phrases' words.
LANE_INCHES = 0.3
LABEL_INCHES = 0.9
# Width of one character of the 8-point labels, to wrap a phrase's words to its span.
CHAR_INCHES = 0.065
# The widest a phrase's label is made when its span is narrower than its words.
LABEL_MAX_INCHES = 1.8


def timeline_figure(report: BenchReport) -> Figure:
    """One panel per session replayed; in it, one line per replay, from its first audio
    frame to its close, with when each partial (|) and final (o) arrived and where a failed
    replay failed (x), under the session's phrases (spans while their audio was sent,
    labelled with their words)."""
    by_source = _replays(report)
    speed = "max speed" if report.speed is None else f"{report.speed:g}x"
    if not by_source:
        figure = plt.figure(figsize=(12, 2))
        figure.text(0.5, 0.5, "no replay wrote a session log", ha="center", va="center")
        figure.suptitle(f"Every replay against its session's phrases ({speed})")
        return figure
    heights = [LABEL_INCHES + LANE_INCHES * (len(runs) + 0.2) for runs in by_source.values()]
    figure, axes = plt.subplots(
        len(by_source),
        1,
        figsize=(12, sum(heights) + 0.55 * len(heights) + 1.2),
        squeeze=False,
        height_ratios=heights,
    )
    phrases = [
        _session_panel(axis, source, replays)
        for axis, (source, replays) in zip(axes[:, 0], by_source.items(), strict=True)
    ]
    axes[-1][0].set_xlabel("seconds since the replay's first audio frame")
    handles: list[Patch | Line2D] = [
        Patch(color="tab:gray", alpha=0.25, label="phrase (while its audio was sent)"),
        Line2D([], [], marker="|", color="tab:blue", linestyle="", label="partial arrived"),
        Line2D([], [], marker="o", color="tab:red", linestyle="", label="final arrived"),
        Line2D([], [], color="0.75", label="replay, until its connection closed"),
    ]
    if any(run.error for runs in by_source.values() for run, _ in runs):
        handles.append(
            Line2D([], [], marker="x", color="black", linestyle="", label="replay failed")
        )
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.suptitle(f"Every replay against its session's phrases ({speed})")
    figure.tight_layout(rect=(0, 0.45 / figure.get_figheight(), 1, 1))
    # Labels are laid out on the panels' final widths.
    for axis, spans in zip(axes[:, 0], phrases, strict=True):
        _label_phrases(axis, spans)
    return figure


def _since_audio(log: SessionLog) -> tuple[float, float]:
    """When the first audio frame went, and how long after it the log ends."""
    frames = log.audio_frames()
    start = frames[0].t if frames else 0.0
    return start, log.records[-1].t - start if log.records else 0.0


def _session_panel(
    axis: Axes, source: Path, replays: list[tuple[BenchRun, SessionLog]]
) -> list[tuple[str, float, float]]:
    """Draw one session's panel; its phrases' words, start and end on the time axis."""
    runs = [run for run, _ in replays]
    logs = [log for _, log in replays]
    # The phrases are placed by the replay that sent the most audio (a failed one may
    # have sent none).
    reference = max(logs, key=lambda log: len(log.audio_frames()))
    clock, (origin, _) = SendClock(reference), _since_audio(reference)
    end = max(_since_audio(log)[1] for log in logs)
    axis.set_ylim(-0.6, len(runs) - 0.4 + LABEL_INCHES / LANE_INCHES)
    axis.set_xlim(0, max(end, 1e-3) * 1.01)
    spans = []
    if (source / TRANSCRIPT_FILE).is_file():
        frames = reference.audio_frames()
        sent = (frames[-1].offset + frames[-1].samples) / reference.sample_rate if frames else 0
        spans = _phrases(axis, read_transcript(source / TRANSCRIPT_FILE), sent, clock, origin)
    for lane, (run, log) in enumerate(replays):
        start, duration = _since_audio(log)
        axis.plot([0, duration], [lane, lane], color="0.75", lw=1, gid=f"replay:{run.folder.name}")
        partials, finals = [], []
        for frame in log.received():
            kind = event_kind(frame.data)
            if kind == "recognition_result" and partial_words(frame.data):
                partials.append(frame.t - start)
            elif kind == "message_response":
                finals.append(frame.t - start)
        axis.plot(partials, [lane] * len(partials), "|", color="tab:blue", markersize=9)
        axis.plot(finals, [lane] * len(finals), "o", color="tab:red", markersize=5)
        if run.error:
            axis.plot(duration, lane, "x", color="black", markersize=8, gid="failed")
    axis.set_yticks(range(len(runs)), _lane_names(runs))
    axis.set_title(source.name, loc="left", fontsize=10)
    axis.grid(axis="x", alpha=0.3)
    return spans


def _phrases(
    axis: Axes, transcript: Transcript, sent: float, clock: SendClock, origin: float
) -> list[tuple[str, float, float]]:
    """Each phrase as a span while its audio was sent (from `origin`); of a replay cut short,
    only the phrases (and the part of a phrase) whose audio went out (`sent` seconds).
    Their words, start and end."""
    spans = []
    for phrase in transcript.phrases:
        if phrase.start >= sent:
            continue
        start, stop = clock.sent(phrase.start), clock.sent(min(phrase.end, sent), end=True)
        if start is None or stop is None:
            continue
        x, width = start - origin, max(stop - start, 1e-3)
        axis.axvspan(x, x + width, color="tab:gray", alpha=0.25, linewidth=0)
        spans.append((phrase.text, x, x + width))
    return spans


def _label_phrases(axis: Axes, spans: list[tuple[str, float, float]]) -> None:
    """Label each phrase's span with its words. They fill the span; phrases too short for
    theirs (at max speed, all of them) share the panel's width, their labels moved apart
    as little as keeps them from overlapping, each tied to its span by a line."""
    figure = axis.get_figure()
    assert figure is not None
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    panel = axis.get_window_extent(renderer)
    left, right = axis.get_xlim()
    per_second = panel.width / (right - left)
    char = CHAR_INCHES * figure.dpi
    share = min(LABEL_MAX_INCHES * figure.dpi, panel.width / max(len(spans), 1) - char)
    font = FontProperties(size=8)
    labels, wanted = [], []
    for text, start, stop in spans:
        columns = max(8, int(max((stop - start) * per_second, share) / char))
        label = textwrap.fill(text, columns, break_long_words=False)
        width = max(
            renderer.get_text_width_height_descent(line, font, ismath=False)[0]
            for line in label.splitlines()
        )
        labels.append(label)
        wanted.append(((start + stop) / 2 * per_second, width))
    top = axis.get_ylim()[1] - LABEL_INCHES / LANE_INCHES
    for label, (_, start, stop), (at, _), placed in zip(
        labels, spans, wanted, _spread(wanted, panel.width, char), strict=True
    ):
        tied = abs(placed - at) > (stop - start) * per_second / 2
        axis.annotate(
            label,
            xy=((start + stop) / 2, top),
            xytext=(left + placed / per_second, 0.96),
            textcoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontproperties=font,
            gid="phrase",
            arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6} if tied else None,
        )


def _spread(labels: list[tuple[float, float]], room: float, gap: float) -> list[float]:
    """Where to centre labels (each its wanted centre and its width, left to right) so that
    `gap` or more parts each from the next and all stay within `room`, each as near its
    wanted centre as that allows."""
    edges: list[list[float]] = []
    right = -gap
    for centre, width in labels:
        left = max(centre - width / 2, right + gap, 0.0)
        right = left + width
        edges.append([left, right])
    limit = room + gap
    for edge in reversed(edges):
        width = edge[1] - edge[0]
        edge[1] = min(edge[1], limit - gap)
        edge[0] = edge[1] - width
        limit = edge[0]
    return [(left + right) / 2 for left, right in edges]


def _lane_names(runs: list[BenchRun]) -> list[str]:
    """Each replay's lane: its level and round, and its slot where those do not tell it
    apart (a replay's folder is `SESSION-nLEVEL-rROUND-SLOT`)."""
    parts = [
        re.fullmatch(r"n(\d+)-r(\d+)-(\d+)", run.folder.name.removeprefix(f"{run.source.name}-"))
        for run in runs
    ]
    names = [
        f"{found[1]} at once, round {int(found[2]) + 1}" if found else run.folder.name
        for run, found in zip(runs, parts, strict=True)
    ]
    names = [
        f"{name} #{int(found[3]) + 1}" if found and names.count(name) > 1 else name
        for name, found in zip(names, parts, strict=True)
    ]
    return [
        f"{name} (failed)" if run.error else name for name, run in zip(names, runs, strict=True)
    ]


def timeline(report: BenchReport, path: Path) -> Path:
    """`timeline_figure`, saved as a PNG."""
    return _save(timeline_figure(report), path)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path

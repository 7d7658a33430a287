"""Plots of a benchmark (PNG, matplotlib): latency CDFs, and one session's timeline."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np

from harness.session_folder.log import read_session
from harness.session_folder.transcript import Transcript
from harness.tools.bench import METRICS, BenchReport
from harness.tools.latency import event_kind, partial_words


def latency_cdfs(report: BenchReport, path: Path) -> Path:
    """One panel per metric: the cumulative distribution at each concurrency level."""
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.6), squeeze=False)
    for axis, name in zip(axes[0], METRICS, strict=True):
        for level in report.levels():
            values = np.sort(np.asarray(report.metric(name, level)))
            if values.size:
                axis.step(
                    values,
                    np.arange(1, values.size + 1) / values.size,
                    where="post",
                    label=f"{level} at once",
                )
        axis.set_title(name.removesuffix("_ms").replace("_", " "))
        axis.set_xlabel("ms")
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of events")
    axes[0][-1].legend(loc="lower right", fontsize="small")
    speed = "max speed" if report.speed is None else f"{report.speed:g}x"
    figure.suptitle(f"Streaming latency ({speed})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def timeline(session: Path, transcript: Transcript, path: Path) -> Path:
    """Phrases against audio time, with when each partial and final arrived."""
    log = read_session(session)
    figure, axis = plt.subplots(figsize=(10, 3.2))
    for index, phrase in enumerate(transcript.phrases):
        axis.broken_barh([(phrase.start, phrase.end - phrase.start)], (index - 0.3, 0.6), alpha=0.3)
    phrase_index = 0
    for frame in log.received():
        kind = event_kind(frame.data)
        if kind == "recognition_result" and partial_words(frame.data):
            axis.plot(frame.t, phrase_index, "|", color="tab:blue", markersize=10)
        elif kind == "message_response":
            axis.plot(frame.t, phrase_index, "o", color="tab:red")
            phrase_index += 1
    axis.set_xlabel("seconds since the connection opened (phrases: audio time)")
    axis.set_ylabel("phrase")
    axis.set_title(f"{session.name}: partials (|) and finals (o) against the speech")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path

"""The conformance monitor's memory is bounded whatever the session's length: it keeps
running figures, not a list per frame, and a closed one keeps only its report."""

from __future__ import annotations

import copy
import gc
import json
import sys
from types import FunctionType, ModuleType

import numpy as np

from harness.conformance.monitor import ConformanceMonitor, ConformanceReports

RATE = 16000
# 50 frames a second, as a browser's 20 ms frames.
FRAME = RATE // 50
START = json.dumps(
    {
        "type": "start_request",
        "config": {"speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": RATE}},
    }
)
# A tone that runs on across frames (a whole number of periods in each); the content is
# beside the point.
TONE = (3000 * np.cos(2 * np.pi * 500 * np.arange(FRAME) / RATE)).astype("<i2").tobytes()


def real_time(monitor: ConformanceMonitor, frames: int, first: int = 0) -> None:
    """Frames `first` up to `frames` at 50 a second."""
    for index in range(first, frames):
        monitor.audio(index * 20_000_000, TONE)


def reachable(root: object) -> tuple[int, int]:
    """The objects reachable from `root` and their bytes (numpy buffers included), leaving
    out what every monitor shares: classes, modules, functions."""
    seen: set[int] = set()
    size = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, ModuleType, FunctionType)):
            continue
        seen.add(id(obj))
        size += sys.getsizeof(obj)
        if isinstance(obj, np.ndarray) and obj.base is not None:
            # A view's buffer is its base's, which it keeps alive.
            stack.append(obj.base)
        stack.extend(gc.get_referents(obj))
    return len(seen), size


def test_a_live_monitor_does_not_grow_between_5_000_and_100_000_frames() -> None:
    monitor = ConformanceMonitor()
    monitor.text(0, START)
    # Past the first minute, when the spectrum has all it uses; whole seconds, so no frames
    # wait for analysis at either count.
    real_time(monitor, 5_000)
    objects, size = reachable(monitor)
    real_time(monitor, 100_000, first=5_000)
    assert monitor.report()["frames"] == 100_000
    # A list per frame would add 95,000 objects and megabytes.
    assert reachable(monitor) == (objects, size)


def test_a_closed_monitor_keeps_its_report_alone_however_long_the_session() -> None:
    kept = {}
    for frames in (1_000, 10_000):
        reports = ConformanceReports()
        monitor = reports.watch("app", "call")
        monitor.text(0, START)
        real_time(monitor, frames)
        monitor.text(frames * 20_000_000, '{"type":"stop_request"}')
        monitor.close(frames * 20_000_000, 1000)
        report = reports.report("call")
        assert report is not None
        assert report["frames"] == frames
        kept[frames] = reachable(reports)
    (short_objects, short_size), (long_objects, long_size) = kept[1_000], kept[10_000]
    assert long_objects == short_objects
    # A few digits more in the longer session's figures, no more; and a few KB in all.
    assert long_size - short_size < 64
    assert long_size < 8 * 1024


def test_a_closed_monitor_reports_what_it_reported_at_the_close() -> None:
    monitor = ConformanceMonitor()
    monitor.text(0, START)
    real_time(monitor, 500)
    monitor.text(10**10, '{"type":"stop_request"}')
    monitor.close(10**10, 1000)
    before = monitor.report()
    assert before["frames"] == 500
    expected = copy.deepcopy(before)
    # Nothing after the close is judged; the report is a fresh copy each time.
    monitor.audio(2 * 10**10, TONE)
    before["findings"].append("changed by its reader")
    assert monitor.report() == expected

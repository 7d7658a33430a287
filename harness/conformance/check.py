"""A client's conformance, judged from a recorded session (the mock judges live ones alike)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.conformance.monitor import ConformanceMonitor
from harness.session_folder.log import (
    AudioFrame,
    Closed,
    SessionLog,
    SessionLogError,
    TextFrame,
    read_session,
)

CONFORMANCE_FILE = "conformance.json"


def check_log(log: SessionLog) -> dict[str, Any]:
    """The conformance report of a recorded session: what its client sent, replayed in order
    through the monitor the mock runs, with the recorded send times."""
    monitor = ConformanceMonitor()
    for record in log.records:
        at = round(record.t * 1e9)
        if isinstance(record, TextFrame) and record.direction == "send":
            monitor.text(at, record.frame)
        elif isinstance(record, AudioFrame):
            monitor.audio(at, log.audio_of(record).astype("<i2").tobytes() + record.odd_byte)
        elif isinstance(record, Closed):
            monitor.close(at, record.code)
    report = monitor.report()
    if not log.complete:
        report["note"] = "the session log was cut; this covers what it holds"
    return report


def write_conformance(folder: Path) -> dict[str, Any] | None:
    """Check a session folder and write `conformance.json` beside its log (None if the
    folder holds no readable session)."""
    try:
        report = check_log(read_session(folder))
    except SessionLogError:
        return None
    (folder / CONFORMANCE_FILE).write_text(json.dumps(report, indent=1) + "\n")
    return report

"""The Locust user, headless on loopback: a few users stream for a few seconds and every
latency metric arrives as Locust request events."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from harness.tools.bench import LIFECYCLE, METRICS
from mock_symbl import MockConfig, running_mock

from helpers import ROOT

HOT = ROOT / "fixtures" / "sessions" / "hot"

LOCUSTFILE = ROOT / "harness" / "tools" / "locust_user.py"


def test_locust_users_stream_sessions_and_report_latency_as_requests(tmp_path: Path) -> None:
    with running_mock(MockConfig(transcripts=(HOT,))) as mock:
        done = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
                "--headless", "--users", "3", "--spawn-rate", "3", "--run-time", "15s",
                "--stop-timeout", "60", "--host", mock.ws_url, "--csv", str(tmp_path / "load"),
                "--only-summary", "--loglevel", "WARNING",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
            env={
                **os.environ,
                "SYMBL_SESSIONS": str(HOT),
                "SYMBL_SPEED": "3",
                "SYMBL_APP_ID": "locust",
                "SYMBL_APP_SECRET": "loopback",
            },
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with (tmp_path / "load_stats.csv").open() as table:
        rows = {row["Name"]: row for row in csv.DictReader(table)}
    sessions = rows["session"]
    assert sessions["Type"] == "symbl"
    # Three users, each at least one 2 s replay (6.2 s of audio at 3x) in fifteen seconds.
    assert int(sessions["Request Count"]) >= 3
    assert int(sessions["Failure Count"]) == 0
    # Every figure of bench.json, named as there: each latency, set-up and tear-down...
    for metric in (*METRICS, *LIFECYCLE):
        assert int(rows[metric.removesuffix("_ms")]["Request Count"]) >= 3, metric
    # ...pacing per frame, and stability: flicker per phrase, revisions per final word.
    assert int(rows["pacing_lateness"]["Request Count"]) >= 3 * 290
    assert int(rows["flicker"]["Request Count"]) >= 3 * 2
    assert int(rows["word_revisions"]["Request Count"]) >= 3 * 10
    # A final waits for the phrase's end (600 ms of silence): it cannot come sooner.
    assert float(rows["finalisation"]["50%"]) >= 100

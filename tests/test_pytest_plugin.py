"""The pytest plugin in throwaway projects: record modes, failing diffs, xdist."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from helpers import FIXTURES

SUITE = """
def test_hot(symbl_replay):
    assert symbl_replay("sessions/hot").matches_baseline()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(FIXTURES / "hot", pytester.path / "sessions" / "hot")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_mode_none_compares_with_the_recording_and_writes_nothing(project: pytest.Pytester) -> None:
    result = run(project, "--symbl-record-mode=none")
    result.assert_outcomes(passed=1)
    assert not (project.path / "symbl-baselines").exists()


def test_mode_once_writes_missing_baselines_then_compares(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns == written


def test_mode_new_rewrites_baselines_older_than_their_session(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=new").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns == written
    time.sleep(0.01)
    os.utime(project.path / "sessions" / "hot" / "events.jsonl")
    run(project, "--symbl-record-mode=new").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns > written


def test_mode_all_rewrites_every_baseline(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    written = events.stat().st_mtime_ns
    run(project, "--symbl-record-mode=all").assert_outcomes(passed=1)
    assert events.stat().st_mtime_ns > written


def test_a_failing_comparison_shows_the_semantic_diff(project: pytest.Pytester) -> None:
    run(project, "--symbl-record-mode=once").assert_outcomes(passed=1)
    events = project.path / "symbl-baselines" / "sessions" / "hot" / "events.jsonl"
    records = [json.loads(line) for line in events.read_text().splitlines()]
    for record in records:
        data = record.get("data") or {}
        if data.get("type") == "message_response":
            data["messages"][0]["payload"]["content"] = "Testing the loudspeaker one two three."
            break
    events.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = run(project, "--symbl-record-mode=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*differs from*", "*transcript: word error rate*loudspeaker*"])


def test_every_xdist_worker_gets_its_own_mock(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_workers="""
import os
from pathlib import Path

import pytest

@pytest.mark.parametrize("n", range(4))
def test_port(symbl_mock, symbl_replay, n):
    assert symbl_replay("sessions/hot").matches_baseline()
    worker = os.environ["PYTEST_XDIST_WORKER"]
    (Path("ports") / f"{worker}-{n}").write_text(f"{worker} {symbl_mock.port}")
"""
    )
    (project.path / "ports").mkdir()
    result = run(project, "-n", "2")
    result.assert_outcomes(passed=5)
    seen = {tuple(p.read_text().split()) for p in (project.path / "ports").iterdir()}
    workers = {worker for worker, _ in seen}
    ports = {port for _, port in seen}
    assert len(workers) == 2
    assert len(ports) == 2

"""Ctrl-C while a command runs: exit 130, one line, no traceback, whatever it was doing.

Each test waits for the command to show that it is running (a line it prints, or the files
it writes) before it presses Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from harness.cli import INTERRUPTED

from helpers import FIXTURES

Require = Callable[[str, bool, str], None]
TUTORIAL = FIXTURES.parent / "browser" / "tutorial.html"
# Only guards against a hang: a loaded machine may take long to get a command going.
GUARD_S = 300


def start(
    *args: str, own_group: bool = False, stdout: int | TextIO = subprocess.PIPE
) -> subprocess.Popen[str]:
    """`symbl-harness ARGS` in a subprocess, in a process group of its own if asked (as a
    terminal runs a command: Ctrl-C there reaches every process of the group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )


def wait_until(process: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> None:
    """Return once `ready()`; fail if the process ends first (or after GUARD_S)."""
    deadline = time.monotonic() + GUARD_S
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {what} within {GUARD_S} s"
        time.sleep(0.05)


def wait_for_file(process: subprocess.Popen[str], pattern: Path) -> None:
    """Return once a file matching `pattern` exists; fail if the process ends first."""
    wait_until(process, lambda: bool(list(pattern.parent.glob(pattern.name))), str(pattern))


def test_a_second_ctrl_c_aborts_a_recording_with_130_and_one_line(tmp_path: Path) -> None:
    out = tmp_path / "take"
    # Sent as fast as possible, the whole file waits for recognition after the stop.
    events = tmp_path / "events.out"
    # The events go to a file: a pipe nobody reads could fill and stall the command.
    with events.open("w") as sink, start(
        "record", str(out), "--file", str(FIXTURES / "standup" / "audio.wav"), "--mock",
        "--json", "--as-fast-as-possible", stdout=sink,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        wait_until(process, lambda: '"type"' in events.read_text(), "event")
        process.send_signal(signal.SIGINT)
        first = process.stderr.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert first == "stopping: stop_request sent (Ctrl-C again to abort)\n"
    assert err == f"error: aborted by a second Ctrl-C; what was captured is in {out}\n"
    assert process.returncode == INTERRUPTED


def test_ctrl_c_in_demo_stops_it_with_130_not_a_regression(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    with start("demo", "--fixture", "hot", "--out", str(out)) as process:
        wait_for_file(process, out / "events.jsonl")
        process.send_signal(signal.SIGINT)
        stdout, err = process.communicate(timeout=120)
    assert process.returncode == INTERRUPTED, stdout + err
    assert err.splitlines()[-1] == "stopped by Ctrl-C; not compared with the baseline"
    assert "differs" not in stdout
    assert "Traceback" not in err


def test_ctrl_c_in_browser_from_a_terminal_exits_130_in_one_line(
    tmp_path: Path, require: Require
) -> None:
    require("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    out = tmp_path / "browser"
    audio = str(FIXTURES / "hot" / "audio.wav")
    with start(
        "browser", str(TUTORIAL), "--audio", audio, "--mock", "--out", str(out), own_group=True
    ) as process:
        # The page has opened its socket: Chromium and the Playwright driver are running.
        wait_for_file(process, out / "sessions" / "*")
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == INTERRUPTED
    assert err.splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in err
    assert "Future exception" not in err

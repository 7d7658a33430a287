"""The bench command: every metric reported per concurrency level, the floor, bench.json, plots."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.tools.bench import milliseconds

from helpers import FIXTURES


def test_bench_against_the_mock(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "bench",
            str(FIXTURES / "hot"),
            str(FIXTURES / "standup"),
            "--mock",
            "--concurrency",
            "2",
            "--speed",
            "max",
            "--out",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == json.loads((tmp_path / "bench.json").read_text())
    assert report["label"].startswith("max speed")
    # Not a terminal: no progress, stdout is bench.json alone.
    assert "replaying" not in done.stderr
    assert "level" not in done.stderr
    assert report["floor"]["loopback_round_trip_ms"]["n"] == 1000
    assert set(report["levels"]) == {"1", "2"}
    assert "warning" in report
    for level in report["levels"].values():
        assert level["errors"] == []
        # hot has 2 phrases and standup 6: every phrase finalised once per replay.
        assert level["finalisation_ms"]["n"] == 8
        assert level["word_emission_ms"]["n"] == 63
        # Their recorded partials only ever grow: no flicker, no word revised, 63 words.
        stability = level["stability"]
        assert (stability["phrases"], stability["words"]) == (8, 63)
        assert (stability["flicker"], stability["revisions_per_word"]) == (0, 0.0)
        # One set-up and one tear-down per session; each contains the step before it.
        for name in ("handshake_ms", "set_up_ms", "stop_to_completed_ms", "stop_to_close_ms"):
            assert level[name]["n"] == 2, name
        for q in ("p50", "max"):
            assert level["handshake_ms"][q] <= level["set_up_ms"][q]
            assert level["stop_to_completed_ms"][q] <= level["stop_to_close_ms"][q]
    for plot in ("latency-cdf.png", "timeline.png"):
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Sessions run at once each got a conversation of their own.
    replays = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(replays) == 4


def test_bench_needs_sessions_it_can_replay(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", str(tmp_path), "--mock"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "has no events.jsonl" in done.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bench_ramp_prints_the_capacity(tmp_path: Path) -> None:
    done = run_cli(
        "bench", str(FIXTURES / "hot"), "--mock", "--speed", "max", "--ramp", "--ramp-max", "2",
        "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    capacity = json.loads(done.stdout)["capacity"]
    assert capacity == {"held": 2, "broke_at": None}
    assert set(json.loads(done.stdout)["levels"]) == {"1", "2"}


def test_bench_mock_faults_need_the_mock_and_a_known_fault(tmp_path: Path) -> None:
    hot = str(FIXTURES / "hot")
    done = run_cli("bench", hot, "--endpoint", "ws://127.0.0.1:9", "--mock-fault", "delay_ms=5")
    assert done.returncode == 2
    assert "--mock-fault needs --mock" in done.stderr
    done = run_cli("bench", hot, "--mock", "--mock-fault", "delay=5")
    assert done.returncode == 2
    assert "unknown fault 'delay'" in done.stderr
    done = run_cli("bench", hot, "--mock", "--ramp", "--bound", "words:p99=5")
    assert done.returncode == 2
    assert "a bound is METRIC:QUANTILE=MS" in done.stderr


def run_on_a_terminal(*args: str) -> str:
    """Run the CLI with a pseudo-terminal as stdout and stderr; what it showed, escapes out."""
    controller, terminal = pty.openpty()
    # 120 columns, so that a line is not cut before the names it shows.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "COLUMNS", "LINES"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(terminal)
    shown = bytearray()
    # Only guards against a hang: a loaded machine may take long to run the bench.
    deadline = time.monotonic() + 300
    timed_out = False
    with contextlib.suppress(OSError):  # EIO once the child has closed its end
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([controller], [], [], left)[0]:
                timed_out = True
                break
            chunk = os.read(controller, 65536)
            if not chunk:
                break
            shown += chunk
    os.close(controller)
    if timed_out:
        process.kill()
        pytest.fail(f"no end within 300 s: {shown.decode(errors='replace')}")
    assert process.wait(timeout=300) == 0, shown.decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))


def test_bench_shows_each_level_and_replay_on_a_terminal_before_its_results(
    tmp_path: Path,
) -> None:
    shown = run_on_a_terminal(
        "bench", str(FIXTURES / "hot"), "--mock", "--concurrency", "2", "--speed", "max",
        "--out", str(tmp_path),
    )  # fmt: skip
    results = shown.index("latency (ms)")
    for line in ("level 1 at once", "replaying hot-n1-r0-0", "level 2 at once",
                 "replaying hot-n2-r0-1"):  # fmt: skip
        assert -1 < shown.find(line) < results, line
    # The levels in the order they ran, each replay shown while it ran.
    assert shown.index("level 1 at once") < shown.index("replaying hot-n1-r0-0")
    assert shown.index("replaying hot-n1-r0-0") < shown.index("level 2 at once")


def test_a_floor_over_its_share_is_a_warning_on_stderr_in_bench_json_and_the_table(
    tmp_path: Path,
) -> None:
    # Any floor is over a millionth of a latency: the warning must reach the person.
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "bench", str(FIXTURES / "hot"), "--mock",
         "--speed", "max", "--floor-share", "0.000001", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "bench.json").read_text())
    assert summary["floor_share"] == 0.000001
    floor, warning = summary["floor_p99"], summary["warning"]
    figure = milliseconds(floor["ms"])
    named = f"the machine's floor ({floor['of']} p99 {figure} ms) is over 0.0001% of"
    assert warning.startswith(named), warning
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [
        f"warning: {warning}"
    ]
    shown = done.stdout.splitlines()
    assert shown[-1] == f"warning: {warning}"
    assert (
        shown.index("latency (ms)")
        < shown.index(f"floor: {floor['of']} p99 {figure} ms")
        < len(shown) - 1
    )


@pytest.mark.parametrize("share", ["0", "-0.5", "1.5", "nan", "inf", "a tenth"])
def test_a_floor_share_outside_0_to_1_is_one_usage_error(share: str) -> None:
    done = CliRunner().invoke(
        main, ["bench", str(FIXTURES / "hot"), "--mock", "--floor-share", share]
    )
    assert done.exit_code == 2
    assert done.stderr == (
        f"error: --floor-share needs a finite number above 0 and at most 1, got {share!r}\n"
    )


def test_the_floor_share_option_defaults_to_the_rule_of_bench_json() -> None:
    from harness.cli.bench import bench
    from harness.tools.bench import FLOOR_SHARE

    (option,) = (param for param in bench.params if param.name == "floor_share")
    assert float(str(option.default)) == FLOOR_SHARE

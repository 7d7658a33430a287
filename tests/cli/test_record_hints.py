"""What `record` and `replay` tell a user about the take they just made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import FIXTURES

HOT = FIXTURES / "hot"
NOT_A_BASELINE = re.compile(
    r"^note: the bundled mock answered with its (asr|whisper) engine \(speech recognition, "
    r"not a recording or a transcript\): its text is not a baseline$",
    re.MULTILINE,
)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_stop_that_times_out_names_the_option_to_raise(tmp_path: Path) -> None:
    # No endpoint closes within a microsecond of the stop request.
    result = run_cli(
        "replay", str(HOT), "--mock", "--speed", "max", "--json", "--stop-timeout", "0.000001",
        "--out", str(tmp_path / "replayed"),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: no close within 1e-06 s of the stop request (raise --stop-timeout to wait "
        "longer); replayed into "
    )


def test_a_recording_answered_by_speech_recognition_is_said_not_to_be_a_baseline(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "record", str(tmp_path / "take"), "--file", str(HOT / "audio.wav"), "--mock",
        "--as-fast-as-possible", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert NOT_A_BASELINE.search(result.stderr), result.stderr


def test_a_replay_answered_by_its_transcript_has_no_such_note(tmp_path: Path) -> None:
    result = run_cli(
        "replay", str(HOT), "--mock", "--speed", "max", "--json", "--out", str(tmp_path / "r")
    )
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr

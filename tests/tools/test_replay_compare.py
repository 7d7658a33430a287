"""Replay sessions against the mock and compare them with their baselines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.session_folder.log import read_session
from harness.tools.compare import Tolerances, compare
from harness.tools.replay import ReplayError, plan_replay

from helpers import FIXTURES

NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
CLI = [sys.executable, "-m", "harness.cli"]


def replay_command(name: str, out: Path, speed: str) -> list[str]:
    return [*CLI, "replay", str(FIXTURES / name), "--mock", "--speed", speed, "--out", str(out)]


def compare_json(baseline: Path, candidate: Path, *extra: str) -> tuple[int, dict[str, object]]:
    done = subprocess.run(
        [*CLI, "compare", str(baseline), str(candidate), "--json", *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


def test_every_fixture_replays_at_1x_and_max_speed_to_a_match(tmp_path: Path) -> None:
    # Real-time replays run side by side: the whole set takes as long as the longest.
    runs = {
        (name, speed): subprocess.Popen(
            replay_command(name, tmp_path / f"{name}-{speed}", speed),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in NAMES
        for speed in ("1", "max")
    }
    for (name, speed), run in runs.items():
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert "replayed into" in err
        if speed == "1":
            # The pacing error is measured and reported.
            assert "pacing lateness p50" in err
        code, report = compare_json(FIXTURES / name, tmp_path / f"{name}-{speed}")
        assert code == 0, report
        assert report["figures"]["wer"] == 0.0  # type: ignore[index]
        if speed == "1":
            assert "timing_ms" in report["figures"]  # type: ignore[operator]


def edited(tmp_path: Path, name: str, change: str) -> Path:
    """A copy of a fixture whose events.jsonl was edited by `change`."""
    folder = tmp_path / f"{name}-{change}"
    shutil.copytree(FIXTURES / name, folder)
    events = folder / "events.jsonl"
    lines = events.read_text().splitlines()
    records = [json.loads(line) for line in lines]

    def data(i: int) -> dict[str, object]:
        return records[i].get("data") or {}

    responses = [i for i, r in enumerate(records) if data(i).get("type") == "message_response"]
    insights = [i for i, r in enumerate(records) if data(i).get("type") == "insight_response"]
    if change == "transcript":
        message = records[responses[1]]["data"]["messages"][0]
        message["payload"]["content"] = "Can you send me the annual budget by Monday?"
    elif change == "insight":
        del records[insights[0]]
    elif change == "sentiment":
        message = records[responses[0]]["data"]["messages"][0]
        message["sentiment"]["suggested"] = "negative"
    elif change == "late":
        # Move the first final message 40 frames later in the audio (about 2.6 s at 16 kHz).
        moved = records.pop(responses[0])
        audio = [i for i, r in enumerate(records) if r.get("kind") == "audio" and i > responses[0]]
        records.insert(audio[40], moved)
    events.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return folder


@pytest.mark.parametrize(
    ("change", "aspect", "words"),
    [
        ("transcript", "transcript", "annual budget"),
        ("insight", "insights", "missing question"),
        ("sentiment", "sentiment", "-> negative"),
        ("late", "timing", "ms later"),
    ],
)
def test_a_changed_candidate_is_caught_and_named(
    tmp_path: Path, change: str, aspect: str, words: str
) -> None:
    candidate = edited(tmp_path, "standup", change)
    code, report = compare_json(FIXTURES / "standup", candidate)
    assert code == 1
    named = [d for d in report["differences"] if d["aspect"] == aspect]  # type: ignore[union-attr]
    assert named, report
    assert any(words in d["detail"] for d in named)  # type: ignore[index]


def test_tolerances_can_let_a_difference_pass(tmp_path: Path) -> None:
    candidate = edited(tmp_path, "standup", "transcript")
    code, report = compare_json(FIXTURES / "standup", candidate, "--tolerance", "wer=0.2")
    assert code == 0
    assert report["differences"][0]["within"]  # type: ignore[index]
    done = subprocess.run(
        [*CLI, "compare", str(FIXTURES / "hot"), str(candidate), "--tolerance", "speed=2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown tolerance 'speed=2'" in done.stderr


def test_a_session_compared_with_itself_matches() -> None:
    for name in NAMES:
        log = read_session(FIXTURES / name)
        outcome = compare(log, log, Tolerances())
        assert outcome.matches
        assert outcome.differences == []


def cut(tmp_path: Path) -> Path:
    folder = tmp_path / "cut"
    shutil.copytree(FIXTURES / "hot", folder)
    events = folder / "events.jsonl"
    data = events.read_bytes()
    events.write_bytes(data[: len(data) // 2])
    return folder


def test_a_cut_log_still_replays_with_a_warning(tmp_path: Path) -> None:
    plan = plan_replay(cut(tmp_path))
    assert plan.warnings
    done = subprocess.run(
        [
            *CLI,
            "replay",
            str(cut(tmp_path / "again")),
            "--mock",
            "--speed",
            "max",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning: ")
    assert read_session(tmp_path / "r").audio.size == sum(f.size for f in plan.audio)


@pytest.mark.parametrize("damage", ["not a session", "newer version", "no wav", "short wav"])
def test_unusable_sessions_are_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "damaged"
    shutil.copytree(FIXTURES / "hot", folder)
    if damage == "not a session":
        (folder / "events.jsonl").unlink()
    elif damage == "newer version":
        lines = (folder / "events.jsonl").read_text().splitlines(keepends=True)
        header = json.loads(lines[0])
        header["version"] = 2
        (folder / "events.jsonl").write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    elif damage == "no wav":
        (folder / "audio.wav").unlink()
    else:
        wav = (folder / "audio.wav").read_bytes()
        (folder / "audio.wav").write_bytes(wav[: len(wav) // 2])
    with pytest.raises(ReplayError):
        plan_replay(folder)
    done = subprocess.run(
        [*CLI, "replay", str(folder), "--mock"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    code, _ = compare_json(FIXTURES / "hot", folder)
    assert code == 2

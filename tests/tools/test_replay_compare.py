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
from harness.tools.regression import ReplayResult
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


# The support call's messages (and the insights quoting them) written another way: case,
# punctuation, contractions and digits, the words unchanged.
RESPELLED = {
    "Thank you for calling customer support my name is Alex.": (
        "THANK YOU for calling customer support, my name is Alex!"
    ),
    "I am sorry to hear that it must be very frustrating.": (
        "I'm sorry to hear that; it must be very frustrating..."
    ),
    "Thank you I can see two outages in your area this week.": (
        "Thank you, I can see 2 outages in your area this week."
    ),
    "I will send a technician to check the line on Thursday.": (
        "I'll send a technician to check the line on Thursday!"
    ),
    "Yes they will call you one hour before they arrive.": (
        "Yes, they'll call you 1 hour before they arrive."
    ),
    "That is great thank you so much for your help.": (
        "That's great -- thank you so much!!! for your help"
    ),
    "No that is all have a nice day.": "no, that's all. have a nice day",
}


def respelled(tmp_path: Path) -> Path:
    """A copy of the support call whose texts say the same words in other forms."""
    folder = tmp_path / "support-call-respelled"
    shutil.copytree(FIXTURES / "support-call", folder)
    events = folder / "events.jsonl"
    records = [json.loads(line) for line in events.read_text().splitlines()]
    changed = 0
    for record in records:
        data = record.get("data") or {}
        items = data.get("messages") or data.get("insights") or []
        for item in items if isinstance(items, list) else []:
            text = item.get("payload", {}).get("content")
            if text in RESPELLED:
                item["payload"]["content"] = RESPELLED[text]
                changed += 1
    assert changed > len(RESPELLED), "every respelled message and the insights quoting them"
    events.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return folder


def test_texts_differing_only_in_form_match_with_both_rates_reported(tmp_path: Path) -> None:
    candidate = respelled(tmp_path)
    code, report = compare_json(FIXTURES / "support-call", candidate)
    assert code == 0, report
    figures = report["figures"]
    assert figures["wer"] == 0.0  # type: ignore[index]
    assert figures["wer_raw"] > 0.1  # type: ignore[index,operator]
    assert report["differences"] == []
    assert any("differ only in form" in note for note in report["notes"])  # type: ignore[union-attr]
    done = subprocess.run(
        [*CLI, "compare", str(FIXTURES / "support-call"), str(candidate)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rate = f"word error rate 0.000 normalised, {figures['wer_raw']:.3f} raw"  # type: ignore[index]
    assert rate in done.stdout


def with_one_word_changed(tmp_path: Path) -> Path:
    """The respelled support call with one word truly changed."""
    candidate = respelled(tmp_path)
    records = [json.loads(line) for line in (candidate / "events.jsonl").read_text().splitlines()]
    for record in records:
        for item in (record.get("data") or {}).get("messages") or []:
            if item["payload"]["content"].startswith("How can I help"):
                item["payload"]["content"] = "How can I assist you today?"
    (candidate / "events.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return candidate


def test_the_wer_tolerance_judges_the_normalised_rate(tmp_path: Path) -> None:
    # One word changed among respelled ones: normalised 1 error, raw many more.
    candidate = with_one_word_changed(tmp_path)
    code, report = compare_json(FIXTURES / "support-call", candidate)
    assert code == 1
    figures = report["figures"]
    said = [
        item["payload"]["content"]
        for line in (FIXTURES / "support-call" / "events.jsonl").read_text().splitlines()
        for item in (json.loads(line).get("data") or {}).get("messages") or []
    ]
    words = len(" ".join(said).split())
    assert figures["wer"] == round(1 / words, 4)  # type: ignore[index]
    assert figures["wer_raw"] > 5 / words  # type: ignore[index,operator]
    (detail,) = [d["detail"] for d in report["differences"]]  # type: ignore[union-attr,index]
    assert "'How can I help you today?' -> 'How can I assist you today?'" in detail
    # The raw rate is well past this bound; the normalised one is within it.
    code, report = compare_json(
        FIXTURES / "support-call", candidate, "--tolerance", f"wer={2 / words}"
    )
    assert code == 0, report


def test_a_regression_judges_the_normalised_rate_and_shows_both(tmp_path: Path) -> None:
    baseline = FIXTURES / "support-call"

    def replayed_as(candidate: Path) -> ReplayResult:
        comparison = compare(read_session(baseline), read_session(candidate), Tolerances())
        return ReplayResult(baseline, candidate, baseline, comparison, baseline_written=False)

    assert replayed_as(respelled(tmp_path / "same")).matches_baseline()
    changed = replayed_as(with_one_word_changed(tmp_path / "changed"))
    with pytest.raises(AssertionError, match=r"word error rate 0\.\d+ normalised, 0\.\d+ raw"):
        changed.matches_baseline()

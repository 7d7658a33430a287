"""The command line: commands listed, demo figures, inspect, one-line errors with exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.session_folder.log import SessionLogWriter

FIXTURE_NAMES = ["feedback", "hot", "standup", "support-call"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_installed_command_lists_its_commands() -> None:
    command = shutil.which("symbl-harness")
    assert command is not None, "pip install -e . installs the symbl-harness command"
    out = subprocess.run([command, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("demo", "inspect", "mock", "record", "replay", "compare", "proxy"):
        assert command in out


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_seed_audit_measures_every_fixture(name: str) -> None:
    code, out, _ = run("seed-audit", "--fixture", name, "--json")
    assert code == 0
    figures = json.loads(out)
    assert figures["frames"] == -(-round(figures["seconds"] * figures["sample_rate"]) // 1024)
    assert figures["correct_snr_db"] > figures["seed_snr_db"]


def test_seed_audit_default_shows_wrapped_peaks_on_a_hot_signal() -> None:
    code, out, _ = run("seed-audit")
    assert code == 0
    assert "negative samples wrapped to positive" in out
    figures = json.loads(run("seed-audit", "--json")[1])
    assert figures["fixture"] == "feedback"
    assert figures["wrapped_samples"] > 0
    assert figures["correct_snr_db"] - figures["seed_snr_db"] > 40


def test_demo_replays_a_fixture_and_matches_its_baseline(tmp_path: Path) -> None:
    done = subprocess.run(
        ["symbl-harness", "demo", "--fixture", "hot", "--out", str(tmp_path / "hot")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{tmp_path / 'hot'} matches" in done.stdout
    assert "finalisation latency" in done.stdout
    assert "pacing lateness p50" in done.stderr
    assert (tmp_path / "hot" / "conversation.json").exists()


def test_demo_with_an_unknown_fixture_fails_in_one_line() -> None:
    code, _, err = run("demo", "--fixture", "nope")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "no fixture or folder named 'nope'" in err


def write_session(folder: Path) -> None:
    writer = SessionLogWriter(folder, endpoint="ws://127.0.0.1:1/v1/streaming/x", sample_rate=16000)
    writer.opened("ws://127.0.0.1:1/v1/streaming/x")
    writer.sent_text('{"type":"start_request"}')
    writer.received_text(
        '{"type":"message","message":{"type":"conversation_created","data":{"conversationId":"42"}}}'
    )
    writer.sent_audio(bytes(2048))
    writer.received_text('{"type":"message_response","messages":[{"payload":{"content":"Hi."}}]}')
    writer.received_text(
        '{"type":"insight_response","insights":[{"type":"question","text":"Why?"}]}'
    )
    writer.received_text("not json")
    writer.closed(1000)
    writer.close()


def test_inspect_summarises_a_session(tmp_path: Path) -> None:
    write_session(tmp_path / "s")
    code, out, _ = run("inspect", str(tmp_path / "s"), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["complete"]
    assert summary["conversation_id"] == "42"
    assert summary["final_transcripts"] == ["Hi."]
    assert summary["insights"] == ["question: Why?"]
    assert summary["audio_samples"] == 1024
    assert summary["events"]["message_response"] == 1
    assert any("not JSON" in error for error in summary["errors"])
    code, out, _ = run("inspect", str(tmp_path / "s"))
    assert code == 0
    assert "conversation  42" in out


def test_inspect_reports_an_interrupted_session(tmp_path: Path) -> None:
    write_session(tmp_path / "s")
    events = tmp_path / "s" / "events.jsonl"
    events.write_bytes(events.read_bytes().rsplit(b"\n", 2)[0] + b"\n")
    code, out, _ = run("inspect", str(tmp_path / "s"), "--json")
    assert code == 0
    assert not json.loads(out)["complete"]
    assert any("no footer" in p for p in json.loads(out)["problems"])


def test_inspect_of_a_folder_that_is_not_a_session_fails_in_one_line(tmp_path: Path) -> None:
    code, _, err = run("inspect", str(tmp_path))
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "has no events.jsonl" in err

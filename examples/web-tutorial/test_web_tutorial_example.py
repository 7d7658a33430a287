"""The live sentiment tutorial's page in headless Chromium against the mock, answered from
recordings this same page made, judged by what the page showed.

Re-record (after changing the page): `pytest examples/web-tutorial --symbl-record-mode once`
with the old folders in recordings/ removed; the mock then answers with its own recogniser and
saves each connection there as a session folder.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import read_session

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "tutorial_page.py"
RECORDINGS = HERE / "recordings"
SESSIONS = HERE.parents[1] / "fixtures" / "sessions"
AUDIO = SESSIONS / "hot" / "audio.wav"  # 6 s: what the recording heard
OTHER_AUDIO = SESSIONS / "feedback" / "audio.wav"  # 21 s: heard by no recording
# Well above the matcher's own bar (0.1): the share of the client's landmarks found in the
# recording at the matched offset; the same audio captured again keeps about half.
MIN_SCORE = 0.3
SENTIMENTS = {"positive", "neutral", "negative"}


@pytest.fixture
def chromium(require: Callable[[str, bool, str], None]) -> str:
    """Debian's Chromium, and Playwright for Python to drive it."""
    path = shutil.which("chromium")
    require("Chromium", path is not None, "apt-get install chromium")
    found = importlib.util.find_spec("playwright") is not None
    require("Playwright for Python", found, "pip install playwright (no browser download)")
    assert path is not None
    return path


@pytest.fixture
def record_mode(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--symbl-record-mode"))


def run_page(chromium: str, symbl_mock: Any, wav: Path) -> dict[str, Any]:
    """The page, configured with the mock's host and a token, with `wav` as its microphone."""
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(wav), "--api-host", symbl_mock.host,
         "--token", symbl_mock.access_token, "--chromium", chromium],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.stdout.strip(), f"the driver printed nothing: {done.stderr[-2000:]}"
    run: dict[str, Any] = json.loads(done.stdout)
    assert run["page_errors"] == [], run["page_errors"]
    return run


def answered_by(entry: Any, record_mode: str) -> Path:
    """The recording here that answered the connection (or, in a recording run, the new
    recording it was saved as)."""
    if entry.matched:
        assert entry.recording.resolve().parent == RECORDINGS
        assert entry.score >= MIN_SCORE, f"matched with a low score: {entry.score}"
        return Path(entry.recording)
    assert record_mode != "none", f"unmatched ({entry.error}) and not recording"
    assert entry.recorded_to is not None, "a miss in a recording run was not recorded"
    return Path(entry.recorded_to)


@pytest.mark.symbl(sessions=["recordings"])
def test_the_page_shows_the_recorded_transcript_and_its_sentiment(
    chromium: str, symbl_mock: Any, record_mode: str
) -> None:
    run = run_page(chromium, symbl_mock, AUDIO)
    assert run["errors"] == []
    assert run["closed"], "the page's socket never closed after the stop"

    (entry,) = symbl_mock.journal()
    # The page's meeting id: btoa of the e-mail it was configured with, fresh each run.
    assert entry.connection_id == run["connection_id"]
    recording = answered_by(entry, record_mode)

    # The page showed the recording's words ("Transcript (more accurate): …" lines) ...
    recorded = read_session(recording).messages()
    texts = [m["payload"]["content"] for m in recorded]
    assert texts, "the recording holds no messages"
    assert run["transcripts"] == texts
    # ... and the sentiment of each: the Conversation API's answer to the request the page
    # makes when the conversation completes.
    assert run["sentiment"] is not None, "the page showed no sentiment"
    assert [m["text"] for m in run["sentiment"]] == texts
    assert {m["sentiment"]["suggested"] for m in run["sentiment"]} <= SENTIMENTS
    for shown, original in zip(run["sentiment"], recorded, strict=True):
        if "sentiment" in original:
            assert shown["sentiment"]["suggested"] == original["sentiment"]["suggested"]
    calls = {(c["method"], c["path"].split("?")[0], c["status"]) for c in entry.rest}
    conversation = run["sentiment"][0]["conversationId"]
    assert ("GET", f"/v1/conversations/{conversation}/messages", 200) in calls

    # What the tutorial's code sent, and its conversion defect as the mock judged it.
    request = entry.start_request
    assert request["meetingTitle"] == "Websockets How-to"
    assert request["config"]["speechRecognition"] == {
        "encoding": "LINEAR16",
        "sampleRateHertz": 44100,
    }
    assert "first_sample_zero" in entry.findings


@pytest.mark.symbl(sessions=["recordings"])
def test_audio_no_recording_heard_shows_an_error_naming_the_closest(
    chromium: str, symbl_mock: Any, record_mode: str
) -> None:
    if record_mode != "none":
        pytest.skip("a recording run records every unmatched connection")
    run = run_page(chromium, symbl_mock, OTHER_AUDIO)

    # The tutorial logs every message it gets, so the page shows the error.
    assert run["errors"], "the page showed no error"
    said = json.dumps(run["errors"])
    recordings = [p.name for p in RECORDINGS.iterdir() if p.is_dir()]
    assert any(name in said for name in recordings), f"no recording named in {said}"
    # Never a silent fallback to speech recognition: the page showed no words.
    assert run["transcripts"] == []

    (entry,) = symbl_mock.journal()
    assert entry.matched is False
    assert entry.connection_id == run["connection_id"]

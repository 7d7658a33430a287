"""The Node SDK example against the mock, answered from recordings this same client made.

Re-record (after changing the client): `pytest examples/node-sdk --symbl-record-mode once`
with the old folders in recordings/ removed; the mock then answers with its own recogniser and
saves each connection there as a session folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import read_session

HERE = Path(__file__).resolve().parent
APP = HERE / "app.js"
RECORDINGS = HERE / "recordings"
SESSIONS = HERE.parents[1] / "fixtures" / "sessions"
AUDIO = SESSIONS / "hot" / "audio.wav"  # 48 kHz, 6 s: what the recording heard
OTHER_AUDIO = SESSIONS / "standup" / "audio.wav"  # 16 kHz, 24 s: heard by no recording
# Well above the matcher's own bar (0.1): the share of the client's landmarks found in the
# recording at the matched offset; the same audio streamed again keeps about half.
MIN_SCORE = 0.3
INSTALL = "apt-get install nodejs npm && cd examples/node-sdk && npm ci"

Events = list[dict[str, Any]]


@pytest.fixture
def node_sdk(require: Callable[[str, bool, str], None]) -> str:
    """The node executable, with the example's dependencies installed."""
    node = shutil.which("node")
    installed = (HERE / "node_modules" / "@symblai" / "symbl-js" / "package.json").is_file()
    require("the Node SDK example (node and its node_modules)", bool(node) and installed, INSTALL)
    assert node is not None
    return node


@pytest.fixture
def record_mode(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--symbl-record-mode"))


Run = tuple[subprocess.CompletedProcess[str], Events]


def run_app(node: str, symbl_mock: Any, wav: Path) -> Run:
    """Run the example app against the mock; its JSON lines."""
    env = {
        **os.environ,
        "SYMBL_BASE_URL": symbl_mock.base_url,
        "SYMBL_APP_ID": symbl_mock.app_id,
        "SYMBL_APP_SECRET": symbl_mock.app_secret,
    }
    done = subprocess.run(
        [node, str(APP), str(wav), "--stop-timeout", "30"],
        capture_output=True, text=True, timeout=240, env=env, cwd=HERE, check=False,
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, events


def of(events: Events, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


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
def test_the_sdk_streams_and_stops_with_what_the_recording_answered(
    node_sdk: str, symbl_mock: Any, record_mode: str
) -> None:
    done, events = run_app(node_sdk, symbl_mock, AUDIO)
    # `await connection.stop()` resolves on `conversation_completed`, and the SDK closes its
    # socket on `recognition_stopped` or `conversation_completed`, whichever comes first: it
    # completes only when the server sends `conversation_completed` first (docs/protocol.md). The
    # app bounds the wait and reports `stop_unresolved` (exit 3) otherwise; node then exits
    # by itself once the app has cleared the SDK's 24 h token-refresh timer.
    assert of(events, "stop_unresolved") == [], "the SDK's stop() never resolved"
    assert done.returncode == 0, done.stderr[-2000:]
    (started,) = of(events, "started")
    (stopped,) = of(events, "stopped")
    assert stopped["conversationData"]["conversationId"] == started["conversationId"]

    (entry,) = symbl_mock.journal()
    assert entry.connection_id == started["connectionId"]
    recording = answered_by(entry, record_mode)

    # The SDK's handlers got the recording's words, messages with their sentiment.
    recorded = read_session(recording).messages()
    texts = [m["payload"]["content"] for m in recorded]
    assert texts, "the recording holds no messages"
    received = [m for e in of(events, "messages") for m in e["messages"]]
    assert [m["payload"]["content"] for m in received] == texts
    assert [m.get("sentiment") for m in received] == [m.get("sentiment") for m in recorded]
    assert [e["transcript"] for e in of(events, "speech") if e["isFinal"]] == [
        m["payload"]["content"] for m in recorded
    ]

    # What the SDK sent: its flat `sampleRateHertz` moved into `speechRecognition`.
    request = entry.start_request
    assert request["config"]["speechRecognition"]["sampleRateHertz"] == 48000
    assert request["insightTypes"] == ["question", "action_item", "follow_up"]
    assert request["speaker"] == {"userId": "jane.doe@example.com", "name": "Jane"}
    assert "stop_request_not_json" not in entry.findings


@pytest.mark.symbl(sessions=["recordings"])
def test_audio_no_recording_heard_gets_an_error_naming_the_closest(
    node_sdk: str, symbl_mock: Any, record_mode: str
) -> None:
    if record_mode != "none":
        pytest.skip("a recording run records every unmatched connection")
    done, events = run_app(node_sdk, symbl_mock, OTHER_AUDIO)

    # The error arrives after the start resolved, so the SDK hands it to no promise; the app
    # sees it in `onDataReceived`, stops streaming and stops.
    errors = of(events, "error")
    assert errors, f"the app saw no error: {done.stdout[-2000:]}"
    said = json.dumps([e["error"] for e in errors])
    recordings = [p.name for p in RECORDINGS.iterdir() if p.is_dir()]
    assert any(name in said for name in recordings), f"no recording named in {said}"
    # Never a silent fallback to speech recognition: no words came back.
    assert of(events, "messages") == []

    (entry,) = symbl_mock.journal()
    assert entry.matched is False
    assert entry.connection_id == of(events, "started")[0]["connectionId"]

"""Running an official SDK's client script against the mock, and reading what it printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.session_folder.transcript import read_transcript

from helpers import APP_ID, APP_SECRET, FIXTURES

SDK_TESTS = Path(__file__).resolve().parents[1]
PYTHON_CLIENT = SDK_TESTS / "python" / "python_sdk_client.py"
NODE_DIR = SDK_TESTS / "node"
NODE_CLIENT = NODE_DIR / "node_sdk_client.js"
# Guards against a hung client only; nothing is judged by it.
CLIENT_GUARD_S = 300

Events = list[dict[str, Any]]


def run_client(command: Sequence[str], base_url: str, cwd: Path | None = None) -> Events:
    """Run an SDK client script against `base_url` with the suite's credentials; the JSON
    objects it printed, one a line. A client that exits with an error, or whose output ends
    before its `done`, fails the test with the end of its output."""
    env = {
        **os.environ,
        "SYMBL_BASE_URL": base_url,
        "SYMBL_APP_ID": APP_ID,
        "SYMBL_APP_SECRET": APP_SECRET,
    }
    done = subprocess.run(
        list(command), capture_output=True, text=True, env=env, cwd=cwd,
        timeout=CLIENT_GUARD_S, check=False,
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    tail = done.stdout[-1500:] + done.stderr[-1500:]
    assert done.returncode == 0, f"the client exited with {done.returncode}: {tail}"
    assert [e for e in events if e["event"] == "done"], f"the client's output was cut: {tail}"
    return events


def python_client(*args: str) -> list[str]:
    """The command line of the Python SDK's client script."""
    return [sys.executable, str(PYTHON_CLIENT), *args]


def of(events: Events, kind: str, **match: Any) -> Events:
    """The events of one kind (with these field values), in order."""
    return [
        e for e in events if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
    ]


def rest(events: Events, call: str) -> dict[str, Any]:
    """What one REST call through the SDK returned: `type` (the class of the returned object)
    and `result`."""
    (reply,) = of(events, "rest", call=call)
    return reply


def words(text: str) -> list[str]:
    """A text's words without punctuation: how a message is compared with a transcript."""
    return re.findall(r"[\w']+", text)


def phrase_words(fixture: str) -> list[list[str]]:
    """The words of each phrase of a fixture's transcript.json, in order."""
    transcript = read_transcript(FIXTURES / fixture / "transcript.json")
    return [[w.word for w in phrase.words] for phrase in transcript.phrases]

"""The official Python SDK's Async API (symbl 2.0.6, unmodified, only its host pointed at the
mock): `symbl.Audio` and `symbl.Video` by file and by URL (served by a loopback HTTP server),
`symbl.Text`, and their append forms; each job waited for through the SDK's jobs client, then
the conversation read back through the SDK.

One client run serves the module. The audio is the `hot` fixture (6 s), which the mock knows
by its recording and transcript, so the words are exact; the video is the same audio in an
MP4 container (16-bit PCM track), the only format the Async API takes for video.

The SDK's monitor of each job polls first after 30 s (`Conversation.__INTERVAL_TIME_IN_SECONDS`),
so the client submits with `wait=False` and polls `GET /v1/job/{jobId}` with the SDK's own
`symbl_rest.JobsApi` instead. Its REST wrappers swallow errors (they return a
`{'message': …}` dict): every read-back first checks the returned object is the SDK's model.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sdk_clients import Events, of, phrase_words, python_client, rest, run_client, words

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import FIXTURES, encoded

FIXTURE = "hot"
TEXT = [
    ("Jane", "jane@example.com", "Can you send me the quarterly report by Friday?"),
    ("John", "john@example.com", "I will update the project dashboard tomorrow morning."),
]
TEXT_APPENDED = [
    ("Jane", "jane@example.com", "What is the status of the mobile release?"),
]


class QuietFiles(SimpleHTTPRequestHandler):
    """Serves a folder's files; logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder with the fixture's audio.wav and video.mp4, and the loopback URL serving it."""
    folder = tmp_path_factory.mktemp("media")
    shutil.copy(FIXTURES / FIXTURE / "audio.wav", folder / "audio.wav")
    (folder / "video.mp4").write_bytes(encoded(folder / "audio.wav", "mp4", "aac"))
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    fixture = FIXTURES / FIXTURE
    config = MockConfig(recordings=(fixture,), transcripts=(fixture,), seed=17)
    with running_mock(config) as running:
        yield running


def text_payload(messages: list[tuple[str, str, str]]) -> dict[str, Any]:
    """An Async Text API body (its documented `messages` form)."""
    return {
        "name": "python-sdk text",
        "messages": [
            {"payload": {"content": text}, "from": {"name": name, "userId": user}}
            for name, user, text in messages
        ],
    }


@pytest.fixture(scope="module")
def events(python_sdk: None, mock: RunningMock, media: tuple[Path, str]) -> Events:
    folder, url = media
    plan = {
        "audio_file": str(folder / "audio.wav"),
        "append_file": str(folder / "audio.wav"),
        "audio_url": f"{url}/audio.wav",
        "video_file": str(folder / "video.mp4"),
        "video_url": f"{url}/video.mp4",
        "text": text_payload(TEXT),
        "text_append": text_payload(TEXT_APPENDED),
    }
    (folder / "plan.json").write_text(json.dumps(plan))
    return run_client(python_client("async", str(folder / "plan.json")), mock.base_url)


def submitted(events: Events, call: str) -> dict[str, Any]:
    """The submission of one Async API call: the SDK's Conversation, with its ids."""
    (reply,) = of(events, "async", call=call)
    assert reply.get("type") == "Conversation", f"{call} failed: {reply}"
    assert reply["conversationId"] and reply["jobId"]
    return reply


def completed(events: Events, call: str) -> dict[str, Any]:
    """A submission whose job went through the documented statuses to `completed`."""
    reply = submitted(events, call)
    (job,) = of(events, "job", jobId=reply["jobId"])
    assert job["statuses"][-1] == "completed", f"{call}: job {job['statuses']}"
    assert set(job["statuses"]) <= {"scheduled", "in_progress", "completed"}
    return reply


def messages(events: Events, call: str) -> list[dict[str, Any]]:
    """The messages read back after a submission, through the SDK."""
    reply = rest(events, f"{call}.get_messages")
    assert reply["type"] == "MessageListResponse", f"{call}: {reply['result']}"
    return list(reply["result"]["messages"])


def test_audio_by_file_and_by_url_and_appended(events: Events) -> None:
    phrases = phrase_words(FIXTURE)
    for call in ("audio.process_file", "audio.process_url"):
        reply = completed(events, call)
        read = messages(events, call)
        assert [words(m["text"]) for m in read] == phrases, call
        for message in read:
            assert message["conversation_id"] == reply["conversationId"]
            assert message["sentiment"]["suggested"] in {"positive", "neutral", "negative"}
            assert message["start_time"] <= message["end_time"]
        questions = rest(events, f"{call}.get_questions")
        assert questions["type"] == "QuestionListResponse", questions
        assert [q["text"] for q in questions["result"]["questions"]] == ["Is this too loud?"]
    assert (
        submitted(events, "audio.process_file")["conversationId"]
        != submitted(events, "audio.process_url")["conversationId"]
    )

    # Appending the same audio to the first conversation: the same id, its words twice, the
    # appended ones after the first ones.
    appended = completed(events, "audio.append_file")
    assert appended["conversationId"] == submitted(events, "audio.process_file")["conversationId"]
    read = messages(events, "audio.append_file")
    assert [words(m["text"]) for m in read] == phrases + phrases
    assert read[len(phrases) - 1]["end_time"] <= read[len(phrases)]["start_time"]


def test_text_submitted_and_appended(events: Events) -> None:
    first = completed(events, "text.process")
    read = messages(events, "text.process")
    assert [(m["_from"]["name"], m["text"]) for m in read] == [(n, t) for n, _, t in TEXT]
    questions = rest(events, "text.process.get_questions")
    assert questions["type"] == "QuestionListResponse", questions
    assert [q["text"] for q in questions["result"]["questions"]] == [TEXT[0][2]]
    actions = rest(events, "text.process.get_action_items")
    assert actions["type"] == "ActionItemListResponse", actions
    assert TEXT[1][2] in [a["text"] for a in actions["result"]["action_items"]]

    appended = completed(events, "text.append")
    assert appended["conversationId"] == first["conversationId"]
    read = messages(events, "text.append")
    assert [m["text"] for m in read] == [t for _, _, t in [*TEXT, *TEXT_APPENDED]]


def test_video_by_file_and_by_url(events: Events) -> None:
    phrases = phrase_words(FIXTURE)
    for call in ("video.process_file", "video.process_url"):
        completed(events, call)
        assert [words(m["text"]) for m in messages(events, call)] == phrases, call

"""The Async API over real sockets on loopback: files, URLs and text become conversations
through jobs, as a streamed conversation of the same audio would."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import websockets

from harness import read_session
from harness.serve import RunningServer
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock
from mock_symbl.session.jobs import (
    JobFailedError,
    JobRequestError,
    JobStatus,
    job_options,
    media_source,
    next_status,
)

from helpers import FIXTURES, conversation_id, encoded, start_request, stream_session, token

# Only guards against a hang: how long a job may take to finish.
JOB_WAIT_S = 120.0
FINISHED = ("completed", "failed")


def auth(mock: RunningServer, app_id: str | None = None) -> dict[str, str]:
    access = token(mock.base_url) if app_id is None else token(mock.base_url, app_id)
    return {"Authorization": f"Bearer {access}"}


def job_status(mock: RunningServer, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    reply = httpx.get(f"{mock.base_url}/v1/job/{job_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def finished(mock: RunningServer, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    """The job once it has finished, polled as the SDKs poll."""
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline:
        job = job_status(mock, headers, job_id)
        if job["status"] in FINISHED:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def status_becomes(
    mock: RunningServer, headers: dict[str, str], job_id: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline:
        job = job_status(mock, headers, job_id)
        if job["status"] == status:
            return job
        assert job["status"] not in FINISHED, job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never became {status}")


def messages(mock: RunningServer, headers: dict[str, str], conversation: str) -> list[Any]:
    reply = httpx.get(
        f"{mock.base_url}/v1/conversations/{conversation}/messages?verbose=true", headers=headers
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json()["messages"])


def texts(found: list[Any]) -> list[str]:
    return [m["text"] for m in found]


def streamed(mock: RunningServer, name: str) -> list[Any]:
    """The messages the fixture's audio makes when streamed."""
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    url = f"{mock.streaming_url(name)}?access_token={token(mock.base_url)}"
    received, _, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples)
    )
    return messages(mock, auth(mock), conversation_id(received))


def post_file(
    mock: RunningServer,
    headers: dict[str, str],
    data: bytes,
    *,
    path: str = "/v1/process/audio",
    content_type: str = "audio/wav",
    method: str = "POST",
    **params: str,
) -> httpx.Response:
    return httpx.request(
        method,
        f"{mock.base_url}{path}",
        content=data,
        params=params,
        headers={**headers, "Content-Type": content_type},
    )


class Loopback:
    """A loopback HTTP server: serves one file (held back until released) and records
    the webhook calls it receives, in order."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.release = threading.Event()
        self.asked = threading.Event()
        self.calls: list[dict[str, Any]] = []
        self.called = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.asked.set()
                outer.release.wait(JOB_WAIT_S)
                # The job waiting for the file may be gone (its server killed).
                with contextlib.suppress(ConnectionError):
                    self.send_response(200 if self.path == "/a.wav" else 404)
                    self.send_header("Content-Length", str(len(outer.body)))
                    self.end_headers()
                    self.wfile.write(outer.body)

            def do_POST(self) -> None:
                size = int(self.headers["Content-Length"])
                with outer.called:
                    outer.calls.append(json.loads(self.rfile.read(size)))
                    outer.called.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def webhook_calls(self, count: int) -> list[dict[str, Any]]:
        """The webhook calls once `count` have come (a job's status is stored, then told)."""
        with self.called:
            self.called.wait_for(lambda: len(self.calls) >= count, JOB_WAIT_S)
            return list(self.calls)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback((FIXTURES / "hot" / "audio.wav").read_bytes())
    yield server
    server.close()


# `feedback` is over the 1 MiB other requests may send: a media file may be larger.
@pytest.mark.parametrize("name", ["standup", "feedback"])
def test_a_wav_file_makes_the_conversation_its_streamed_audio_makes(
    mock_server: RunningServer, name: str
) -> None:
    headers = auth(mock_server)
    wav = (FIXTURES / name / "audio.wav").read_bytes()
    reply = post_file(mock_server, headers, wav, name=name)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert set(answer) == {"conversationId", "jobId"}
    assert finished(mock_server, headers, answer["jobId"])["status"] == "completed"
    mine = messages(mock_server, headers, answer["conversationId"])
    theirs = streamed(mock_server, name)
    assert texts(mine) == texts(theirs) and mine
    assert [[w["word"] for w in m["words"]] for m in mine] == [
        [w["word"] for w in m["words"]] for m in theirs
    ]
    assert [m["timeOffset"] for m in mine] == [m["timeOffset"] for m in theirs]
    conversation = httpx.get(
        f"{mock_server.base_url}/v1/conversations/{answer['conversationId']}", headers=headers
    ).json()
    assert conversation["name"] == name and conversation["endTime"]
    for route, key in (("questions", "questions"), ("action-items", "actionItems")):
        found = httpx.get(
            f"{mock_server.base_url}/v1/conversations/{answer['conversationId']}/{route}",
            headers=headers,
        ).json()[key]
        assert {i["text"] for i in found} <= set(texts(mine))


@pytest.mark.parametrize(
    ("path", "content_type", "container", "codec", "video"),
    [
        ("/v1/process/audio", "audio/mpeg", "mp3", "libmp3lame", None),
        ("/v1/process/video", "video/mp4", "mp4", "aac", "mpeg4"),
        ("/v1/process/video", "video/webm", "webm", "libopus", "libvpx"),
    ],
)
def test_compressed_audio_and_video_tracks_are_decoded_to_the_same_words(
    mock_server: RunningServer,
    path: str,
    content_type: str,
    container: str,
    codec: str,
    video: str | None,
) -> None:
    headers = auth(mock_server)
    data = encoded(FIXTURES / "hot" / "audio.wav", container, codec, video=video)
    reply = post_file(mock_server, headers, data, path=path, content_type=content_type, name="hot")
    assert reply.status_code == 200, reply.text
    job = finished(mock_server, headers, reply.json()["jobId"])
    assert job["status"] == "completed", job
    mine = messages(mock_server, headers, reply.json()["conversationId"])
    assert texts(mine) == texts(streamed(mock_server, "hot"))


def test_a_job_is_scheduled_then_in_progress_then_completed_and_put_appends(
    mock_server: RunningServer, loopback: Loopback
) -> None:
    headers = auth(mock_server)
    first = httpx.post(
        f"{mock_server.base_url}/v1/process/audio/url",
        json={"url": f"{loopback.url}/a.wav", "name": "hot", "webhookUrl": f"{loopback.url}/hook"},
        headers=headers,
    ).json()
    # The source is held back: the first job is fetching it, so it is in progress.
    assert loopback.asked.wait(JOB_WAIT_S)
    status_becomes(mock_server, headers, first["jobId"], "in_progress")
    wav = (FIXTURES / "hot" / "audio.wav").read_bytes()
    reply = post_file(
        mock_server,
        headers,
        wav,
        path=f"/v1/process/audio/{first['conversationId']}",
        method="PUT",
        webhookUrl=f"{loopback.url}/hook",
    )
    second = reply.json()
    assert second["conversationId"] == first["conversationId"]
    # One job at a time per conversation: the append waits for the first.
    assert job_status(mock_server, headers, second["jobId"])["status"] == "scheduled"
    loopback.release.set()
    assert finished(mock_server, headers, first["jobId"])["status"] == "completed"
    assert finished(mock_server, headers, second["jobId"])["status"] == "completed"
    assert loopback.webhook_calls(4) == [
        {"jobId": first["jobId"], "status": "in_progress"},
        {"jobId": first["jobId"], "status": "completed"},
        {"jobId": second["jobId"], "status": "in_progress"},
        {"jobId": second["jobId"], "status": "completed"},
    ]
    once = texts(streamed(mock_server, "hot"))
    both = messages(mock_server, headers, first["conversationId"])
    assert texts(both) == once + once
    offsets = [m["timeOffset"] for m in both]
    assert offsets == sorted(offsets) and offsets[len(once)] > offsets[len(once) - 1]
    members = httpx.get(
        f"{mock_server.base_url}/v1/conversations/{first['conversationId']}/members",
        headers=headers,
    ).json()["members"]
    assert len(members) == 1


def test_a_recording_answers_the_audio_it_matches_and_a_miss_fails_saying_so() -> None:
    with running_mock(MockConfig(recordings=(FIXTURES / "standup",), seed=5)) as mock:
        headers = auth(mock.server)
        jobs = {
            name: post_file(mock.server, headers, (FIXTURES / name / "audio.wav").read_bytes())
            for name in ("standup", "hot")
        }
        matched = finished(mock.server, headers, jobs["standup"].json()["jobId"])
        assert matched["status"] == "completed"
        found = messages(mock.server, headers, jobs["standup"].json()["conversationId"])
        recorded = read_session(FIXTURES / "standup").messages()
        assert texts(found) == [m["payload"]["content"] for m in recorded]
        missed = finished(mock.server, headers, jobs["hot"].json()["jobId"])
        assert missed["status"] == "failed"
        assert "No recording matches this audio" in missed["message"]


def test_a_local_file_url_is_read(mock_server: RunningServer) -> None:
    headers = auth(mock_server)
    source = (FIXTURES / "hot" / "audio.wav").resolve().as_uri()
    reply = httpx.post(
        f"{mock_server.base_url}/v1/process/video/url",
        json={"url": source, "name": "hot"},
        headers=headers,
    )
    assert finished(mock_server, headers, reply.json()["jobId"])["status"] == "completed"
    assert texts(messages(mock_server, headers, reply.json()["conversationId"]))


@pytest.mark.parametrize(
    ("body", "params", "named"),
    [
        ({"url": "https://example.com/a.wav"}, {}, "not on this machine"),
        ({"url": "ftp://127.0.0.1/a.wav"}, {}, "neither http(s) nor file"),
        ({}, {}, "url: a URL to the file is required"),
        (
            {"url": "http://127.0.0.1:9/a.wav", "webhookUrl": "https://example.com/h"},
            {},
            "webhookUrl",
        ),
        ({"url": "http://127.0.0.1:9/a.wav"}, {"enableSpeakerDiarization": "true"}, "diarization"),
        ({"url": "http://127.0.0.1:9/a.wav", "confidenceThreshold": 2}, {}, "0.5 to 1.0"),
        ({"url": "http://127.0.0.1:9/a.wav", "languageCode": "xx-YY"}, {}, "languageCode"),
        ({"url": "http://127.0.0.1:9/a.wav", "colour": "blue"}, {}, "Unknown parameter 'colour'"),
    ],
)
def test_requests_the_server_cannot_honour_are_refused_with_the_reason(
    mock_server: RunningServer, body: dict[str, Any], params: dict[str, str], named: str
) -> None:
    reply = httpx.post(
        f"{mock_server.base_url}/v1/process/audio/url",
        json=body,
        params=params,
        headers=auth(mock_server),
    )
    assert reply.status_code == 400
    assert named in reply.json()["message"]


def test_a_corrupt_file_fails_its_job_and_an_empty_one_is_refused(
    mock_server: RunningServer,
) -> None:
    headers = auth(mock_server)
    reply = post_file(mock_server, headers, b"RIFF" + bytes(range(256)) * 8)
    job = finished(mock_server, headers, reply.json()["jobId"])
    assert job["status"] == "failed"
    assert "not audio or video that can be decoded" in job["message"]
    silent = io.BytesIO()
    with av.open(silent, mode="w", format="mp4") as box:
        picture = box.add_stream("mpeg4", rate=10)
        picture.width = picture.height = 32
        picture.pix_fmt = "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            box.mux(picture.encode(frame))
        box.mux(picture.encode(None))
    reply = post_file(mock_server, headers, silent.getvalue(), path="/v1/process/video")
    job = finished(mock_server, headers, reply.json()["jobId"])
    assert job["status"] == "failed" and job["message"] == "The file has no audio track."
    empty = post_file(mock_server, headers, b"")
    assert empty.status_code == 400 and "empty" in empty.json()["message"]
    typed = post_file(mock_server, headers, b"RIFF", content_type="application/json")
    assert typed.status_code == 400 and "not audio or video" in typed.json()["message"]
    huge = {"url": "http://127.0.0.1:9/a.wav", "name": "x" * (2 << 20)}
    refused = httpx.post(f"{mock_server.base_url}/v1/process/audio/url", json=huge, headers=headers)
    assert refused.status_code == 413


def test_another_apps_job_and_conversation_are_not_found(mock_server: RunningServer) -> None:
    headers = auth(mock_server)
    wav = (FIXTURES / "hot" / "audio.wav").read_bytes()
    answer = post_file(mock_server, headers, wav, name="hot").json()
    finished(mock_server, headers, answer["jobId"])
    stranger = auth(mock_server, "c" * 64)
    assert (
        httpx.get(f"{mock_server.base_url}/v1/job/{answer['jobId']}", headers=stranger).status_code
        == 404
    )
    path = f"/v1/process/audio/{answer['conversationId']}"
    assert post_file(mock_server, stranger, wav, path=path, method="PUT").status_code == 404


def test_text_messages_become_messages_insights_and_topics(mock_server: RunningServer) -> None:
    headers = auth(mock_server)
    body = {
        "name": "Planning",
        "messages": [
            {
                "payload": {"content": "Can you send me the report by Friday? I will review it."},
                "from": {"name": "John", "userId": "john@example.com"},
                "duration": {
                    "startTime": "2020-07-21T16:04:19.99Z",
                    "endTime": "2020-07-21T16:04:24.99Z",
                },
            },
            {"payload": {"content": "Sure, the report is almost done."}, "from": {"name": "Ann"}},
        ],
    }
    answer = httpx.post(
        f"{mock_server.base_url}/v1/process/text", json=body, headers=headers
    ).json()
    assert finished(mock_server, headers, answer["jobId"])["status"] == "completed"
    conversation = answer["conversationId"]
    found = messages(mock_server, headers, conversation)
    assert texts(found) == [
        "Can you send me the report by Friday?",
        "I will review it.",
        "Sure, the report is almost done.",
    ]
    assert [m["from"]["name"] for m in found] == ["John", "John", "Ann"]
    assert found[0]["startTime"].startswith("2020-07-21T16:04:19.99")
    questions = httpx.get(
        f"{mock_server.base_url}/v1/conversations/{conversation}/questions", headers=headers
    ).json()["questions"]
    assert [q["text"] for q in questions] == ["Can you send me the report by Friday?"]
    topics = httpx.get(
        f"{mock_server.base_url}/v1/conversations/{conversation}/topics", headers=headers
    ).json()["topics"]
    assert any("report" in t["text"] for t in topics)
    more = {"messages": [{"payload": {"content": "Thanks John."}, "from": {"name": "Ann"}}]}
    appended = httpx.put(
        f"{mock_server.base_url}/v1/process/text/{conversation}", json=more, headers=headers
    ).json()
    assert finished(mock_server, headers, appended["jobId"])["status"] == "completed"
    after = messages(mock_server, headers, conversation)
    assert texts(after) == [*texts(found), "Thanks John."]
    assert after[-1]["from"] == found[-1]["from"]
    bad = httpx.post(
        f"{mock_server.base_url}/v1/process/text", json={"messages": []}, headers=headers
    )
    assert bad.status_code == 400 and "messages" in bad.json()["message"]


SERVER_PROCESS = """
import sys
from pathlib import Path
from mock_symbl import MockConfig, running_mock
config = MockConfig(db=Path(sys.argv[1]), transcripts=(Path(sys.argv[2]),))
with running_mock(config) as mock:
    print(mock.base_url, flush=True)
    sys.stdin.read()
"""


def test_a_job_cut_short_by_a_killed_server_reads_failed_and_a_finished_one_keeps_its_status(
    tmp_path: Path, loopback: Loopback
) -> None:
    db = tmp_path / "mock.db"
    with subprocess.Popen(
        [sys.executable, "-c", SERVER_PROCESS, str(db), str(FIXTURES / "hot")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as killed:
        assert killed.stdout is not None
        base_url = killed.stdout.readline().strip()
        host, port = base_url.removeprefix("http://").rsplit(":", 1)
        mock = RunningServer(host, int(port))
        headers = auth(mock)
        wav = (FIXTURES / "hot" / "audio.wav").read_bytes()
        done = post_file(mock, headers, wav, name="hot").json()["jobId"]
        assert finished(mock, headers, done)["status"] == "completed"
        cut = httpx.post(
            f"{mock.base_url}/v1/process/audio/url",
            json={"url": f"{loopback.url}/a.wav"},
            headers=headers,
        ).json()["jobId"]
        assert loopback.asked.wait(JOB_WAIT_S)
        status_becomes(mock, headers, cut, "in_progress")
        killed.kill()
    with running_mock(MockConfig(db=db)) as again:
        headers = auth(again.server)
        assert job_status(again.server, headers, done)["status"] == "completed"
        job = job_status(again.server, headers, cut)
        assert job["status"] == "failed" and "stopped before this job finished" in job["message"]


def test_the_confidence_threshold_keeps_only_the_insights_and_topics_above_it(
    mock_server: RunningServer,
) -> None:
    headers = auth(mock_server)
    base = mock_server.base_url
    said = {"payload": {"content": "Can you send me the report by Friday? Please check it."}}

    def insights(**threshold: float) -> dict[str, list[tuple[str, float]]]:
        body = {"messages": [said], **threshold}
        answer = httpx.post(f"{base}/v1/process/text", json=body, headers=headers).json()
        assert finished(mock_server, headers, answer["jobId"])["status"] == "completed"
        path = f"{base}/v1/conversations/{answer['conversationId']}"
        found = {}
        for route, key in (("questions", "questions"), ("action-items", "actionItems")):
            items = httpx.get(f"{path}/{route}", headers=headers).json()[key]
            found[key] = [(i["text"], i["score"]) for i in items]
        topics = httpx.get(f"{path}/topics", headers=headers).json()["topics"]
        found["topics"] = [(t["text"], t["score"]) for t in topics]
        return found

    everything = insights()
    assert everything["actionItems"] and all(s < 0.9 for _, s in everything["actionItems"])
    kept = insights(confidenceThreshold=0.9)
    assert kept["questions"] == [("Can you send me the report by Friday?", 0.95)]
    assert kept["actionItems"] == []
    assert kept["topics"] == [t for t in everything["topics"] if t[1] >= 0.9]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        # The Python SDK json-dumps a list, then sends it one character per parameter.
        (list(json.dumps(["Platform", "Discussion"])), ("Platform", "Discussion")),
        (['["Platform", "Discussion"]'], ("Platform", "Discussion")),
        (["Platform", "Discussion"], ("Platform", "Discussion")),
        ([["Platform", "Discussion"]], ("Platform", "Discussion")),
    ],
)
def test_custom_vocabulary_is_read_in_every_form_clients_send(
    given: list[Any], words: tuple[str, ...]
) -> None:
    assert job_options({"customVocabulary": given}).custom_vocabulary == words


def test_a_finished_job_never_moves_again() -> None:
    assert next_status(JobStatus.SCHEDULED, JobStatus.IN_PROGRESS) is JobStatus.IN_PROGRESS
    assert next_status(JobStatus.SCHEDULED, JobStatus.FAILED) is JobStatus.FAILED
    for done in (JobStatus.COMPLETED, JobStatus.FAILED):
        for status in JobStatus:
            with pytest.raises(JobFailedError):
                next_status(done, status)
    with pytest.raises(JobFailedError):
        next_status(JobStatus.SCHEDULED, JobStatus.COMPLETED)


@pytest.mark.parametrize(
    ("url", "fetched"),
    [
        ("http://127.0.0.1:8080/a.wav", True),
        ("https://localhost/a.mp3", True),
        ("http://[::1]:9000/a.wav", True),
        ("http://127.0.0.2/a.wav", True),
        ("file:///tmp/a.wav", True),
        ("https://example.com/a.wav", False),
        ("http://10.0.0.1/a.wav", False),
        ("http://127.0.0.1.example.com/a.wav", False),
        ("file://server/share/a.wav", False),
        ("s3://bucket/a.wav", False),
    ],
)
def test_only_sources_on_this_machine_are_fetched(url: str, fetched: bool) -> None:
    if fetched:
        assert media_source(url) == url
    else:
        with pytest.raises(JobRequestError):
            media_source(url)


def test_a_conversation_still_streaming_takes_no_append(mock_server: RunningServer) -> None:
    headers = auth(mock_server)
    wav = (FIXTURES / "hot" / "audio.wav").read_bytes()
    url = f"{mock_server.streaming_url('hot')}?access_token={token(mock_server.base_url)}"

    async def append_while_streaming() -> httpx.Response:
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps(start_request(48000)))
            while True:
                message = json.loads(await socket.recv())
                if message.get("message", {}).get("type") == "conversation_created":
                    live = message["message"]["data"]["conversationId"]
                    break
            path = f"/v1/process/audio/{live}"
            async with httpx.AsyncClient() as client:
                return await client.put(
                    f"{mock_server.base_url}{path}",
                    content=wav,
                    headers={**headers, "Content-Type": "audio/wav"},
                )

    reply = asyncio.run(append_while_streaming())
    assert reply.status_code == 400 and "still streaming" in reply.json()["message"]


def test_trackers_given_the_apps_own_and_entities_are_found_in_a_text_job(
    mock_server: RunningServer,
) -> None:
    headers = auth(mock_server)
    base = mock_server.base_url
    created = httpx.post(
        f"{base}/v1/manage/tracker",
        json={"name": "Async deadline", "vocabulary": ["by Friday"]},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    body = {
        "messages": [
            {
                "payload": {"content": "Can you send me the report by Friday?"},
                "from": {"name": "Jo"},
            }
        ],
        "trackers": [{"name": "Reports", "vocabulary": ["report"]}],
        "enableAllTrackers": True,
        "detectEntities": True,
    }
    answer = httpx.post(f"{base}/v1/process/text", json=body, headers=headers).json()
    assert finished(mock_server, headers, answer["jobId"])["status"] == "completed"
    found = httpx.get(
        f"{base}/v1/conversations/{answer['conversationId']}/trackers", headers=headers
    ).json()
    by_name = {t["name"]: t for t in found}
    assert set(by_name) == {"Reports", "Async deadline"}
    assert by_name["Reports"]["matches"][0]["value"] == "report"
    entities = httpx.get(
        f"{base}/v1/conversations/{answer['conversationId']}/entities", headers=headers
    ).json()["entities"]
    assert any(e["type"] == "date" and e["text"] == "Friday" for e in entities), entities
    bad = {**body, "trackers": [{"name": "Empty", "vocabulary": []}]}
    refused = httpx.post(f"{base}/v1/process/text", json=bad, headers=headers)
    assert refused.status_code == 400
    assert "trackers[0].vocabulary" in refused.json()["message"]
    httpx.delete(f"{base}/v1/manage/tracker/{created.json()['tracker']['id']}", headers=headers)

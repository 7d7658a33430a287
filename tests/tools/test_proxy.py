"""The recording proxy: any client through it to the mock, every session recorded, no secrets."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from harness.client.session import Stream, frames_of, run_session
from harness.protocol import StartRequest
from harness.serve import RunningServer, running
from harness.session_folder.log import ErrorRecord, TextFrame, read_session
from harness.session_folder.tape import safe_name
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from harness.tools.proxy import REST_LOG, create_proxy
from mock_symbl import MockConfig, running_mock

from helpers import (
    APP_ID,
    APP_SECRET,
    FIXTURES,
    conversation_id,
    kind,
    start_request,
    stream_session,
)


@given(st.text(), st.sets(st.text(max_size=5), max_size=5))
def test_folder_names_are_one_safe_new_path_component(connection_id: str, taken: set[str]) -> None:
    name = safe_name(connection_id, taken.__contains__)
    assert name not in taken
    assert name not in ("", ".", "..")
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert re.fullmatch(r"[A-Za-z0-9._=-]+", name)


def test_traversal_and_collisions() -> None:
    assert safe_name("../../etc/passwd", lambda _: False) == "_.._etc_passwd"
    assert safe_name("meeting", {"meeting", "meeting-2"}.__contains__) == "meeting-3"


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer, Path]]:
    transcripts = tuple(sorted(p for p in FIXTURES.iterdir() if p.is_dir()))
    with running_mock(MockConfig(transcripts=transcripts)) as mock:
        out = tmp_path / "recordings"
        out.mkdir()
        with running(create_proxy(mock.base_url, out)) as proxy:
            yield mock, proxy, out


def token_through(proxy: RunningServer) -> str:
    reply = httpx.post(
        f"{proxy.base_url}/oauth2/token:generate",
        json={"type": "application", "appId": APP_ID, "appSecret": APP_SECRET},
    )
    assert reply.status_code == 200
    return str(reply.json()["accessToken"])


def everything_written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_our_client_through_the_proxy(proxied: tuple[RunningServer, RunningServer, Path]) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    start = StartRequest(sample_rate_hertz=16000, insight_types=("question",), sentiment=True)
    url = f"{proxy.ws_url}/v1/streaming/standup?access_token={access}"
    result = asyncio.run(
        run_session(url, Stream(start, frames_of(audio.samples, 1024), speed=None))
    )
    phrases = read_transcript(FIXTURES / "standup" / "transcript.json").phrases
    assert result.final_transcripts == [p.text.replace(",", "") for p in phrases]
    assert result.close_code == 1000
    log = read_session(out / "standup")
    assert log.complete
    assert np.array_equal(log.audio, audio.samples)
    assert len(log.received()) == len(result.events)
    reply = httpx.get(
        f"{proxy.base_url}/v1/conversations/{result.conversation_id}/messages?sentiment=true",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert len(reply.json()["messages"]) == len(phrases)
    (call,) = [json.loads(line) for line in (out / "standup" / REST_LOG).read_text().splitlines()]
    assert (call["status"], call["query"]) == (200, "sentiment=true")
    assert len(call["response"]["messages"]) == len(phrases)
    written = everything_written(out)
    assert access.encode() not in written
    assert APP_SECRET.encode() not in written


SEED_CLIENT = """
import asyncio, base64, json, sys, websockets, numpy as np, soundfile as sf
url, wav = sys.argv[1], sys.argv[2]
async def main():
    audio, rate = sf.read(wav, dtype="int16")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "start_request", "meetingTitle": "Websockets How-to",
            "insightTypes": ["question", "action_item"],
            "config": {"confidenceThreshold": 0.5, "languageCode": "en-US",
                       "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 44100}},
            "speaker": {"userId": "example@symbl.ai", "name": "Example Sample"}}))
        for i in range(0, audio.size, 1024):
            await ws.send(audio[i:i + 1024].astype("<i2").tobytes())
        await ws.send(json.dumps({"type": "stop_request"}))
        async for message in ws:
            print(message)
asyncio.run(main())
"""


def test_a_client_that_is_not_ours_through_the_proxy(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)
    connection = base64.b64encode(b"user@example.com").decode()
    url = f"{proxy.ws_url}/v1/streaming/{connection}?access_token={access}"
    wav = FIXTURES / "feedback" / "audio.wav"
    client = subprocess.run(
        [sys.executable, "-c", SEED_CLIENT, url, str(wav)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    received = [json.loads(line) for line in client.stdout.splitlines()]
    assert [kind(m) for m in received[-2:]] == ["conversation_completed", "recognition_stopped"]
    (folder,) = list(out.iterdir())
    assert folder.name == connection
    log = read_session(folder)
    assert log.complete
    assert log.sample_rate == 44100
    assert np.array_equal(log.audio, read_pcm16(wav).samples)
    assert [frame.data for frame in log.received()] == received
    sent = [r for r in log.records if isinstance(r, TextFrame) and r.direction == "send"]
    assert sent[0].data["meetingTitle"] == "Websockets How-to"
    assert access.encode() not in everything_written(out)


def test_the_token_as_subprotocol_is_passed_and_echoed(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)

    async def connect() -> str | None:
        async with websockets.connect(
            f"{proxy.ws_url}/v1/realtime/insights/sub",
            subprotocols=[websockets.Subprotocol(access)],
        ) as socket:
            await socket.send(json.dumps({"type": "start_request"}))
            first = json.loads(await socket.recv())
            assert kind(first) == "conversation_created"
            return socket.subprotocol

    assert asyncio.run(connect()) == access
    assert access.encode() not in everything_written(out)


def test_a_refused_token_is_refused_by_the_proxy_too(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied

    async def connect() -> None:
        async with websockets.connect(f"{proxy.ws_url}/v1/streaming/x?access_token=forged"):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 401
    assert list(out.iterdir()) == []


def test_two_connections_with_one_id_get_two_folders(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples[:4800]
    start = StartRequest(sample_rate_hertz=48000)
    url = f"{proxy.ws_url}/v1/streaming/same?access_token={access}"
    for _ in range(2):
        asyncio.run(run_session(url, Stream(start, frames_of(audio, 1024), speed=None)))
    assert sorted(p.name for p in out.iterdir()) == ["same", "same-2"]


def test_the_proxy_command(tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "proxy",
            "--mock",
            "--listen",
            "127.0.0.1:0",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as command:
        assert command.stdout is not None
        rest = command.stdout.readline().split()[1]
        proxy = RunningServer("127.0.0.1", int(rest.rsplit(":", 1)[1]))
        access = token_through(proxy)
        audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples[:48000]
        url = f"{proxy.ws_url}/v1/streaming/cli?access_token={access}"
        result = asyncio.run(
            run_session(
                url, Stream(StartRequest(sample_rate_hertz=48000), frames_of(audio, 1024), None)
            )
        )
        assert result.close_code == 1000
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=30)
    assert command.returncode == 0
    assert "stopped by SIGINT" in err
    assert read_session(out / "cli").complete


# The proxy command with every file it writes capped at FSIZE_LIMIT bytes: a disk that fills
# up, for real, wherever the tests run (no mount, no privilege needed). Python ignores the
# SIGXFSZ this raises, so the write that crosses the cap fails with EFBIG.
FSIZE_LIMIT = 64 * 1024
CAPPED_PROXY = """
import resource, runpy, sys
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
runpy.run_module("harness.cli", run_name="__main__")
"""


def test_a_full_disk_stops_the_recording_not_the_session(tmp_path: Path) -> None:
    out = tmp_path / "recordings"
    proxy_args = ["proxy", "--mock", "--listen", "127.0.0.1:0", "--out", str(out)]
    with subprocess.Popen(
        [sys.executable, "-c", CAPPED_PROXY, str(FSIZE_LIMIT), *proxy_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as command:
        assert command.stdout is not None
        rest = command.stdout.readline().split()[1]
        proxy = RunningServer("127.0.0.1", int(rest.rsplit(":", 1)[1]))
        access = token_through(proxy)
        audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples
        assert audio.nbytes > 2 * FSIZE_LIMIT
        url = f"{proxy.ws_url}/v1/streaming/full?access_token={access}"
        received, code, _ = asyncio.run(stream_session(url, start_request(48000), audio))
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=30)
    # The client was served to the end, as if nothing had happened.
    assert code == 1000
    assert [kind(m) for m in received[-2:]] == ["conversation_completed", "recognition_stopped"]
    assert any(kind(m) == "recognition_result" and m["message"]["isFinal"] for m in received)
    # One line says what happened; no traceback.
    errors = [line for line in err.splitlines() if line.startswith("proxy:")]
    assert len(errors) == 1
    assert "full" in errors[0]
    assert "File too large" in errors[0]
    assert "incomplete" in errors[0]
    assert "Traceback" not in err
    # What reached the disk is kept, and reads as an interrupted recording.
    log = read_session(out / "full")
    assert not log.complete
    assert any("interrupted" in problem for problem in log.problems)
    assert 0 < log.audio.size < audio.size
    assert np.array_equal(log.audio, audio[: log.audio.size])
    sent = [r for r in log.records if isinstance(r, TextFrame) and r.direction == "send"]
    assert sent[0].data["type"] == "start_request"
    assert access.encode() not in everything_written(out)


def test_a_percent_encoded_token_key_is_redacted_from_every_log(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples[:4800]
    url = f"{proxy.ws_url}/v1/streaming/encoded?access%5Ftoken={access}"
    received, code, _ = asyncio.run(stream_session(url, start_request(48000), audio))
    assert code == 1000
    reply = httpx.get(
        f"{proxy.base_url}/v1/conversations/{conversation_id(received)}?%61ccess%5ftoken={access}",
        headers={"x-api-key": access},
    )
    assert reply.status_code == 200
    assert (out / "encoded" / REST_LOG).is_file()
    assert access.encode() not in everything_written(out)


def test_what_one_log_learns_is_redacted_from_all(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    # The app secret is only ever seen keyed in the token request, the token only keyed
    # in the streaming URL; the meeting title then carries both where no key names them.
    access = token_through(proxy)
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples[:4800]
    start = start_request(48000, meetingTitle=f"notes {APP_SECRET} {access}")
    url = f"{proxy.ws_url}/v1/streaming/shared?access_token={access}"
    received, code, _ = asyncio.run(stream_session(url, start, audio))
    assert code == 1000
    reply = httpx.get(
        f"{proxy.base_url}/v1/conversations/{conversation_id(received)}",
        headers={"x-api-key": access},
    )
    assert reply.json()["name"] == f"notes {APP_SECRET} {access}"
    (call,) = [json.loads(line) for line in (out / "shared" / REST_LOG).read_text().splitlines()]
    assert call["response"]["name"] == "notes REDACTED REDACTED"
    written = everything_written(out)
    assert access.encode() not in written
    assert APP_SECRET.encode() not in written


@pytest.mark.parametrize(("connection_id", "folder"), [("a%20b", "a_b"), ("a%00b", "a_b")])
def test_an_escaped_connection_id_is_forwarded_as_sent(
    proxied: tuple[RunningServer, RunningServer, Path], connection_id: str, folder: str
) -> None:
    mock, proxy, out = proxied
    access = token_through(proxy)
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples[:4800]

    def session(base: str) -> list[dict[str, Any]]:
        url = f"{base}/v1/streaming/{connection_id}?access_token={access}"
        received, code, _ = asyncio.run(stream_session(url, start_request(48000), audio))
        assert code == 1000
        return received

    direct, proxied_kinds = session(mock.ws_url), session(proxy.ws_url)
    assert [kind(m) for m in proxied_kinds] == [kind(m) for m in direct]
    assert [p.name for p in out.iterdir()] == [folder]
    assert read_session(out / folder).complete


def test_an_impossible_sample_rate_is_refused_and_the_folder_stays_readable(
    proxied: tuple[RunningServer, RunningServer, Path],
) -> None:
    _, proxy, out = proxied
    access = token_through(proxy)
    start = {
        "type": "start_request",
        "config": {"speechRecognition": {"encoding": "FLAC", "sampleRateHertz": 2**32}},
    }

    async def session() -> dict[str, Any]:
        url = f"{proxy.ws_url}/v1/streaming/huge?access_token={access}"
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps(start))
            await socket.send(bytes(2048))
            return dict(json.loads(await socket.recv()))

    answer = asyncio.run(session())
    assert kind(answer) == "error"
    assert "4294967296 Hz" in answer["message"]["details"]
    log = read_session(out / "huge")
    assert log.sample_rate == 2**32
    assert not (out / "huge" / "audio.wav").exists()
    assert any("4294967296 Hz cannot be written to a WAV" in p for p in log.problems)
    # The frame keeps its record; zeros are no FLAC stream, which the log says where it was.
    assert [f.samples for f in log.audio_frames()] == [0]
    assert log.header["wire_encoding"] == "FLAC"
    assert any(isinstance(r, ErrorRecord) and "not a FLAC stream" in r.message for r in log.records)

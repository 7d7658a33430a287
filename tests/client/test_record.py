"""`symbl-harness record` from files, against the mock and against servers that misbehave."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

from harness.session_folder.log import read_session
from harness.session_folder.wavfile import read_pcm16

from helpers import FIXTURES

RECORD = [sys.executable, "-m", "harness.cli", "record"]


def run_record(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RECORD, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_record_each_fixture_file_against_the_mock(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    # Sent at once, a minute of audio leaves the asr engine a backlog that a busy machine
    # works off in well over the default 30 s: what is checked here is what is recorded.
    done = run_record(
        str(out),
        "--file",
        str(FIXTURES / name / "audio.wav"),
        "--mock",
        "--as-fast-as-possible",
        "--stop-timeout",
        "600",
    )
    assert done.returncode == 0, done.stderr
    # The line that says what was recorded comes after the mock's one-line notices, and
    # before the note that speech recognition answered it.
    *_, said, note = done.stderr.splitlines()
    assert said.startswith(f"recorded {out}")
    assert note.endswith("its text is not a baseline")
    assert "Traceback" not in done.stderr
    log = read_session(out)
    assert log.complete
    assert log.problems == ()
    fixture = read_pcm16(FIXTURES / name / "audio.wav")
    assert log.sample_rate == fixture.sample_rate
    assert np.array_equal(log.audio, fixture.samples)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "conversation_created"
    assert [e["type"] for e in events[-2:]] == ["conversation_completed", "recognition_stopped"]
    conversation = json.loads((out / "conversation.json").read_text())
    # What the conversation API kept is what was streamed (how well the engine heard the
    # speech is the engine tests' business: a busy machine makes the asr engine shed work).
    streamed = [
        m for e in events if e["type"] == "message_response" for m in e["event"]["messages"]
    ]
    assert conversation["messages"]
    assert [m["id"] for m in conversation["messages"]] == [m["id"] for m in streamed]
    assert all("sentiment" in m for m in conversation["messages"])
    assert set(conversation) >= {"messages", "topics", "questions", "actionItems", "followUps"}
    everything = written(out)
    assert b"access_token=REDACTED" in everything
    assert b"eyJ" not in everything  # no JWT anywhere


def test_a_file_resampled_to_the_requested_rate(tmp_path: Path) -> None:
    out = tmp_path / "resampled"
    done = run_record(
        str(out),
        "--file",
        str(FIXTURES / "hot" / "audio.wav"),
        "--mock",
        "--rate",
        "16000",
        "--as-fast-as-possible",
        "--duration",
        "2",
    )
    assert done.returncode == 0, done.stderr
    log = read_session(out)
    assert log.sample_rate == 16000
    assert log.audio.size == 32000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "{notaudio}", "--mock"], "is not audio"),
        (["--mic", "no-such-device", "--mock"], "no-such-device"),
        (["--file", "{wav}", "--endpoint", "ws://127.0.0.1:1"], "cannot"),
        (["--file", "{wav}", "--endpoint", "not a url"], "not an endpoint URL"),
        (["--file", "{wav}"], "exactly one of --endpoint URL or --mock"),
    ],
)
def test_bad_input_gives_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], message: str
) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are not samples")
    filled = [a.format(notaudio=not_audio, wav=FIXTURES / "hot" / "audio.wav") for a in args]
    done = run_record(
        str(tmp_path / "out"), *filled, env={"SYMBL_ACCESS_TOKEN": "t0ken-for-tests-123"}
    )
    assert done.returncode != 0
    # One line names the problem (Click puts its usage lines above a usage error).
    assert message in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr


class MisbehavingServer:
    """A WebSocket server on loopback that counts audio and misbehaves as told."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.audio_bytes = 0
        self.ready = threading.Event()
        self.port = 0
        self._stop: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _handle(self, connection: ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._serve(connection)

    async def _serve(self, connection: ServerConnection) -> None:
        async for message in connection:
            if isinstance(message, bytes):
                self.audio_bytes += len(message)
                if self.behaviour == "drop" and self.audio_bytes > 20 * 2048:
                    await connection.close(1011, "internal error")
                    return
            elif self.behaviour != "silent":
                await connection.send(
                    json.dumps({"type": "message", "message": {"type": "started_listening"}})
                )

    async def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        if self.behaviour == "refuse":
            return connection.respond(401, "Token validation failed for provided token.\n")
        return None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            await self._stop

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


def test_a_refused_token_is_one_line_and_logged(tmp_path: Path) -> None:
    with MisbehavingServer("refuse") as server:
        done = run_record(
            str(tmp_path / "out"),
            "--file",
            str(FIXTURES / "hot" / "audio.wav"),
            "--endpoint",
            f"ws://127.0.0.1:{server.port}",
            env={"SYMBL_ACCESS_TOKEN": "secret-token-0123456789"},
        )
    assert done.returncode == 1
    assert "HTTP 401" in done.stderr
    log = read_session(tmp_path / "out")
    assert b"secret-token-0123456789" not in written(tmp_path / "out")
    assert log.complete


def test_a_server_that_drops_mid_stream_leaves_the_prefix(tmp_path: Path) -> None:
    with MisbehavingServer("drop") as server:
        done = run_record(
            str(tmp_path / "out"),
            "--file",
            str(FIXTURES / "standup" / "audio.wav"),
            "--endpoint",
            f"ws://127.0.0.1:{server.port}",
            "--as-fast-as-possible",
            env={"SYMBL_ACCESS_TOKEN": "secret-token-0123456789"},
        )
        received = server.audio_bytes
    assert done.returncode == 1
    assert "1011" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    log = read_session(tmp_path / "out")
    assert log.audio.size * 2 >= received
    assert log.audio.size < read_pcm16(FIXTURES / "standup" / "audio.wav").samples.size


@pytest.fixture
def slow_server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer("silent") as server:
        yield server


def start_recorder(out: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *RECORD,
            str(out),
            "--file",
            str(FIXTURES / "support-call" / "audio.wav"),
            "--endpoint",
            f"ws://127.0.0.1:{port}",
            "--stop-timeout",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SYMBL_ACCESS_TOKEN": "secret-token-0123456789"},
    )


def wait_for_audio(out: Path, frames: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = out / "events.jsonl"
        if events.exists() and events.read_text().count('"kind":"audio"') >= frames:
            return
        time.sleep(0.05)
    raise AssertionError("the recorder sent no audio")


def test_kill_9_keeps_every_event_and_nearly_all_audio(
    tmp_path: Path, slow_server: MisbehavingServer
) -> None:
    out = tmp_path / "out"
    recorder = start_recorder(out, slow_server.port)
    wait_for_audio(out, 40)
    recorder.send_signal(signal.SIGKILL)
    recorder.communicate()
    time.sleep(0.3)
    log = read_session(out)
    assert not log.complete
    sent_samples = slow_server.audio_bytes // 2
    # The frame in flight when the process died may be missing from the log; no more.
    assert 0 <= sent_samples - log.audio.size <= 1024
    assert b"secret-token-0123456789" not in written(out)


def test_ctrl_c_stops_cleanly_and_twice_aborts(
    tmp_path: Path, slow_server: MisbehavingServer
) -> None:
    once = start_recorder(tmp_path / "once", slow_server.port)
    wait_for_audio(tmp_path / "once", 20)
    once.send_signal(signal.SIGINT)
    _, err = once.communicate(timeout=30)
    # The silent server never closes: the stop waits --stop-timeout, then gives up.
    assert once.returncode == 1
    assert "no close within 2 s" in err
    log = read_session(tmp_path / "once")
    assert log.complete
    assert any(getattr(r, "data", None) == {"type": "stop_request"} for r in log.records)

    twice = start_recorder(tmp_path / "twice", slow_server.port)
    wait_for_audio(tmp_path / "twice", 20)
    twice.send_signal(signal.SIGINT)
    time.sleep(0.2)
    twice.send_signal(signal.SIGINT)
    _, err = twice.communicate(timeout=30)
    assert twice.returncode == 130
    assert err.strip().splitlines()[-1].startswith("error: aborted by a second Ctrl-C")
    assert read_session(tmp_path / "twice").audio.size > 0

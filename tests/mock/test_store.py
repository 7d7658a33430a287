"""The store on a database file: conversations of a killed server are ended on the next
start, those of a live server sharing the file are not."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock
from mock_symbl.store import Conversation, Store

from helpers import FIXTURES, kind, start_request, token


@contextmanager
def mock_process(db: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`symbl-harness mock` on `db` in its own process, and its REST base URL."""
    with subprocess.Popen(
        [
            *(sys.executable, "-m", "harness.cli", "mock", "--port", "0", "--db", str(db)),
            *("--engine", "transcript", "--transcript", str(FIXTURES / "hot")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        base_url = process.stdout.readline().split()[1]
        try:
            yield process, base_url
        finally:
            process.kill()


def streaming(base_url: str, access: str) -> ClientConnection:
    return connect(f"ws{base_url[4:]}/v1/streaming/hot?access_token={access}", max_size=None)


def until_a_message_is_stored(socket: ClientConnection) -> str:
    """Stream until the server has stored a message, leaving the session open; its id."""
    socket.send(json.dumps(start_request(48000)))
    audio = read_pcm16(FIXTURES / "hot" / "audio.wav").samples.astype("<i2")
    for offset in range(0, audio.size, 4096):
        socket.send(audio[offset : offset + 4096].tobytes())
    conversation = ""
    while True:
        message: dict[str, Any] = json.loads(socket.recv())
        if kind(message) == "conversation_created":
            conversation = message["message"]["data"]["conversationId"]
        # The server stores a message before it sends its message_response.
        if message["type"] == "message_response":
            return conversation


def conversation(base_url: str, access: str, conversation_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {access}"}
    url = f"{base_url}/v1/conversations/{conversation_id}"
    found = httpx.get(url, headers=headers).json()
    found["messages"] = httpx.get(f"{url}/messages", headers=headers).json()["messages"]
    return dict(found)


def test_a_killed_servers_conversations_end_on_restart_a_live_ones_do_not(
    tmp_path: Path,
) -> None:
    db = tmp_path / "mock.db"
    with mock_process(db) as (live, live_url), mock_process(db) as (doomed, doomed_url):
        access = token(live_url)
        with streaming(live_url, access) as live_socket, streaming(doomed_url, access) as cut_one:
            kept = until_a_message_is_stored(live_socket)
            cut = until_a_message_is_stored(cut_one)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            with running_mock(MockConfig(db=db)) as restarted:
                ended = conversation(restarted.base_url, access, cut)
                still_open = conversation(restarted.base_url, access, kept)
            assert live.poll() is None
    assert ended["messages"]
    assert ended["endTime"] == ended["messages"][-1]["endTime"]
    assert still_open["messages"]
    assert still_open["endTime"] is None


def test_an_abandoned_conversation_without_messages_ends_at_its_start(tmp_path: Path) -> None:
    db = tmp_path / "mock.db"
    gone = Store(db)
    gone.create_conversation(
        Conversation("c1", "app", "conn", None, "2026-01-01T00:00:00.000Z", None)
    )
    gone.close()
    assert Store(db).end_abandoned() == ["c1"]
    found = Store(db).conversation("c1", "app")
    assert found is not None
    assert found.end_time == "2026-01-01T00:00:00.000Z"


def test_a_store_that_is_open_keeps_its_conversations(tmp_path: Path) -> None:
    db = tmp_path / "mock.db"
    serving = Store(db)
    serving.create_conversation(
        Conversation("c1", "app", "conn", None, "2026-01-01T00:00:00.000Z", None)
    )
    assert Store(db).end_abandoned() == []

"""Hostile clients cannot take the server, or a well-behaved session beside them, down."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.serve import RunningServer
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES, kind, start_request, stream_session, token


class GoodSessions(threading.Thread):
    """Runs complete sessions of the `hot` fixture, one after another, until stopped."""

    def __init__(self, mock: RunningServer) -> None:
        super().__init__(daemon=True)
        self.mock = mock
        self.finished = threading.Event()
        self.results: list[tuple[list[dict[str, Any]], int | None]] = []
        self.failures: list[BaseException] = []

    def run(self) -> None:
        audio = read_pcm16(FIXTURES / "hot" / "audio.wav")
        url = f"{self.mock.ws_url}/v1/streaming/hot?access_token={token(self.mock.base_url)}"
        while not self.finished.is_set():
            try:
                messages, code, _ = asyncio.run(
                    stream_session(url, start_request(audio.sample_rate), audio.samples)
                )
                self.results.append((messages, code))
            except Exception as error:
                self.failures.append(error)
                return


@pytest.fixture(scope="module")
def busy_mock() -> Iterator[tuple[RunningServer, GoodSessions]]:
    with running_mock(MockConfig(transcripts=(FIXTURES / "hot",), seed=5)) as mock:
        good = GoodSessions(mock)
        good.start()
        yield mock, good
        good.finished.set()
        good.join(timeout=120)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
starts = st.builds(
    lambda encoding, rate, threshold, insights: {
        "type": "start_request",
        "insightTypes": insights,
        "config": {
            "confidenceThreshold": threshold,
            "speechRecognition": {"encoding": encoding, "sampleRateHertz": rate},
        },
    },
    st.sampled_from(["LINEAR16", "MULAW", "FLAC", "Opus", "mp3", 7]),
    st.sampled_from([8000, 16000, 44100, 48000, 0, -1, 10**9, "fast"]),
    st.sampled_from([0.5, 0.99, 2, "x", None]),
    st.sampled_from([["question"], [], "all", [1]]),
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.text(max_size=100)),
        st.tuples(st.just("json"), json_values),
        st.tuples(st.just("json"), starts),
        st.tuples(st.just("json"), st.just({"type": "stop_request"})),
        st.tuples(
            st.just("json"),
            st.just({"type": "modify_request", "speechRecognition": {"sampleRateHertz": 8000}}),
        ),
        st.tuples(st.just("binary"), st.integers(0, 20000)),
        st.tuples(st.just("text"), st.just("__PING__")),
    ),
    max_size=12,
)


async def hostile(
    mock: RunningServer, access: str, connection: str, plan: list[Any], ending: str
) -> None:
    url = f"{mock.ws_url}/v1/streaming/{connection}"
    if access:
        url += f"?access_token={access}"
    try:
        async with websockets.connect(url, max_size=None, open_timeout=10) as socket:
            for action, value in plan:
                if action == "text":
                    await socket.send(value)
                elif action == "json":
                    await socket.send(json.dumps(value))
                else:
                    await socket.send(bytes(range(256)) * (value // 256) + bytes(value % 256))
            if ending == "abort":
                socket.transport.abort()
            elif ending == "read":
                await socket.send(json.dumps({"type": "stop_request"}))
                try:
                    async with asyncio.timeout(1):
                        async for _ in socket:
                            pass
                except TimeoutError:
                    pass
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 401
        assert not access or access == "forged"
    except websockets.ConnectionClosed:
        pass


# Each example opens real sockets; 200 of them give every action many orders in CI.
@settings(max_examples=min(settings().max_examples, 200))
@given(
    plan=actions,
    access=st.sampled_from(["good", "forged", ""]),
    connection=st.sampled_from(["hot", "hot", "hot", "noise"]),
    ending=st.sampled_from(["close", "abort", "read"]),
)
def test_hostile_clients_leave_the_server_and_other_sessions_intact(
    busy_mock: tuple[RunningServer, GoodSessions],
    plan: list[Any],
    access: str,
    connection: str,
    ending: str,
) -> None:
    mock, good = busy_mock
    credential = {"good": token(mock.base_url), "forged": "forged", "": ""}[access]
    asyncio.run(hostile(mock, credential, connection, plan, ending))
    assert httpx.get(mock.base_url + "/", timeout=10).status_code == 200
    assert not good.failures


def test_the_good_sessions_beside_them_were_complete_and_correct(
    busy_mock: tuple[RunningServer, GoodSessions],
) -> None:
    _, good = busy_mock
    good.finished.set()
    good.join(timeout=120)
    assert not good.failures
    assert good.results, "no good session ran beside the hostile clients"
    expected = [
        p.text.replace(",", "")
        for p in read_transcript(FIXTURES / "hot" / "transcript.json").phrases
    ]
    for messages, code in good.results:
        assert code == 1000
        kinds = [kind(m) for m in messages]
        assert kinds[:3] == ["conversation_created", "started_listening", "recognition_started"]
        assert kinds[-2:] == ["conversation_completed", "recognition_stopped"]
        finals = [
            m["payload"]["content"]
            for r in messages
            if kind(r) == "message_response"
            for m in r["messages"]
        ]
        assert finals == expected


def test_a_client_that_never_reads_is_let_go_and_holds_up_nobody() -> None:
    config = MockConfig(transcripts=(FIXTURES / "hot",), send_timeout_s=0.5)
    with running_mock(config) as mock:
        access = token(mock.base_url)
        audio = read_pcm16(FIXTURES / "hot" / "audio.wav")

        async def ended(conversation: str) -> bool:
            url = f"{mock.base_url}/v1/conversations/{conversation}"
            async with httpx.AsyncClient() as client:
                # The give-up waits for the sleeper's replies to pile up: slow on a busy machine.
                for _ in range(600):
                    reply = await client.get(url, headers={"Authorization": f"Bearer {access}"})
                    if reply.json()["endTime"] is not None:
                        return True
                    await asyncio.sleep(0.1)
            return False

        async def scenario() -> tuple[bool, list[dict[str, Any]]]:
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect((mock.server.host, mock.server.port))
            url = f"{mock.ws_url}/v1/streaming/sleeper?access_token={access}"
            async with websockets.connect(url, sock=raw, max_queue=1) as sleeper:
                await sleeper.send(json.dumps(start_request(16000)))
                created = json.loads(await sleeper.recv())
                for _ in range(100_000):
                    await sleeper.send("__PING__")
                # While the server's replies to the sleeper pile up, a good session runs
                # to its end (a server held up by the sleeper would never end it).
                good_url = f"{mock.ws_url}/v1/streaming/hot?access_token={access}"
                messages, code, _ = await stream_session(
                    good_url, start_request(audio.sample_rate), audio.samples
                )
                assert code == 1000
                # The sleeper is still connected: only the server can have ended its session.
                let_go = await ended(str(created["message"]["data"]["conversationId"]))
                sleeper.transport.abort()
            return let_go, messages

        let_go, messages = asyncio.run(scenario())
        assert [kind(m) for m in messages][-2:] == ["conversation_completed", "recognition_stopped"]
        assert let_go

"""Connections before the app sees them: slow heads are cut off, over-long handshakes and
bad UTF-8 get a clear answer, and refusals leave no noise in the server's log."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
import websockets

from mock_symbl import MockConfig, RunningMock, running_mock

from helpers import read_until_closed, token

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(header_timeout_s=0.5)) as running:
        yield running


@pytest.fixture
def server_log() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn logs (its loggers do not propagate to the root, where caplog listens)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def one_answer(raw: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body) on a connection kept open."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += raw.recv(65536)
    return answer


def test_a_head_sent_a_byte_at_a_time_is_cut_off_unanswered(mock: RunningMock) -> None:
    with socket.create_connection((mock.host, mock.port)) as raw:
        raw.sendall(HEAD)
        closed = False
        # Keep the head open forever, a header line at a time, until the server hangs up.
        for _ in range(600):
            try:
                raw.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            raw.settimeout(0.1)
            try:
                if raw.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed


def test_a_connection_that_sends_nothing_is_closed(mock: RunningMock) -> None:
    with socket.create_connection((mock.host, mock.port)) as raw:
        assert read_until_closed(raw) == b""


def test_a_keep_alive_connection_idle_past_the_head_timeout_still_serves(
    mock: RunningMock,
) -> None:
    with socket.create_connection((mock.host, mock.port)) as raw:
        raw.settimeout(60)
        for _ in range(2):
            raw.sendall(HEAD + b"\r\n")
            assert one_answer(raw).startswith(b"HTTP/1.1 200 ")
            # Longer than the head timeout, shorter than uvicorn's keep-alive (5 s).
            time.sleep(1.0)


def test_a_websocket_outlives_the_head_timeout(mock: RunningMock) -> None:
    url = f"{mock.streaming_url('slow')}?access_token={token(mock.base_url)}"

    async def scenario() -> str:
        async with websockets.connect(url) as ws:
            await asyncio.sleep(1.0)
            await ws.send("__PING__")
            return str(await ws.recv())

    assert asyncio.run(scenario()) == "__PONG__"


@pytest.mark.parametrize(
    ("length", "status", "message"),
    [
        (257, 400, "The connection id is longer than 256 characters."),
        (10_000, 414, "The request line is over 8192 bytes."),
    ],
)
def test_an_over_long_connection_id_is_refused_with_a_message(
    mock: RunningMock, length: int, status: int, message: str
) -> None:
    url = f"{mock.streaming_url('x' * length)}?access_token={token(mock.base_url)}"

    async def scenario() -> None:
        async with websockets.connect(url):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(scenario())
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body) == {"message": message}


def test_a_connection_id_at_the_limit_is_served(mock: RunningMock) -> None:
    url = f"{mock.streaming_url('x' * 256)}?access_token={token(mock.base_url)}"

    async def scenario() -> str:
        async with websockets.connect(url) as ws:
            await ws.send("__PING__")
            return str(await ws.recv())

    assert asyncio.run(scenario()) == "__PONG__"


def test_a_refused_handshake_logs_nothing(
    mock: RunningMock, server_log: list[logging.LogRecord]
) -> None:
    async def scenario() -> None:
        async with websockets.connect(mock.streaming_url("nobody")):
            pass

    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(scenario())
    assert [r.getMessage() for r in server_log if r.levelno >= logging.WARNING] == []


def test_a_text_frame_that_is_not_utf8_closes_1007_with_one_plain_log_line(
    mock: RunningMock, server_log: list[logging.LogRecord]
) -> None:
    url = f"{mock.streaming_url('bad-utf8')}?access_token={token(mock.base_url)}"

    async def scenario() -> int | None:
        async with websockets.connect(url) as ws:
            await ws.send(b"\xff\xfe not text", text=True)
            with pytest.raises(websockets.ConnectionClosedError):
                await ws.recv()
            return ws.close_code

    assert asyncio.run(scenario()) == 1007
    warnings = [r for r in server_log if r.levelno >= logging.WARNING]
    assert [r.exc_info for r in warnings] == [None]
    assert "not UTF-8" in warnings[0].getMessage()

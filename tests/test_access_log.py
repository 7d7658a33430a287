"""The access line: what it says of a connection, and the secrets it never shows."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness.access_log import ConnectionFacts, access_line, logged
from harness.serve import running

STARTED = 1_700_000_000.0
CLOCK = time.strftime("%H:%M:%S", time.localtime(STARTED))
SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.signature"


def facts(method: str = "GET", target: bytes = b"/v1/x", **kwargs: object) -> ConnectionFacts:
    path, _, query = target.partition(b"?")
    fields: dict[str, object] = {"client": ("127.0.0.1", 51234), "duration_s": 0.0042}
    fields.update(kwargs)
    return ConnectionFacts(STARTED, method=method, raw_path=path, query=query, **fields)  # type: ignore[arg-type]


def test_a_request_line_names_its_client_method_target_status_and_duration() -> None:
    line = access_line(facts("POST", b"/oauth2/token:generate", status=200))
    assert line == f"{CLOCK} 127.0.0.1:51234 POST /oauth2/token:generate 200 4 ms"


def test_durations_read_in_milliseconds_then_seconds() -> None:
    assert access_line(facts(status=200, duration_s=5.25)).endswith(" 200 5.2 s")
    assert access_line(facts(status=200, duration_s=754.4)).endswith(" 200 754 s")


def test_an_ipv6_client_is_bracketed_and_an_unknown_one_is_a_dash() -> None:
    assert " [::1]:8 GET " in access_line(facts(client=("::1", 8), status=200))
    assert f"{CLOCK} - GET " in access_line(facts(client=None, status=200))


def test_a_request_the_server_failed_on_or_never_answered_says_so() -> None:
    assert access_line(facts(failed=True)).endswith(" GET /v1/x 500 (the server failed) 4 ms")
    assert access_line(facts()).endswith(" GET /v1/x no response 4 ms")


def test_an_accepted_socket_line_has_its_close_code_and_who_closed_first() -> None:
    line = access_line(
        facts("WS", b"/v1/streaming/abc", status=101, close_code=1000, closed_by="client")
    )
    assert line == f"{CLOCK} 127.0.0.1:51234 WS /v1/streaming/abc 101 closed 1000 by client 4 ms"
    line = access_line(facts("WS", b"/s", status=101, close_code=4001, closed_by="server"))
    assert line.endswith(" WS /s 101 closed 4001 by server 4 ms")


def test_an_accepted_socket_the_app_left_open_was_closed_by_the_server() -> None:
    assert " 101 closed 1000 by server " in access_line(facts("WS", b"/s", status=101))
    failed = facts("WS", b"/s", status=101, failed=True)
    assert " 101 closed 1011 by server " in access_line(failed)


def test_a_refused_handshake_is_its_status_and_refused() -> None:
    assert access_line(facts("WS", b"/s", status=401)).endswith(" WS /s 401 refused 4 ms")
    left = facts("WS", b"/s", close_code=1006, closed_by="client")
    assert access_line(left).endswith(" WS /s - client left before the handshake 4 ms")
    assert access_line(facts("WS", b"/s", failed=True)).endswith(
        " WS /s 500 refused (the server failed) 4 ms"
    )


@pytest.mark.parametrize(
    "query",
    [
        f"access_token={SECRET}",
        f"access%5Ftoken={SECRET}",
        f"token={SECRET}&verbose=true",
        f"appSecret={SECRET}",
        f"x-api-key={SECRET}",
        f"next=%2Fpage%3Faccess_token%3D{SECRET}",
    ],
)
def test_a_secret_in_the_query_is_redacted_and_the_rest_kept(query: str) -> None:
    line = access_line(facts("WS", f"/v1/streaming/abc?{query}".encode(), status=101))
    assert SECRET not in line
    assert "REDACTED" in line
    assert " WS /v1/streaming/abc?" in line


def test_a_secret_the_headers_carry_is_taken_out_of_the_path_too() -> None:
    headers = ((b"authorization", f"Bearer {SECRET}".encode()),)
    line = access_line(facts(target=f"/v1/echo/{SECRET}?q=1".encode(), headers=headers))
    assert " GET /v1/echo/REDACTED?q=1 " in line


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=16, max_size=64))
def test_a_token_never_shows_in_a_line_whatever_it_is(secret: str) -> None:
    headers = ((b"authorization", f"Bearer {secret}".encode()), (b"x-api-key", secret.encode()))
    for target in (f"/s?access_token={secret}", f"/s?a=1&token={secret}", f"/s/{secret}"):
        line = access_line(facts("WS", target.encode(), headers=headers, status=101))
        assert secret not in line


def test_unprintable_bytes_are_escaped_and_a_long_target_cut() -> None:
    line = access_line(facts(target=b"/a\x1b[2Jb?c=\xff", status=200))
    assert " GET /a\\x1b[2Jb?c=\\xff 200 " in line
    long = access_line(facts(target=b"/" + b"x" * 1000, status=200))
    assert " GET /" + "x" * 298 + "… 200 " in long


def app() -> Starlette:
    async def hello(_: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        # Until the client closes.
        await socket.receive()

    async def bye(socket: WebSocket) -> None:
        await socket.accept()
        await socket.close(code=4000)

    routes = [Route("/hello", hello), WebSocketRoute("/echo", echo), WebSocketRoute("/bye", bye)]
    return Starlette(routes=routes)


def wait_for(lines: list[str], count: int) -> None:
    """Return once `lines` holds `count` lines (or after a guard against a hang)."""
    deadline = time.monotonic() + 60
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_each_connection_gets_one_line_once_it_has_ended() -> None:
    lines: list[str] = []
    with running(logged(app(), lines.append)) as server:
        assert httpx.get(f"{server.base_url}/hello?token={SECRET}").text == "hello"
        wait_for(lines, 1)
        with connect(f"{server.ws_url}/echo?access_token={SECRET}") as socket:
            socket.send("hi")
            assert socket.recv() == "hi"
            # Open, the socket has no line yet.
            assert len(lines) == 1
        wait_for(lines, 2)
        with connect(f"{server.ws_url}/bye") as socket:
            with pytest.raises(ConnectionClosed):
                socket.recv()
            assert socket.close_code == 4000
        wait_for(lines, 3)
    assert len(lines) == 3, lines
    assert " GET /hello?token=REDACTED 200 " in lines[0]
    assert " WS /echo?access_token=REDACTED 101 closed 1000 by client " in lines[1]
    assert " WS /bye 101 closed 4000 by server " in lines[2]


def test_a_logger_that_fails_breaks_no_connection() -> None:
    def broken(_: str) -> None:
        raise OSError("the terminal is gone")

    with running(logged(app(), broken)) as server:
        for _ in range(2):
            assert httpx.get(f"{server.base_url}/hello").text == "hello"
        with connect(f"{server.ws_url}/echo") as socket:
            socket.send("hi")
            assert socket.recv() == "hi"


def test_a_socket_open_when_the_server_stops_was_closed_by_the_server() -> None:
    lines: list[str] = []
    with contextlib.ExitStack() as serving:
        server = serving.enter_context(running(logged(app(), lines.append)))
        with connect(f"{server.ws_url}/echo") as socket:
            socket.send("hi")
            assert socket.recv() == "hi"
            # The server stops with the socket open, and tells the app so with 1012.
            serving.close()
    assert len(lines) == 1, lines
    assert " WS /echo 101 closed 1012 by server " in lines[0]

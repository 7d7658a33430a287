"""A recording proxy: any client talks to it as to the endpoint; every session is recorded.

WebSocket streaming paths are forwarded frame for frame in both directions and written to
one session folder per connection (named from the connection id, made safe). Other paths
(token generation, the Conversation API) are forwarded as they are; calls that name a
recorded conversation are appended to that session's `rest.jsonl`, secrets redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection

from harness.client.auth import http_base, over_websocket
from harness.conformance.check import write_conformance
from harness.protocol.bounded_json import loads
from harness.session_folder.redact import Redactor, without_query
from harness.session_folder.tape import SessionTape, safe_name

REST_LOG = "rest.jsonl"
# Headers a proxy must not pass on (hop-by-hop), or that httpx sets itself.
_HOP_HEADERS = {
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
}
_CONVERSATION = re.compile(r"^/v1/conversations/([^/]+)")


def _close_tape(tape: SessionTape) -> None:
    """Finish a session's folder and write its conformance report beside it."""
    if not tape.close():
        return
    try:
        write_conformance(tape.folder)
    except OSError as error:
        tape.report(f"{tape.folder.name}: cannot write its conformance report: {error}")


def tell(line: str) -> None:
    """Tell a person about one proxied connection, as the proxy command does."""
    print(f"proxy: {line}", file=sys.stderr, flush=True)


@dataclass
class ProxyState:
    """Where the proxy forwards to and what it has recorded."""

    upstream: str
    out: Path
    conversations: dict[str, Path] = field(default_factory=dict)
    # One redactor for every log: a secret learned anywhere (a session's URL or headers, a
    # token request or its answer) is removed from all that is written after.
    redactor: Redactor = field(default_factory=Redactor)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    report: Callable[[str], None] = tell


def _raw_target(scope: Mapping[str, Any]) -> str:
    """The path and query as the client sent them, still percent-encoded: the decoded path
    of a connection id with `%20` or `%00` is not a valid request line upstream."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


def _upstream_ws(state: ProxyState, target: str) -> str:
    parts = urlsplit(over_websocket(state.upstream))
    return f"{parts.scheme}://{parts.netloc}{target}"


async def _stream(state: ProxyState, socket: WebSocket) -> None:
    # Decoded, for the folder name only; safe_name keeps NUL, separators and dots out.
    connection_id = socket.path_params["connection_id"]
    url = _upstream_ws(state, _raw_target(socket.scope))
    offered = list(socket.scope.get("subprotocols") or [])
    forwarded = {k: v for k, v in socket.headers.items() if k.lower() in ("x-api-key",)}
    try:
        upstream = await websockets.connect(
            url,
            additional_headers=forwarded,
            subprotocols=[websockets.Subprotocol(p) for p in offered] or None,
            max_size=None,
            ping_interval=None,
        )
    except websockets.InvalidStatus as refused:
        body = bytes(refused.response.body or b"")
        await socket.send_denial_response(
            Response(body, status_code=refused.response.status_code, media_type="application/json")
        )
        return
    except (OSError, websockets.InvalidHandshake, TimeoutError) as error:
        state.report(f"cannot connect to {without_query(url)}: {error}")
        await socket.send_denial_response(
            JSONResponse({"message": f"upstream unreachable: {error}"}, status_code=502)
        )
        return
    await socket.accept(subprotocol=upstream.subprotocol)
    for secret in (*offered, *forwarded.values()):
        state.redactor.add(secret)
    async with state.lock:
        folder = state.out / safe_name(connection_id, lambda n: (state.out / n).exists())
        log = SessionTape(
            folder,
            url,
            redactor=state.redactor,
            report=state.report,
            header={"recorded_by": "proxy"},
        )
        try:
            folder.mkdir(parents=True)
        except OSError as error:
            log.fail(f"not recorded, cannot create its folder ({error})")
    log.add("open", (url, list(socket.headers.items())))
    await _pump(state, socket, upstream, log, folder)


async def _pump(
    state: ProxyState,
    socket: WebSocket,
    upstream: ClientConnection,
    log: SessionTape,
    folder: Path,
) -> None:
    async def client_to_upstream() -> None:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(message.get("code") or 1000, message.get("reason") or "")
                return
            if message.get("text") is not None:
                log.add("send_text", message["text"])
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                log.add("send_audio", message["bytes"])
                await upstream.send(message["bytes"])

    async def upstream_to_client() -> None:
        async for message in upstream:
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            log.add("recv_text", text)
            _learn_conversation(state, text, folder)
            await socket.send_text(text) if isinstance(message, str) else await socket.send_bytes(
                message
            )
        # The folder is complete before the client hears the close: whoever waits on the
        # client finds the whole session on disk.
        finish()
        await socket.close(upstream.close_code or 1000, upstream.close_reason or "")

    def finish() -> None:
        if not log.closed:
            log.add("close", (upstream.close_code, upstream.close_reason or ""))
            _close_tape(log)

    tasks = [asyncio.create_task(client_to_upstream()), asyncio.create_task(upstream_to_client())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            # Let the other direction deliver what is in flight, briefly.
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(task, 2.0)
        for task in done:
            if task.exception() is not None and not isinstance(
                task.exception(), websockets.ConnectionClosed | WebSocketDisconnect
            ):
                log.add("error", f"proxy: {task.exception()!r}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        finish()


def _learn_conversation(state: ProxyState, text: str, folder: Path) -> None:
    """Remember which session folder a conversation id belongs to."""
    if '"conversationId"' not in text:
        return
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = loads(text)
        data = message.get("message", {}).get("data") or {}
        if isinstance(data.get("conversationId"), str):
            state.conversations.setdefault(data["conversationId"], folder)


async def _rest(state: ProxyState, request: Request) -> Response:
    base = http_base(state.upstream)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    body = await request.body()
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.request(
                request.method,
                httpx.URL(base.rstrip("/") + _raw_target(request.scope)),
                headers=headers,
                content=body,
            )
    except httpx.HTTPError as error:
        return JSONResponse({"message": f"upstream unreachable: {error}"}, status_code=502)
    _learn_secrets(state.redactor, request, body, reply)
    match = _CONVERSATION.match(request.url.path)
    folder = state.conversations.get(match.group(1)) if match else None
    if folder is not None:
        try:
            _record_rest(state, folder, request, reply)
        except OSError as error:
            state.report(f"{folder.name}: a REST call was not recorded in {REST_LOG} ({error})")
    passed = {
        k: v
        for k, v in reply.headers.items()
        if k.lower() not in _HOP_HEADERS | {"content-encoding"}
    }
    return Response(reply.content, status_code=reply.status_code, headers=passed)


def _learn_secrets(
    redactor: Redactor, request: Request, body: bytes, reply: httpx.Response
) -> None:
    """Learn the secrets of any REST call, recorded or not: the Authorization header, an
    appSecret in a token request, the accessToken in its answer."""
    redactor.headers(request.headers.items())
    for content in (body, reply.content):
        with contextlib.suppress(ValueError):
            redactor.learn(loads(content))


def _record_rest(state: ProxyState, folder: Path, request: Request, reply: httpx.Response) -> None:
    try:
        answer: Any = reply.json()
    except ValueError:
        answer = reply.text[:2000]
    record = {
        "t": time.time(),
        "method": request.method,
        "path": state.redactor.text(request.url.path),
        "query": state.redactor.text(request.url.query),
        "status": reply.status_code,
        "response": state.redactor.json(answer),
    }
    with (folder / REST_LOG).open("a", encoding="utf-8") as rest:
        rest.write(json.dumps(record, ensure_ascii=False) + "\n")


def create_proxy(upstream: str, out: Path, report: Callable[[str], None] = tell) -> Starlette:
    """The proxy's ASGI app, forwarding to `upstream` and recording into `out`; what goes
    wrong (an unreachable upstream, a folder it cannot write) is told to `report`."""
    state = ProxyState(upstream=upstream, out=out, report=report)

    async def stream(socket: WebSocket) -> None:
        await _stream(state, socket)

    async def rest(request: Request) -> Response:
        return await _rest(state, request)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            WebSocketRoute("/v1/streaming/{connection_id}", stream),
            WebSocketRoute("/v1/realtime/insights/{connection_id}", stream),
            Route("/{path:path}", rest, methods=methods),
        ]
    )

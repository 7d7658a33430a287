"""The streaming WebSocket: authenticate, run a StreamingSession, carry out its outputs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from mock_symbl.auth import INVALID_TOKEN, AuthError, Authority
from mock_symbl.engines.select import EngineChoice
from mock_symbl.ids import IdSource
from mock_symbl.limits import StreamCounter
from mock_symbl.store import Conversation, Member, Store, StoredInsight, StoredMessage
from mock_symbl.streaming import Close, ConversationState, Output, Send, StreamingSession
from mock_symbl.streaming import Store as Persist

log = logging.getLogger("mock_symbl")
# A client that stops reading must not hold up the others: give up on it after this long.
SEND_TIMEOUT_S = 10.0
Key = tuple[str, str]
TOO_MANY_STREAMS = "Too many concurrent streams for this app."


def persist(store: Store, output: Persist) -> None:
    """Write one `Store` output of a session to the database."""
    record = output.record
    if isinstance(record, Conversation):
        store.create_conversation(record)
    elif isinstance(record, Member):
        store.add_member(output.conversation_id, record)
    elif isinstance(record, StoredMessage):
        store.add_message(record)
    elif isinstance(record, StoredInsight):
        store.add_insight(record)
    elif isinstance(record, tuple):
        store.save_topics(output.conversation_id, record)
    else:
        store.end_conversation(output.conversation_id, record)


def token_of(socket: WebSocket) -> str | None:
    """The token wherever a client put it: query, `X-API-KEY` header, or subprotocol."""
    offered = list(socket.scope.get("subprotocols") or [])
    return (
        socket.query_params.get("access_token")
        or socket.query_params.get("accessToken")
        or socket.headers.get("x-api-key")
        or (offered[0] if offered else None)
    )


class StreamingEndpoint:
    """Serves `/v1/streaming/{id}` and `/v1/realtime/insights/{id}`."""

    def __init__(
        self,
        store: Store,
        authority: Authority,
        engines: EngineChoice,
        ids: IdSource,
        streams: StreamCounter,
    ) -> None:
        self.streams = streams
        self.store = store
        self.authority = authority
        self.engines = engines
        self.ids = ids
        self.sockets: dict[Key, set[WebSocket]] = {}
        self.conversations: dict[Key, ConversationState] = {}

    async def __call__(self, socket: WebSocket, connection_id: str) -> None:
        """Handle one connection from handshake to close."""
        try:
            app = self.authority.verify(token_of(socket))
        except AuthError:
            await self._refuse(socket, 401, INVALID_TOKEN)
            return
        if not self.streams.acquire(app.key):
            await self._refuse(socket, 429, TOO_MANY_STREAMS)
            return
        try:
            await self._connected(socket, app.key, connection_id)
        finally:
            self.streams.release(app.key)

    async def _connected(self, socket: WebSocket, app_key: str, connection_id: str) -> None:
        offered = list(socket.scope.get("subprotocols") or [])
        # Browsers fail the handshake unless an offered subprotocol is echoed.
        await socket.accept(subprotocol=offered[0] if offered else None)
        key = (app_key, connection_id)
        session = StreamingSession(
            connection_id=connection_id,
            app_key=app_key,
            conversations=self.conversations,
            engines=self.engines.for_request,
            ids=self.ids,
            now=lambda: datetime.now(UTC),
        )
        self.sockets.setdefault(key, set()).add(socket)
        try:
            await self._serve(socket, key, session)
        finally:
            group = self.sockets.get(key, set())
            group.discard(socket)
            if not group:
                self.sockets.pop(key, None)
            for output in session.connection_lost():
                if isinstance(output, Persist):
                    persist(self.store, output)
            if session.errors:
                said = ", ".join(f"{count} x {kind}" for kind, count in session.errors.items())
                log.warning("connection %s answered with errors: %s", connection_id, said)

    async def _refuse(self, socket: WebSocket, status: int, message: str) -> None:
        if "websocket.http.response" in socket.scope.get("extensions", {}):
            await socket.send_denial_response(
                JSONResponse({"message": message}, status_code=status)
            )
        else:
            await socket.close(code=1008, reason=message)

    async def _serve(self, socket: WebSocket, key: Key, session: StreamingSession) -> None:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                outputs = session.receive_text(message["text"])
            elif message.get("bytes") is not None:
                data = message["bytes"]
                # Recognition is CPU work; keep the event loop free for other sockets.
                if session.cpu_bound:
                    outputs = await asyncio.to_thread(session.receive_audio, data)
                else:
                    outputs = session.receive_audio(data)
            else:
                continue
            if await self._deliver(socket, key, outputs):
                return

    async def _deliver(self, socket: WebSocket, key: Key, outputs: list[Output]) -> bool:
        """Carry out a session's outputs; True once this socket is closed."""
        for output in outputs:
            if isinstance(output, Persist):
                persist(self.store, output)
            elif isinstance(output, Send):
                targets = self.sockets.get(key, {socket}) if output.everyone else {socket}
                for target in list(targets):
                    try:
                        await asyncio.wait_for(target.send_text(output.text), SEND_TIMEOUT_S)
                    except (TimeoutError, RuntimeError, WebSocketDisconnect, OSError) as error:
                        log.warning("dropping a socket of %s: %r", key[1], error)
                        if target is socket:
                            return True
            elif isinstance(output, Close):
                await socket.close(output.code, output.reason)
                return True
        return False

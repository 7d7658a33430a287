"""uvicorn's HTTP and WebSocket protocols, guarded against what a public server meets.

- A request head must be complete within `header_timeout_s` of the connection opening (or
  of its first byte after a keep-alive pause): uvicorn waits forever for a slow one, so a
  few dozen clients sending headers a byte at a time held every connection.
- A WebSocket handshake whose request line or a header line is longer than the websockets
  parser takes is refused with 414/431 and a JSON message: handed over to websockets, it got
  no answer at all.
- A refused handshake (a denial response) counts as a complete handshake, so uvicorn does
  not log "ASGI callable returned without completing handshake" for each one.
- A text frame that is not UTF-8 closes the socket with 1007 and one log line, not a
  traceback.
"""

from __future__ import annotations

import asyncio
import http
import json
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS

HEADER_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Limits on a connection before the app sees it."""

    # Seconds a client has to send a complete request head.
    header_timeout_s: float = HEADER_TIMEOUT_S


class GuardedHttp(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and checked upgrades."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Still waiting for a head (a partial one, or the next after a keep-alive pause)?
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_timer is None:
                self._start_head_timer()
        else:
            self._stop_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # Between requests uvicorn's own keep-alive timeout applies, not this one.
        self._stop_head_timer()
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._stop_head_timer()
        request_line = len(event.method) + len(event.target) + len(b"  HTTP/1.1")
        if request_line > MAX_LINE_LENGTH:
            self._refuse(414, f"The request line is over {MAX_LINE_LENGTH} bytes.")
        elif len(event.headers) > MAX_NUM_HEADERS or any(
            len(name) + len(value) + 2 > MAX_LINE_LENGTH for name, value in event.headers
        ):
            self._refuse(
                431,
                f"A WebSocket handshake takes at most {MAX_NUM_HEADERS} headers "
                f"of up to {MAX_LINE_LENGTH} bytes each.",
            )
        else:
            super().handle_websocket_upgrade(event)

    def _refuse(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        reason = http.HTTPStatus(status).phrase.encode()
        response = h11.Response(status_code=status, headers=headers, reason=reason)
        self.transport.write(self.conn.send(response) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        self.transport.close()

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_late)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        # No request to answer yet (h11 cannot send a response before one): just close.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class GuardedWebSocket(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol, quiet about refusals and bad UTF-8."""

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get(
            "more_body", False
        ):
            # The denial response went out: the handshake is over, refused on purpose.
            self.handshake_complete = True

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError as error:
                self.frames = []
                client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
                self.logger.warning(
                    "%s sent a text frame that is not UTF-8 (%s); closed with 1007",
                    client,
                    error.reason,
                )
                self.conn.send_close(1007, "text frame is not UTF-8")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()


def guarded_protocols(
    chosen: ConnectionLimits,
) -> tuple[type[GuardedHttp], type[GuardedWebSocket]]:
    """The HTTP and WebSocket protocol classes for uvicorn.Config, with these limits."""

    # uvicorn makes a protocol per connection from a class: the limits ride on a subclass.
    class LimitedHttp(GuardedHttp):
        limits = chosen

    return LimitedHttp, GuardedWebSocket

"""The `upstream` fallback: audio no recording matches is answered by a real endpoint.

The connection's audio goes on to a Symbl-compatible streaming endpoint under the client's
connection id and start request (as LINEAR16 at the client's rate: the session has decoded
it), and what the endpoint answers goes back to the client with the endpoint's ids moved to
the mock's conversation and its times to the mock's clock. The endpoint's lifecycle
messages are dropped: the session sends the mock's own. A reader thread takes the
endpoint's messages as they come; `accept` hands over what has arrived, `finish` sends the
stop request and waits (bounded) for the rest. An endpoint that cannot be reached, refuses
the connection, drops it or does not finish is a refusal (one error to the client, one log
line, and no new recording), never a traceback or a hang. The endpoint's token is never
passed on: it is scrubbed from everything the endpoint says and from every error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np
from numpy.typing import NDArray
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from harness.errors import HarnessError
from harness.protocol import StartRequest, encode, message_type, modify_request, stop_request
from harness.protocol.bounded_json import loads
from harness.session_folder.redact import REDACTED, Redactor, without_userinfo
from mock_symbl.engines.base import Recognised, Replayed, Verdict
from mock_symbl.engines.cassette import LIFECYCLE, Rewriter

log = logging.getLogger("mock_symbl")
# The opening handshake, the wait for the endpoint's last answers after the stop request,
# and the closing handshake: bounds, so an endpoint that stalls costs a session no more.
OPEN_TIMEOUT_S = 10.0
FINISH_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0
# The protocol's largest audio frame, 8,192 bytes, in Int16 samples.
FRAME_SAMPLES = 4096
UNAVAILABLE = "Upstream unavailable"


def streaming_base(url: str) -> str:
    """The WebSocket base of an endpoint URL: `https://h/…` -> `wss://h`, `http://h:p` ->
    `ws://h:p`; ValueError for anything else."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"not an endpoint URL: {url!r} (expected ws://, wss://, http(s)://)")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


@dataclass(frozen=True)
class Upstream:
    """An endpoint that answers misses, and where its access tokens come from (a callable
    that may raise HarnessError or OSError when it cannot give one)."""

    url: str
    token: Callable[[], str]

    def __post_init__(self) -> None:
        """Hold the URL as the endpoint's WebSocket base."""
        object.__setattr__(self, "url", streaming_base(self.url))

    @property
    def shown(self) -> str:
        """The endpoint as messages and logs name it: no user or password in it."""
        return without_userinfo(self.url)


@dataclass(frozen=True, slots=True)
class _Ended:
    """The endpoint's connection is over; `problem` says why, unless it ended as asked."""

    problem: str | None


def _send(socket: ClientConnection, frame: str | bytes) -> None:
    # A closed connection is the reader's to report, in order with what arrived before it.
    with contextlib.suppress(ConnectionClosed):
        socket.send(frame)


class UpstreamRecognizer:
    """Answers a connection by streaming its audio to an endpoint and relaying its answers."""

    # Its calls wait on the network: keep them off the event loop.
    cpu_bound = True

    def __init__(self, upstream: Upstream, request: StartRequest, connection_id: str) -> None:
        self._upstream = upstream
        self._request = request
        self._connection_id = connection_id
        self._socket: ClientConnection | None = None
        self._held = contextlib.ExitStack()
        self._reader: threading.Thread | None = None
        self._arrived: queue.SimpleQueue[dict[str, Any] | _Ended] = queue.SimpleQueue()
        self._redactor = Redactor()
        self._secrets: list[str] = []
        self._rate = 0
        self._opened_at = datetime.now(UTC)
        self._bound: tuple[str, datetime, Callable[[], str]] | None = None
        self._rewrite: Rewriter | None = None
        self._stopping = False
        self._failed = False

    def bind(self, conversation_id: str, started: datetime, new_id: Callable[[], str]) -> None:
        """Move the endpoint's ids to this conversation's, and its times to its start."""
        self._bound = (conversation_id, started, new_id)

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> Sequence[Recognised]:
        """Send the samples on (opening the connection first); return what has arrived."""
        if self._failed:
            return []
        if self._socket is None:
            problem = self._open(sample_rate)
            if problem is not None:
                return [self._refuse(problem)]
        socket = self._socket
        assert socket is not None
        if sample_rate != self._rate:
            self._rate = sample_rate
            _send(socket, encode(modify_request("LINEAR16", sample_rate)))
        pcm = np.asarray(samples).astype("<i2")
        for start in range(0, pcm.size, FRAME_SAMPLES):
            _send(socket, pcm[start : start + FRAME_SAMPLES].tobytes())
        return self._take(wait=False)

    def finish(self) -> Sequence[Recognised]:
        """Stop the endpoint and return its last answers (an error if it does not finish)."""
        socket = self._socket
        if socket is None:
            return []
        out: list[Recognised] = []
        if not self._failed:
            self._stopping = True
            _send(socket, encode(stop_request()))
            out = self._take(wait=True)
        self._held.close()
        if self._reader is not None:
            self._reader.join(CLOSE_TIMEOUT_S)
        return out

    def _open(self, rate: int) -> str | None:
        """Connect and send the start request; the problem if the endpoint cannot be used."""
        base, shown = self._upstream.url, self._upstream.shown
        try:
            token = self._upstream.token()
        except (HarnessError, OSError) as error:
            return f"no access token for {shown}: {error}"
        self._redactor.add(token)
        # As the Redactor does: a shorter value would erase ordinary words from transcripts.
        self._secrets = [s for s in {token, quote(token, safe="")} if len(s) >= 6]
        url = (
            f"{base}/v1/streaming/{quote(self._connection_id, safe='')}"
            f"?access_token={quote(token, safe='')}"
        )
        try:
            # Held open across calls: `finish` leaves the block (which closes the connection).
            self._socket = self._held.enter_context(
                connect(
                    url, max_size=None, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S
                )
            )
        except InvalidStatus as refused:
            return f"{shown} refused the connection (HTTP {refused.response.status_code})"
        except (OSError, WebSocketException) as error:
            return f"cannot connect to {shown} ({str(error) or type(error).__name__})"
        # The endpoint gets the audio as the session decoded it, and must hang up after the
        # stop (a later start request gets an engine, and a connection, of its own).
        start = dataclasses.replace(
            self._request,
            encoding="LINEAR16",
            sample_rate_hertz=rate,
            disconnect_on_stop_request=True,
        )
        self._rate = rate
        self._opened_at = datetime.now(UTC)
        _send(self._socket, encode(start.to_json()))
        self._reader = threading.Thread(
            target=self._read, args=(self._socket,), name="upstream-reader", daemon=True
        )
        self._reader.start()
        return None

    def _read(self, socket: ClientConnection) -> None:
        """Queue every JSON object the endpoint sends, then how its connection ended."""
        base = self._upstream.shown
        problem: str | None = None
        try:
            for frame in socket:
                try:
                    message = loads(frame)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    self._arrived.put(message)
        except ConnectionClosed as closed:
            problem = f"the connection to {base} was lost ({closed})"
        else:
            if not self._stopping:
                problem = f"{base} closed the connection before the stop request"
        finally:
            self._arrived.put(_Ended(problem))

    def _take(self, *, wait: bool) -> list[Recognised]:
        """What has arrived; with `wait`, everything until the connection ends (bounded)."""
        out: list[Recognised] = []
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while True:
            try:
                if wait:
                    item = self._arrived.get(timeout=max(deadline - time.monotonic(), 0.0))
                else:
                    item = self._arrived.get_nowait()
            except queue.Empty:
                if wait:
                    late = f"{FINISH_TIMEOUT_S:g} s of the stop request"
                    out.append(self._refuse(f"{self._upstream.shown} did not finish within {late}"))
                break
            if isinstance(item, _Ended):
                if item.problem is not None and not self._failed:
                    out.append(self._refuse(item.problem))
                break
            out.extend(self._answer(item))
        return out

    def _answer(self, message: dict[str, Any]) -> list[Recognised]:
        """The endpoint's message as this conversation's (none for a lifecycle message)."""
        if self._failed:
            return []
        if message_type(message) in LIFECYCLE:
            self._learn(message)
            return []
        clean = self._scrub(message)
        return [Replayed(self._rewrite(clean) if self._rewrite is not None else clean)]

    def _learn(self, message: dict[str, Any]) -> None:
        """Take the endpoint's conversation id from the first lifecycle message naming it."""
        inner = message.get("message")
        data = inner.get("data") if isinstance(inner, dict) else None
        upstream_id = data.get("conversationId") if isinstance(data, dict) else None
        if self._rewrite is None and self._bound is not None and isinstance(upstream_id, str):
            conversation_id, started, new_id = self._bound
            self._rewrite = Rewriter(
                (upstream_id, conversation_id), new_id, started - self._opened_at
            )

    def _scrub(self, value: Any) -> Any:
        """The value with the endpoint's token taken out of every string."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        return value

    def _refuse(self, problem: str) -> Verdict:
        """The endpoint cannot answer: the client is told (and the miss is not recorded)."""
        self._failed = True
        details = self._redactor.text(f"{UNAVAILABLE}: {problem}; no recording matches this audio.")
        log.warning("connection %s: %s", self._connection_id, details)
        return Verdict(recording=None, by="", score=0.0, offset_s=0.0, refusal=details)

"""Record one session: a source's frames to an endpoint, everything into a session folder.

After the stream, the Conversation API's view of the conversation (messages with sentiment,
topics, questions, action items, follow-ups) is saved beside it as `conversation.json`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from numpy.typing import NDArray

from harness.audio.sources import until_stopped
from harness.client.auth import http_base
from harness.client.conversation import ConversationApiError, ConversationClient
from harness.client.session import Frames, SessionResult, as_async, run_session
from harness.conformance.check import write_conformance
from harness.protocol import Event, StartRequest
from harness.session_folder.log import SessionLogWriter

CONVERSATION_FILE = "conversation.json"


def streaming_url(endpoint: str, connection_id: str, token: str) -> str:
    """The streaming URL for a base endpoint (or a full `/v1/…` URL given as it is)."""
    base = endpoint.rstrip("/")
    if "/v1/" not in base:
        base = f"{base}/v1/streaming/{quote(connection_id, safe='')}"
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}access_token={quote(token, safe='')}"


@dataclass
class Recording:
    """What `record` did: the session's result, the conversation file, and what went wrong."""

    folder: Path
    result: SessionResult | None = None
    conversation_file: Path | None = None
    problems: list[str] = field(default_factory=list)


async def _limited(
    frames: AsyncIterator[NDArray[np.int16]],
    max_samples: int | None,
    on_frame: Callable[[NDArray[np.int16]], object] | None,
) -> AsyncIterator[NDArray[np.int16]]:
    sent = 0
    async for frame in frames:
        if max_samples is not None and sent >= max_samples:
            return
        piece = frame if max_samples is None else frame[: max_samples - sent]
        sent += piece.size
        if on_frame is not None:
            on_frame(piece)
        yield piece


@dataclass(frozen=True)
class Stream:
    """What to send: a start request, its audio frames and their pace."""

    start: StartRequest
    frames: Frames
    # 1.0 real time, N times faster, None as fast as the socket takes frames.
    speed: float | None = 1.0
    # Recorded send times of the frames (a replay); by default each frame's audio position.
    schedule: Sequence[float] | None = None
    duration_s: float | None = None
    # What the log's header says of the source (`replay_of`, `source`, ...).
    about: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Destination:
    """Where to send it: an endpoint, a token for it, the connection id; what to redact."""

    endpoint: str
    token: str
    connection_id: str
    secrets: Sequence[str] = ()


@dataclass(frozen=True)
class Observers:
    """Who watches the session and may end it: a stop signal, event and frame callbacks."""

    stop: asyncio.Event | None = None
    on_event: Callable[[Event], object] | None = None
    on_frame: Callable[[NDArray[np.int16]], object] | None = None
    stop_timeout_s: float = 30.0


async def record(
    folder: Path, stream: Stream, to: Destination, observers: Observers | None = None
) -> Recording:
    """Stream until the source ends, `duration_s` passes, `stop` is set or the server closes.

    Raises SessionError if the endpoint cannot be reached; the folder then holds the log
    of the attempt.
    """
    watch = observers or Observers()
    start = stream.start
    rate = start.sample_rate_hertz or 16000
    url = streaming_url(to.endpoint, to.connection_id, to.token)
    recording = Recording(folder)
    max_samples = None if stream.duration_s is None else round(stream.duration_s * rate)
    paced = until_stopped(
        _limited(as_async(stream.frames), max_samples, watch.on_frame),
        watch.stop or asyncio.Event(),
    )
    with SessionLogWriter(
        folder,
        endpoint=url,
        sample_rate=rate,
        encoding=start.encoding,
        secrets=[to.token, *to.secrets],
        extra_header={"connection_id": to.connection_id, **stream.about},
    ) as log:
        result = await run_session(
            url,
            start,
            paced,
            speed=stream.speed,
            log=log,
            on_event=watch.on_event,
            stop_timeout_s=watch.stop_timeout_s,
            schedule=stream.schedule,
        )
        recording.result = result
        if result.error:
            recording.problems.append(result.error)
        if result.conversation_id:
            try:
                snapshot = await asyncio.to_thread(
                    _snapshot, http_base(to.endpoint), to.token, result.conversation_id
                )
            except ConversationApiError as error:
                recording.problems.append(f"conversation not fetched: {error}")
                log.error(f"conversation not fetched: {error}")
            else:
                path = folder / CONVERSATION_FILE
                redacted = log.redactor.json(snapshot)
                path.write_text(json.dumps(redacted, indent=1, ensure_ascii=False) + "\n")
                recording.conversation_file = path
    write_conformance(folder)
    return recording


def _snapshot(base_url: str, token: str, conversation_id: str) -> dict[str, Any]:
    with ConversationClient(base_url, token) as client:
        return client.snapshot(conversation_id)

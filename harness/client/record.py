"""Record one session: a source's frames to an endpoint, everything into a session folder.

After the stream, the Conversation API's view of the conversation (messages with sentiment,
topics, questions, action items, follow-ups) is saved beside it as `conversation.json`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness.client.auth import http_base, over_websocket
from harness.client.conversation import ConversationApiError, ConversationClient
from harness.client.session import Observers, SessionResult, Stream, run_session
from harness.conformance.check import write_conformance
from harness.session_folder.log import SessionLogWriter

CONVERSATION_FILE = "conversation.json"


def streaming_url(endpoint: str, connection_id: str, token: str) -> str:
    """The streaming URL for a base endpoint (or a full `/v1/…` URL given as it is)."""
    # An endpoint is often given by its REST address: streaming is the same host over ws(s).
    base = over_websocket(endpoint.rstrip("/"))
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


@dataclass(frozen=True)
class Destination:
    """Where to send it: an endpoint, a token for it, the connection id; what to redact."""

    endpoint: str
    token: str
    connection_id: str
    secrets: Sequence[str] = ()


async def record(
    folder: Path, stream: Stream, to: Destination, observers: Observers | None = None
) -> Recording:
    """Stream until the source ends, `duration_s` passes, `stop` is set or the server closes.

    Raises SessionError if the endpoint cannot be reached; the folder then holds the log
    of the attempt.
    """
    start = stream.start
    url = streaming_url(to.endpoint, to.connection_id, to.token)
    recording = Recording(folder)
    with SessionLogWriter(
        folder,
        endpoint=url,
        sample_rate=start.sample_rate_hertz or 16000,
        encoding=start.encoding,
        secrets=[to.token, *to.secrets],
        extra_header={"connection_id": to.connection_id, **stream.about},
    ) as log:
        result = await run_session(url, stream, log=log, observers=observers)
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

"""The Conversation API client (httpx): what the seed logs after a stream, and more."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.errors import EndpointError

# A 429 or 5xx answer is retried this many times: after its Retry-After (capped), or
# after a backoff that doubles from RETRY_BACKOFF_S.
RETRIES = 4
RETRY_AFTER_CAP_S = 30.0
RETRY_BACKOFF_S = 0.25

# Route -> the key of the list it answers with.
SNAPSHOT = {
    "messages?sentiment=true": "messages",
    "topics?sentiment=true": "topics",
    "questions": "questions",
    "action-items": "actionItems",
    "follow-ups": "followUps",
}


class ConversationApiError(EndpointError):
    """A Conversation API call failed; one line with the route and the answer."""


class ConversationClient:
    """GET the Conversation API of one endpoint with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 15.0,
        retries: int = RETRIES,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self._retries = retries
        self._sleep = sleep
        self.retried: list[int] = []
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=timeout_s,
        )

    def __enter__(self) -> ConversationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def get(self, conversation_id: str, route: str = "") -> Any:
        """GET /v1/conversations/{id}[/route] and return the decoded JSON."""
        path = f"/v1/conversations/{conversation_id}" + (f"/{route}" if route else "")
        for attempt in range(self._retries + 1):
            try:
                reply = self._client.get(path)
            except httpx.HTTPError as error:
                raise ConversationApiError(f"GET {path}: {error}") from None
            if attempt == self._retries or not (
                reply.status_code == 429 or reply.status_code >= 500
            ):
                break
            self.retried.append(reply.status_code)
            self._sleep(self._wait(reply, attempt))
        if reply.status_code != 200:
            try:
                said = reply.json().get("message", "")
            except ValueError:
                said = reply.text[:200]
            raise ConversationApiError(f"GET {path}: HTTP {reply.status_code} {said}".strip())
        try:
            return reply.json()
        except ValueError:
            raise ConversationApiError(f"GET {path}: the answer is not JSON") from None

    @staticmethod
    def _wait(reply: httpx.Response, attempt: int) -> float:
        """Seconds before retrying: the server's Retry-After, else an exponential backoff."""
        backoff = float(RETRY_BACKOFF_S * 2**attempt)
        try:
            after = float(reply.headers["retry-after"])
        except (KeyError, ValueError):
            return backoff
        # A server may say anything: a negative wait is no wait, NaN none at all.
        return backoff if math.isnan(after) else min(max(after, 0.0), RETRY_AFTER_CAP_S)

    def snapshot(self, conversation_id: str) -> dict[str, Any]:
        """The conversation, its messages with sentiment, topics, questions and action items."""
        out: dict[str, Any] = {"conversation": self.get(conversation_id)}
        for route, key in SNAPSHOT.items():
            out[key] = self.get(conversation_id, route).get(key, [])
        return out

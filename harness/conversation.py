"""The Conversation API client (httpx): what the seed logs after a stream, and more."""

from __future__ import annotations

from typing import Any

import httpx

# Route -> the key of the list it answers with.
SNAPSHOT = {
    "messages?sentiment=true": "messages",
    "topics?sentiment=true": "topics",
    "questions": "questions",
    "action-items": "actionItems",
    "follow-ups": "followUps",
}


class ConversationApiError(Exception):
    """A Conversation API call failed; one line with the route and the answer."""


class ConversationClient:
    """GET the Conversation API of one endpoint with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 15.0,
    ) -> None:
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
        try:
            reply = self._client.get(path)
        except httpx.HTTPError as error:
            raise ConversationApiError(f"GET {path}: {error}") from None
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

    def snapshot(self, conversation_id: str) -> dict[str, Any]:
        """The conversation, its messages with sentiment, topics, questions and action items."""
        out: dict[str, Any] = {"conversation": self.get(conversation_id)}
        for route, key in SNAPSHOT.items():
            out[key] = self.get(conversation_id, route).get(key, [])
        return out

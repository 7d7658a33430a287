"""A conversation: what the sockets of one connection id share, the outputs a session gives
the web edge to carry out, and the end of a conversation nobody rejoined."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mock_symbl.session import messages
from mock_symbl.store import (
    Conversation,
    ConversationTrackers,
    Member,
    StoredInsight,
    StoredMessage,
    StoredTopic,
    StoredTracker,
)


@dataclass(frozen=True, slots=True)
class Send:
    """A text frame for this socket, or for every socket of the conversation."""

    message: Mapping[str, Any] | str
    everyone: bool = False

    @property
    def text(self) -> str:
        """The frame's text."""
        if isinstance(self.message, str):
            return self.message
        return json.dumps(self.message, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket with a code and reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Store:
    """Something to persist: a conversation, a member, a message, an insight, topics, an end."""

    record: (
        Conversation
        | Member
        | StoredMessage
        | StoredInsight
        | tuple[StoredTopic, ...]
        | ConversationTrackers
        | str
    )
    conversation_id: str


@dataclass
class ConversationState:
    """What the sockets of one conversation share."""

    id: str
    app_key: str
    connection_id: str
    started: datetime
    messages: list[StoredMessage] = field(default_factory=list)
    topics: dict[str, StoredTopic] = field(default_factory=dict)
    # By name: the trackers its start requests asked for (the first definition of a name).
    trackers: dict[str, StoredTracker] = field(default_factory=dict)
    message_seq: int = 0
    insight_seq: int = 0
    tracker_seq: int = 0
    entity_seq: int = 0
    # Each entity's id, by type and value: the same entity keeps its id from frame to frame.
    entity_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    sockets: int = 0


@dataclass(frozen=True, slots=True)
class Linger:
    """Keep a dropped conversation joinable for `seconds`; then end it if nobody rejoined."""

    seconds: float
    key: tuple[str, str]
    conversation_id: str


@dataclass(frozen=True, slots=True)
class StopTimeout:
    """Close the socket if it is still stopped (no new start_request) after `seconds`:
    `disconnectOnStopRequestTimeout`. `stop` tells this stop from later ones."""

    seconds: float
    stop: int


Output = Send | Close | Store | Linger | StopTimeout


def end_if_abandoned(
    conversations: dict[tuple[str, str], ConversationState],
    linger: Linger,
    now: datetime,
) -> list[Output]:
    """After a linger: end the conversation if no socket rejoined it."""
    conversation = conversations.get(linger.key)
    if conversation is None or conversation.id != linger.conversation_id or conversation.sockets:
        return []
    conversations.pop(linger.key, None)
    return [Store(messages.iso(now), conversation.id)]

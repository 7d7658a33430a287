"""Route server events to handlers with the seed tutorial client's semantics."""

from __future__ import annotations

import enum
from collections.abc import Callable

from harness.protocol.events import (
    Event,
    InsightResponse,
    MessageResponse,
    ProtocolError,
    RecognitionResult,
    ServerError,
    TopicResponse,
    TrackerResponse,
    parse_event,
)


class Route(enum.Enum):
    """What a client does with an event; one event may take several routes."""

    CONVERSATION_ID = "conversation_id"
    LIVE_TRANSCRIPT = "live_transcript"
    FINAL_TRANSCRIPT = "final_transcript"
    TOPICS = "topics"
    INSIGHTS = "insights"
    TRACKERS = "trackers"
    ERROR = "error"
    FALLBACK = "fallback"


# Event class -> the route it always takes (besides CONVERSATION_ID and LIVE_TRANSCRIPT,
# which depend on fields, as in the seed's `hasOwnProperty` checks).
_ROUTE_OF_TYPE: dict[type[Event], Route] = {
    MessageResponse: Route.FINAL_TRANSCRIPT,
    TopicResponse: Route.TOPICS,
    InsightResponse: Route.INSIGHTS,
    TrackerResponse: Route.TRACKERS,
    ServerError: Route.ERROR,
    ProtocolError: Route.ERROR,
}

Handler = Callable[[Event], object]


def routes_for(event: Event) -> tuple[Route, ...]:
    """The routes an event takes, in the order its handlers run."""
    routes: list[Route] = []
    if event.conversation_id is not None:
        routes.append(Route.CONVERSATION_ID)
    if isinstance(event, RecognitionResult) and event.punctuated is not None:
        routes.append(Route.LIVE_TRANSCRIPT)
    by_type = _ROUTE_OF_TYPE.get(type(event))
    if by_type is not None:
        routes.append(by_type)
    return tuple(routes) or (Route.FALLBACK,)


class Dispatcher:
    """Parse frames, keep what a client learns from them, and call the handlers of each route.

    State: `conversation_id` (the first one seen), `live_transcript` (the latest punctuated
    partial) and `final_transcripts` (every finalised message's text, in order).
    Handlers of one route run in the order they were added; an exception from a handler
    propagates, since it is the handler's fault, not the input's.
    """

    def __init__(self) -> None:
        self._handlers: dict[Route, list[Handler]] = {route: [] for route in Route}
        self.conversation_id: str | None = None
        self.live_transcript = ""
        self.final_transcripts: list[str] = []

    def on(self, route: Route, handler: Handler) -> Handler:
        """Add a handler for a route; returns it."""
        self._handlers[route].append(handler)
        return handler

    def feed(self, frame: str | bytes) -> list[Event]:
        """Take one frame as received; returns the one event it became."""
        event = parse_event(frame)
        self.dispatch(event)
        return [event]

    def dispatch(self, event: Event) -> tuple[Route, ...]:
        """Update state from an already parsed event and run its handlers."""
        if self.conversation_id is None and event.conversation_id is not None:
            self.conversation_id = event.conversation_id
        if isinstance(event, RecognitionResult) and event.punctuated is not None:
            self.live_transcript = event.punctuated
        if isinstance(event, MessageResponse):
            self.final_transcripts.extend(message.text for message in event.messages)
        routes = routes_for(event)
        for route in routes:
            for handler in self._handlers[route]:
                handler(event)
        return routes

"""Conversation API routes computed from what a conversation stores: the list of an app's
conversations, analytics, summary, insights, intents and call score."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from mock_symbl.session.analysis import call_score, intents, summary
from mock_symbl.session.analysis.analytics import analytics, word_count
from mock_symbl.session.listing import ListQuery, ListQueryError
from mock_symbl.store import Conversation, Store, StoredInsight
from mock_symbl.web.auth import App
from mock_symbl.web.rest import (
    ApiError,
    Owned,
    StoreDep,
    current_app,
    get_conversation,
    insight_json,
    no_injected_fault,
)

conversation_api = APIRouter()

# Insight types in the order GET …/insights lists those of one message.
INSIGHT_TYPES = ("question", "action_item", "follow_up")


def _elapsed_s(conversation: Conversation) -> float | None:
    """Seconds from the conversation's start to its end; None while it is open."""
    if conversation.end_time is None:
        return None
    start = datetime.fromisoformat(conversation.start_time)
    return (datetime.fromisoformat(conversation.end_time) - start).total_seconds()


class ListParams(BaseModel):
    """The query parameters of the list, as text: checked by ListQuery, so that a bad value
    gets a 400 that names it."""

    limit: str | None = None
    offset: str | None = None
    order: str | None = None
    sort: str | None = None
    start_time: str | None = Field(None, alias="startTime")
    end_time: str | None = Field(None, alias="endTime")
    filter: str | None = None


@conversation_api.get("/v1/conversations")
def list_conversations(
    request: Request,
    app: Annotated[App, Depends(current_app)],
    store: StoreDep,
    params: Annotated[ListParams, Query()],
) -> dict[str, Any]:
    no_injected_fault(request, app)
    given = params.model_dump(by_alias=True, exclude_none=True)
    try:
        query = ListQuery.from_params(given, datetime.now(UTC))
    except ListQueryError as error:
        raise ApiError(400, str(error)) from None
    return {
        "conversations": [
            get_conversation(c) for c in query.select(store.conversations_of(app.key))
        ]
    }


@conversation_api.get("/v1/conversations/{conversation_id}/analytics")
def get_analytics(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    found = analytics(
        store.messages(conversation.id), conversation.members, _elapsed_s(conversation)
    )
    return found.to_json()


@conversation_api.get("/v1/conversations/{conversation_id}/summary")
@conversation_api.post("/v1/conversations/{conversation_id}/summary")
def get_summary(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    # The documented `refresh` query parameter changes nothing: every answer is computed
    # afresh from the stored messages.
    if conversation.end_time is None:
        # summary.md: a conversation still in progress has no summary yet (404).
        raise ApiError(
            404,
            "The summary is not available yet: the conversation is still in progress; "
            "ask again once it has ended.",
        )
    return {"summary": summary.extract(conversation.id, store.messages(conversation.id))}


def _all_insights(conversation: Conversation, store: Store) -> list[StoredInsight]:
    """Questions, action items and follow-ups in the order of the messages they come from."""
    position = {m.id: i for i, m in enumerate(store.messages(conversation.id))}
    found = [i for kind in INSIGHT_TYPES for i in store.insights(conversation.id, kind)]
    return sorted(
        found,
        key=lambda i: (
            min((position.get(m, len(position)) for m in i.message_ids), default=len(position)),
            INSIGHT_TYPES.index(i.type),
        ),
    )


@conversation_api.get("/v1/conversations/{conversation_id}/insights")
def get_insights(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    insights = []
    for insight in _all_insights(conversation, store):
        out = insight_json(insight)
        # insights.md shows `entities` on every insight, questions too (questions.md does not).
        out.setdefault("entities", [])
        insights.append(out)
    return {"insights": insights}


@conversation_api.get("/v1/conversations/{conversation_id}/intents")
def get_intents(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    return {"intents": intents.find(conversation.id, store.messages(conversation.id))}


def transcript_words(conversation: Conversation, store: Store) -> int:
    """How many words the conversation's messages hold."""
    return sum(word_count(m) for m in store.messages(conversation.id))


@conversation_api.get("/v1/conversations/{conversation_id}/callscore/status")
def get_call_score_status(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    return {
        "jobId": call_score.job_id(conversation.id),
        "status": call_score.status(
            conversation.end_time is not None, transcript_words(conversation, store)
        ),
    }


@conversation_api.get("/v1/conversations/{conversation_id}/callscore")
def get_call_score(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    messages = store.messages(conversation.id)
    words = sum(word_count(m) for m in messages)
    status = call_score.status(conversation.end_time is not None, words)
    if status == "in_progress":
        raise ApiError(
            404,
            "The call score is not available yet: the conversation is still in progress; "
            "its status is at GET …/callscore/status.",
        )
    if status == "failed":
        raise ApiError(
            404,
            f"The conversation has no call score: its transcript has {words} words, and a "
            f"call score needs at least {call_score.MIN_WORDS}.",
        )
    insights = _all_insights(conversation, store)
    return call_score.score(
        analytics(messages, conversation.members, _elapsed_s(conversation)),
        messages,
        [i for i in insights if i.type == "question"],
        [i for i in insights if i.type != "question"],
    )

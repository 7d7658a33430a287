"""The Insights UI (`GET /v1/conversations/experiences/insights/details/{conversationId}`),
the page it links to, and the formatted transcript (`POST …/transcript`).

Symbl's Insights UI URL opened in a browser with no Authorization header. The mock's page does
too, so its URL carries a key instead: the conversation's owner and an HMAC, under the store's
token secret, of the conversation and that owner. Without the right key, or once the
conversation is deleted, the page is a 404. The URL never carries a token or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from mock_symbl.session.analysis import call_score
from mock_symbl.session.experience_page import CONTENT_SECURITY_POLICY, InsightsPage, render
from mock_symbl.session.transcript_format import (
    TranscriptOptions,
    TranscriptRequestError,
    formatted,
)
from mock_symbl.store import Conversation, Store
from mock_symbl.web.conversation_api import (
    INSIGHT_TYPES,
    get_analytics,
    get_call_score,
    get_summary,
    transcript_words,
)
from mock_symbl.web.rest import ApiError, Owned, StoreDep, flag, json_object

experience = APIRouter()

PAGE_PATH = "/v1/mock/insights-ui"
PAGE_NOT_FOUND = "No such Insights UI page: the link is wrong or its conversation was deleted."
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # The page shows a conversation that may change or be deleted: never serve it stale.
    "Cache-Control": "no-store",
}


def page_key(store: Store, conversation: Conversation) -> str:
    """The key of a conversation's page: `{owner}.{HMAC}` (the owner is the app key every
    token of that app already carries in its claims, not a credential)."""
    return f"{conversation.app_key}.{_mac(store, conversation.id, conversation.app_key)}"


def _mac(store: Store, conversation_id: str, owner: str) -> str:
    message = f"insights-ui\0{conversation_id}\0{owner}".encode()
    return hmac.new(store.token_secret.encode(), message, hashlib.sha256).hexdigest()


def _keyed(store: Store, conversation_id: str, key: str) -> Conversation:
    """The conversation a page key opens; ApiError 404 for a wrong key or a deleted one."""
    owner, _, mac = key.partition(".")
    # As bytes: compare_digest refuses a str that is not ASCII, and any text may arrive.
    if not hmac.compare_digest(mac.encode(), _mac(store, conversation_id, owner).encode()):
        raise ApiError(404, PAGE_NOT_FOUND)
    conversation = store.conversation(conversation_id, owner)
    if conversation is None:
        raise ApiError(404, PAGE_NOT_FOUND)
    return conversation


@experience.get("/v1/conversations/experiences/insights/details/{conversation_id}")
def get_experience_url(
    conversation: Owned,
    store: StoreDep,
    request: Request,
    include_call_score: Annotated[str | None, Query(alias="includeCallScore")] = None,
) -> dict[str, Any]:
    words = transcript_words(conversation, store)
    if words < call_score.MIN_WORDS:
        # Symbl's Insights UI needs a transcript of 50 words or more; like GET …/callscore for
        # a transcript too short, the page does not exist, so 404 with the count.
        raise ApiError(
            404,
            f"The conversation has no Insights UI: its transcript has {words} words, and the "
            f"Insights UI needs at least {call_score.MIN_WORDS}.",
        )
    # The REST base as this client reaches the server (its Host header, its scheme).
    base = f"{request.url.scheme}://{request.url.netloc}"
    url = f"{base}{PAGE_PATH}/{conversation.id}/{page_key(store, conversation)}"
    if flag(include_call_score):
        url += "?includeCallScore=true"
    return {"url": url}


@experience.get(f"{PAGE_PATH}/{{conversation_id}}/{{key}}", response_class=HTMLResponse)
def get_insights_page(
    conversation_id: str,
    key: str,
    store: StoreDep,
    include_call_score: Annotated[str | None, Query(alias="includeCallScore")] = None,
) -> HTMLResponse:
    conversation = _keyed(store, conversation_id, key)
    summary: list[Any] | None
    try:
        summary = get_summary(conversation, store)["summary"]
    except ApiError:
        summary = None
    score: dict[str, Any] | None = None
    note: str | None = None
    if flag(include_call_score):
        try:
            score = get_call_score(conversation, store)
        except ApiError as error:
            note = error.message
    page = InsightsPage(
        conversation=conversation,
        messages=store.messages(conversation.id),
        topics=store.topics(conversation.id),
        questions=store.insights(conversation.id, "question"),
        action_items=store.insights(conversation.id, "action_item"),
        follow_ups=store.insights(conversation.id, "follow_up"),
        analytics=get_analytics(conversation, store),
        summary=summary,
        call_score=score,
        call_score_note=note,
    )
    return HTMLResponse(render(page), headers=_PAGE_HEADERS)


@experience.post("/v1/conversations/{conversation_id}/transcript")
async def post_transcript(conversation: Owned, store: StoreDep, request: Request) -> dict[str, Any]:
    body = await json_object(request)
    try:
        options = TranscriptOptions.from_json(body)
    except TranscriptRequestError as error:
        raise ApiError(400, str(error)) from None

    def transcript() -> dict[str, Any]:
        insights = [i for kind in INSIGHT_TYPES for i in store.insights(conversation.id, kind)]
        return formatted(
            store.messages(conversation.id), options, insights, store.topics(conversation.id)
        )

    # Formatting a whole conversation is CPU work: off the event loop, as sync routes run.
    return await run_in_threadpool(transcript)

"""Conversation API routes that change who spoke, and the trackers a conversation ran with.

`PUT /v1/conversations/{id}/members/{memberId}` renames a member (name, email) everywhere
its messages and insights name it; `PUT …/speakers` takes speaker events and gives each
message to whoever spoke then. `GET …/trackers-detected` (and the deprecated
`GET …/trackers`) lists where the conversation's trackers occur, computed from its
stored messages and insights.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mock_symbl.session import speakers, trackers
from mock_symbl.store import Member
from mock_symbl.web.conversation_api import INSIGHT_TYPES
from mock_symbl.web.rest import ApiError, Owned, StoreDep, json_object

conversation_writes = APIRouter()


@conversation_writes.put("/v1/conversations/{conversation_id}/members/{member_id}")
async def update_member(
    member_id: str, conversation: Owned, store: StoreDep, request: Request
) -> dict[str, Any]:
    body = await json_object(request)
    given_id = body.get("id", member_id)
    if given_id != member_id:
        raise ApiError(400, f"id {given_id!r} in the body is not the member {member_id}.")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "name is required: the member's name, a non-empty string.")
    known = next((m for m in conversation.members if m.id == member_id), None)
    if known is None:
        raise ApiError(404, f"Member {member_id} is not in conversation {conversation.id}.")
    email = body.get("email", known.email)
    if email is not None and not isinstance(email, str):
        raise ApiError(400, "email must be a string.")
    # The rename rewrites every message and insight of the conversation: off the event loop.
    member = Member(member_id, name, email or None)
    if not await run_in_threadpool(store.update_member, conversation.id, member):
        raise ApiError(404, f"Member {member_id} is not in conversation {conversation.id}.")
    return {
        "message": f"Member with id: {member_id} for conversationId: {conversation.id} "
        "updated successfully! The update should be reflected in all messages and insights "
        "along with this conversation"
    }


@conversation_writes.put("/v1/conversations/{conversation_id}/speakers")
@conversation_writes.put("/v1/conversations/{conversation_id}/speakers/")
async def put_speaker_events(
    conversation: Owned, store: StoreDep, request: Request
) -> dict[str, Any]:
    body = await json_object(request)
    try:
        found = speakers.turns(body)
    except speakers.SpeakerEventsError as error:
        raise ApiError(400, str(error)) from None

    def assign() -> None:
        # Every message is matched against every turn, then rewritten: off the event loop.
        senders = speakers.senders(store.messages(conversation.id), found)
        store.assign_speakers(conversation.id, senders, speakers.speakers(found))

    await run_in_threadpool(assign)
    return {
        "message": f"Speaker events associated for conversationId: {conversation.id} "
        "successfully! The update should be reflected in all messages and insights along "
        "with this conversation"
    }


@conversation_writes.get("/v1/conversations/{conversation_id}/trackers-detected")
@conversation_writes.get("/v1/conversations/{conversation_id}/trackers")
def get_trackers_detected(conversation: Owned, store: StoreDep) -> list[dict[str, Any]]:
    found = [i for kind in INSIGHT_TYPES for i in store.insights(conversation.id, kind)]
    return trackers.detected(
        store.conversation_trackers(conversation.id), store.messages(conversation.id), found
    )

"""The Conversation API and token generation: routes and the JSON they answer with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from harness.protocol.bounded_json import JsonTooDeepError, loads
from mock_symbl.session.faults import INJECTED, FaultBoard
from mock_symbl.session.insights import sentiment_json
from mock_symbl.store import Conversation, Store, StoredInsight, StoredMessage
from mock_symbl.web.auth import App, AuthError, Authority
from mock_symbl.web.journal import CALLER, FROM_RECORDING, Journal
from mock_symbl.web.limits import FailureThrottle, RateLimiter

NOT_FOUND = "The conversationId is either invalid or does not exist."
T = TypeVar("T")


class ApiError(Exception):
    """An error answer: status code and the `message` of its JSON body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def api_error_response(_: Request, error: Exception) -> JSONResponse:
    """Render an ApiError as `{"message": …}`."""
    assert isinstance(error, ApiError)
    return JSONResponse({"message": error.message}, status_code=error.status, headers=error.headers)


def flag(value: str | None) -> bool:
    """A boolean query parameter: `true`/`True` (any case) is true."""
    return value is not None and value.lower() == "true"


def message_json(message: StoredMessage, sentiment: bool, verbose: bool) -> dict[str, Any]:
    """A message as `GET …/messages` returns it."""
    out: dict[str, Any] = {
        "id": message.id,
        "text": message.text,
        "from": message.sender.to_json(),
        "startTime": message.start_time,
        "endTime": message.end_time,
        "timeOffset": message.time_offset,
        "duration": message.duration,
        "conversationId": message.conversation_id,
        "phrases": [],
    }
    if sentiment:
        out["sentiment"] = sentiment_json(message.sentiment)
    if message.entities:
        out["entities"] = [entity.to_json() for entity in message.entities]
    if verbose:
        out["words"] = [
            {
                "word": w.word,
                "startTime": w.start_time,
                "endTime": w.end_time,
                "timeOffset": w.time_offset,
                "duration": w.duration,
                "score": w.score,
            }
            for w in message.words
        ]
    return out


def insight_json(insight: StoredInsight) -> dict[str, Any]:
    """A question, action item or follow-up as the Conversation API returns it."""
    out: dict[str, Any] = {
        "id": insight.id,
        "text": insight.text,
        "type": insight.type,
        "score": insight.score,
        "messageIds": list(insight.message_ids),
        "from": insight.sender.to_json(),
    }
    if insight.type != "question":
        out.update({"entities": [], "phrases": [], "definitive": True})
        if insight.assignee is not None:
            out["assignee"] = insight.assignee.to_json()
        if insight.due_by:
            out["dueBy"] = insight.due_by
    return out


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _authority(request: Request) -> Authority:
    authority: Authority = request.app.state.authority
    return authority


def request_token(request: Request) -> str | None:
    """The token a request carries: `Authorization: Bearer`, else `x-api-key`."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return token or request.headers.get("x-api-key")


def current_app(request: Request) -> App:
    """The app whose token the request carries (`Authorization: Bearer` or `x-api-key`)."""
    try:
        app = _authority(request).verify(request_token(request))
    except AuthError as error:
        raise ApiError(401, str(error)) from None
    limiter: RateLimiter | None = request.app.state.rate_limiter
    wait = limiter.retry_after(app.key) if limiter is not None else None
    if wait is not None:
        raise ApiError(429, f"Too many requests; retry after {wait} s.", {"Retry-After": str(wait)})
    return app


def no_injected_fault(request: Request, app: App) -> None:
    """Answer with the fault injected for the app's next Conversation API request, if any."""
    faults: FaultBoard = request.app.state.faults
    injected = faults.rest_fault(app.key)
    if injected is None:
        return
    if injected[0] == 429:
        raise ApiError(
            429,
            f"{INJECTED}: too many requests.",
            {"Retry-After": str(injected[1]), "X-Mock-Fault": "429"},
        )
    raise ApiError(injected[0], f"{INJECTED}: internal server error.", {"X-Mock-Fault": "500"})


def owned(
    conversation_id: str, request: Request, app: Annotated[App, Depends(current_app)]
) -> Conversation:
    """The conversation named in the path, if the caller's app owns it."""
    setattr(request.state, CALLER, app.key)
    no_injected_fault(request, app)
    conversation = _store(request).conversation(conversation_id, app.key)
    if conversation is None:
        raise ApiError(404, NOT_FOUND)
    journal: Journal = request.app.state.journal
    prefix, path = f"/v1/conversations/{conversation_id}", request.url.path
    # A recording holds calls under the conversation's own path; a route elsewhere (the
    # Insights UI's) is never answered from one.
    answer = (
        journal.recorded_answer(
            app.key, conversation_id, request.method, path[len(prefix) :], request.url.query
        )
        if path.startswith(prefix)
        else None
    )
    if answer is not None:
        setattr(request.state, FROM_RECORDING, True)
        raise RecordedAnswer(*answer)
    return conversation


class RecordedAnswer(Exception):  # noqa: N818 (an answer, not an error)
    """The answer a recording got to this same call, to send as it is."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def recorded_answer_response(_: Request, answer: Exception) -> JSONResponse:
    """Render a RecordedAnswer."""
    assert isinstance(answer, RecordedAnswer)
    return JSONResponse(answer.body, status_code=answer.status)


Owned = Annotated[Conversation, Depends(owned)]
StoreDep = Annotated[Store, Depends(_store)]
api = APIRouter()


async def json_body(request: Request) -> Any:
    """The request's body, which must be JSON (400 otherwise)."""
    try:
        return loads(await request.body())
    except JsonTooDeepError as error:
        raise ApiError(400, f"The request body is not acceptable JSON: {error}.") from None
    except ValueError:
        raise ApiError(400, "The request body must be JSON.") from None


async def json_object(request: Request) -> dict[str, Any]:
    """The request's body, which must be a JSON object (400 otherwise)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _throttled(throttle: FailureThrottle | None, keys: list[str]) -> None:
    """429 while any of the keys has failed too often (the answer says nothing else)."""
    wait = throttle.retry_after(keys) if throttle is not None else None
    if wait is not None:
        raise ApiError(
            429,
            f"Too many failed token requests; retry after {wait} s.",
            {"Retry-After": str(wait)},
        )


def _token_credentials(body: dict[str, Any]) -> tuple[str, str]:
    return str(body.get("appId") or ""), str(body.get("appSecret") or "")


async def _token_call(request: Request, work: Callable[[dict[str, Any], Authority], T]) -> T:
    """Run a token request under the failure throttle: bad input or credentials count
    against the client's address and the appId it named."""
    throttle: FailureThrottle | None = request.app.state.token_throttle
    keys = [f"address {request.client.host if request.client else ''}"]
    _throttled(throttle, keys)
    try:
        body = await json_object(request)
        keys.append(f"app {body.get('appId') or ''}")
        # Refused even with the right secret: a guesser must learn nothing while throttled.
        _throttled(throttle, keys[1:])
        try:
            return work(body, _authority(request))
        except AuthError as error:
            raise ApiError(401, str(error)) from None
    except ApiError as error:
        if throttle is not None and error.status in (400, 401):
            throttle.failed(keys)
        raise


@api.post("/oauth2/token:generate")
async def generate_token(request: Request) -> dict[str, Any]:
    def generate(body: dict[str, Any], authority: Authority) -> dict[str, Any]:
        if body.get("type", "application") != "application":
            raise ApiError(400, f"Unsupported type {body.get('type')!r}; use 'application'.")
        return authority.generate(*_token_credentials(body)).to_json()

    return await _token_call(request, generate)


@api.post("/oauth2/token:refresh")
async def refresh_token(request: Request) -> dict[str, Any]:
    def refresh(body: dict[str, Any], authority: Authority) -> dict[str, Any]:
        given = body.get("refreshToken")
        if not isinstance(given, str) or not given:
            raise ApiError(400, "refreshToken is required: the one a token answer carried.")
        return authority.refresh(*_token_credentials(body), given).to_json()

    return await _token_call(request, refresh)


@api.delete("/oauth2/token:revoke")
@api.post("/oauth2/token:revoke")
async def revoke_token(request: Request) -> dict[str, Any]:
    """Revoke the token named in the body (`token` or `accessToken`), else the one the
    request carries; the body holds the app's credentials."""

    def revoke(body: dict[str, Any], authority: Authority) -> dict[str, Any]:
        named = body.get("token", body.get("accessToken"))
        if named is not None and not isinstance(named, str):
            raise ApiError(400, "token must be a string: the access token to revoke.")
        token = named or request_token(request)
        if not token:
            raise ApiError(
                400,
                "No token to revoke: send it as Authorization: Bearer, x-api-key or the "
                "body's token.",
            )
        authority.revoke(*_token_credentials(body), token)
        return {"message": "Token revoked."}

    return await _token_call(request, revoke)


@api.get("/v1/conversations/{conversation_id}")
def get_conversation(conversation: Owned) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "type": "meeting",
        "name": conversation.name or "Conversation",
        "startTime": conversation.start_time,
        "endTime": conversation.end_time,
        "members": [{"id": m.id, "name": m.name, "email": m.email} for m in conversation.members],
        "metadata": {},
    }


@api.delete("/v1/conversations/{conversation_id}")
def delete_conversation(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    store.delete_conversation(conversation.id)
    return {"message": "successfully deleted the conversation"}


@api.get("/v1/conversations/{conversation_id}/messages")
def get_messages(
    conversation: Owned,
    store: StoreDep,
    sentiment: str | None = None,
    verbose: str | None = None,
) -> dict[str, Any]:
    return {
        "messages": [
            message_json(m, flag(sentiment), flag(verbose)) for m in store.messages(conversation.id)
        ]
    }


@api.get("/v1/conversations/{conversation_id}/topics")
def get_topics(
    conversation: Owned,
    store: StoreDep,
    sentiment: str | None = None,
    parent_refs: Annotated[str | None, Query(alias="parentRefs")] = None,
) -> dict[str, Any]:
    # parentRefs is accepted as the API documents it; the mock's topics form no hierarchy,
    # so `parentRefs` is always empty.
    topics = []
    for topic in store.topics(conversation.id):
        out: dict[str, Any] = {
            "id": topic.id,
            "text": topic.text,
            "type": "topic",
            "score": topic.score,
            "messageIds": list(topic.message_ids),
            "parentRefs": [],
        }
        if flag(sentiment):
            out["sentiment"] = sentiment_json(topic.sentiment)
        topics.append(out)
    return {"topics": topics}


@api.get("/v1/conversations/{conversation_id}/questions")
def get_questions(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    return {"questions": [insight_json(i) for i in store.insights(conversation.id, "question")]}


@api.get("/v1/conversations/{conversation_id}/action-items")
def get_action_items(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    items = store.insights(conversation.id, "action_item")
    return {"actionItems": [insight_json(i) for i in items]}


@api.get("/v1/conversations/{conversation_id}/follow-ups")
def get_follow_ups(conversation: Owned, store: StoreDep) -> dict[str, Any]:
    items = store.insights(conversation.id, "follow_up")
    return {"followUps": [insight_json(i) for i in items]}


@api.get("/v1/conversations/{conversation_id}/members")
def get_members(conversation: Owned) -> dict[str, Any]:
    return {
        "members": [{"id": m.id, "name": m.name, "email": m.email} for m in conversation.members]
    }

"""Every REST route of Symbl's the official clients know: method, path, request, response model.

The routes are those of `symbl_rest` 1.0.14 (`symbl_rest/api/*.py`: each function's path, method
and `response_type`), plus the routes Symbl documents that `symbl_rest` does not know (their
models are in `contract_models.DOCS_MODELS`). `SERVED` names the routes the mock answers; the
contract tests hold it to the mock's own route table both ways, so a route added to the mock
without being added here fails, and so does one listed here that the mock lacks.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from helpers import encoded

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sessions"
# The fixture uploaded to the Async API's audio routes and served for its URL routes.
UPLOAD = "hot"


class Context(Protocol):
    """What a request needs from the running test: ids and files made for real.

    `app_id` and `app_secret` are the credentials the call is made with (its own app's for a
    route with `own_app`).
    """

    app_id: str
    app_secret: str

    def member(self) -> dict[str, Any]:
        """A member (`{"id", "name", "email"}`) of the conversation the route is called on."""
        ...

    def media_url(self, path: Path) -> str:
        """A loopback URL that serves a file."""
        ...

    def phrases(self, name: str) -> list[str]:
        """The phrases spoken in a fixture, from its transcript."""
        ...

    def refresh_token(self) -> str:
        """The refresh token token generation gave (the access token where it gave none)."""
        ...


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: JSON, or raw bytes with their content type."""

    json: Any = None
    content: bytes | None = None
    content_type: str | None = None


BodyOf = Callable[[Context], Body]


@dataclass(frozen=True, slots=True)
class Route:
    """One route: how to call it and what it must answer.

    `model` is a swagger type (`Token`, `list[TrackersListResponse]`) or None when the answer
    has no documented body. `mutates` routes change their conversation, so each gets a fresh
    one; `own_app` routes may end their app's token, so each is called as an app of its own.
    Path parameters are made for real: `conversationId` (a streamed fixture), `id` (a member
    of it), `jobId` (from POST /v1/process/text), `trackerId` (from POST /v1/manage/tracker,
    a new tracker for each call), `connectionId` (a call started with POST /v1/endpoint:connect);
    `metricId` names nothing made before.
    """

    method: str
    path: str
    model: str | None
    api: str
    source: str
    query: dict[str, str] = field(default_factory=dict)
    body: BodyOf | None = None
    mutates: bool = False
    own_app: bool = False

    @property
    def key(self) -> str:
        """`METHOD /path/{param}`: the route's name in tests and in drift.json."""
        return f"{self.method} {self.path}"


def _text_messages(ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "payload": {"content": phrase, "contentType": "text/plain"},
            "from": {"name": "Jane", "userId": "jane@example.com"},
        }
        for phrase in ctx.phrases("feedback")
    ]


def text_body(ctx: Context) -> Body:
    return Body(json={"name": "Feedback", "messages": _text_messages(ctx)})


def _wav(_: Context) -> Body:
    return Body(content=(FIXTURES / UPLOAD / "audio.wav").read_bytes(), content_type="audio/wav")


@functools.cache
def _video() -> Path:
    """The uploaded fixture's audio in an MP4 (AAC, with a small moving picture), made once."""
    folder = Path(tempfile.mkdtemp(prefix="contract-video-"))
    video = folder / f"{UPLOAD}.mp4"
    video.write_bytes(encoded(FIXTURES / UPLOAD / "audio.wav", "mp4", "aac", video="mpeg4"))
    return video


def _mp4(_: Context) -> Body:
    return Body(content=_video().read_bytes(), content_type="video/mp4")


def _wav_url(ctx: Context) -> Body:
    return Body(json={"url": ctx.media_url(FIXTURES / UPLOAD / "audio.wav"), "name": UPLOAD})


def _mp4_url(ctx: Context) -> Body:
    return Body(json={"url": ctx.media_url(_video()), "name": UPLOAD})


def _member_update(ctx: Context) -> Body:
    member = ctx.member()
    return Body(json={"id": member["id"], "email": "jane.doe@example.com", "name": "Jane Doe"})


def _speaker_events(ctx: Context) -> Body:
    # The shape of Symbl's speakers page (user and offset objects); symbl_rest's
    # ConversationSpeakersEvents types them as lists, which no documented example sends.
    member = ctx.member()
    user = {"id": member["id"], "name": member["name"], "email": member["email"]}
    return Body(
        json={
            "speakerEvents": [
                {"type": "started_speaking", "user": user, "offset": {"seconds": 0, "nanos": 0}},
                {"type": "stopped_speaking", "user": user, "offset": {"seconds": 2, "nanos": 0}},
            ]
        }
    )


def _transcript(_: Context) -> Body:
    return Body(
        json={
            "contentType": "text/markdown",
            "createParagraphs": True,
            "phrases": {"highlightOnlyInsightKeyPhrases": True, "highlightAllKeyPhrases": True},
            "showSpeakerSeparation": True,
        }
    )


def _grant(ctx: Context) -> Body:
    return Body(json={"type": "application", "appId": ctx.app_id, "appSecret": ctx.app_secret})


def _refresh(ctx: Context) -> Body:
    return Body(
        json={"appId": ctx.app_id, "appSecret": ctx.app_secret, "refreshToken": ctx.refresh_token()}
    )


def _revoke(ctx: Context) -> Body:
    return Body(json={"appId": ctx.app_id, "appSecret": ctx.app_secret})


def _tracker(_: Context) -> Body:
    return Body(json={"name": "Contract Budget", "vocabulary": ["budget", "quarterly report"]})


def _trackers(_: Context) -> Body:
    return Body(json=[{"name": "Contract Deadline", "vocabulary": ["by Friday", "deadline"]}])


def _tracker_update(_: Context) -> Body:
    # A name of its own: tracker names are unique per app (409 otherwise).
    return Body(json={"name": "Contract Pricing", "vocabulary": ["budget", "cost", "price"]})


def _endpoint_connect(_: Context) -> Body:
    return Body(
        json={
            "operation": "start",
            # The SIP user names the recording that answers the call (a fixture).
            "endpoint": {"type": "sip", "uri": f"sip:{UPLOAD}@127.0.0.1"},
            "data": {"session": {"name": "Contract call"}},
        }
    )


def _external_event(ctx: Context) -> Body:
    return Body(
        json={
            "topic": "speaker",
            "type": "started_speaking",
            "user": {"id": "contract-speaker", "name": "Jane", "userId": "jane@example.com"},
            "timestamp": "2026-01-01T00:00:00.000Z",
        }
    )


def _metric_entry(_: Context) -> Body:
    return Body(json={"value": 1.0, "labels": [{"key": "source", "value": "contract"}]})


CONVERSATIONS = "Conversation API"
ASYNC = "Async API"
JOBS = "Jobs API"
AUTH = "Authentication"
MANAGEMENT = "Management API"
TELEPHONY = "Telephony API"
EXPERIENCE = "Experience API"
METRICS = "Metric API"

CONV = "/v1/conversations/{conversationId}"
_ASYNC_QUERY = {"name": "Contract upload"}


def _rest(api: str, function: str) -> str:
    return f"symbl_rest {api}.{function}"


def _docs(page: str) -> str:
    return f"symbl-docs {page}"


def _async(
    path: str, kind: str, body: BodyOf, query: dict[str, str] | None = None
) -> tuple[Route, Route]:
    """An Async API route's two forms: the POST that starts a conversation (symbl_rest's
    `add_{kind}`) and the PUT that appends to one (`append_{kind}`)."""
    query = query or {}
    return (
        Route(
            "POST",
            path,
            "AsyncResponse",
            ASYNC,
            _rest("AsyncApi", f"add_{kind}"),
            query=query,
            body=body,
        ),
        Route(
            "PUT",
            f"{path}/{{conversationId}}",
            "AsyncResponse",
            ASYNC,
            _rest("AsyncApi", f"append_{kind}"),
            query=query,
            body=body,
            mutates=True,
        ),
    )


ROUTES: tuple[Route, ...] = (
    # Authentication
    Route("POST", "/oauth2/token:generate", "Token", AUTH,
          _rest("AuthenticationApi", "generate_token"), body=_grant),
    Route("POST", "/oauth2/token:refresh", "Token", AUTH,
          _rest("AuthenticationApi", "refresh_token"), body=_refresh, own_app=True),
    Route("DELETE", "/oauth2/token:revoke", None, AUTH,
          _rest("AuthenticationApi", "revoke_token"), body=_revoke, own_app=True),
    # Conversation API
    Route("GET", "/v1/conversations", "ConversationListResponse", CONVERSATIONS,
          _docs("docs/conversation-api/api-reference/all-conversations.md"),
          query={"limit": "20", "order": "desc"}),
    Route("GET", CONV, "ConversationDataListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_conversation_by_conversation_id")),
    Route("DELETE", CONV, "DeleteConversationResponse", CONVERSATIONS,
          _docs("docs/conversation-api/api-reference/delete.md"), mutates=True),
    Route("GET", f"{CONV}/messages", "MessageListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_messages_by_conversation_id"),
          query={"sentiment": "true", "verbose": "true"}),
    Route("GET", f"{CONV}/topics", "TopicListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_topics_by_conversation_id"),
          query={"sentiment": "true", "parentRefs": "true"}),
    Route("GET", f"{CONV}/questions", "QuestionListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_questions_by_conversation_id")),
    Route("GET", f"{CONV}/action-items", "ActionItemListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_action_items_by_conversation_id")),
    Route("GET", f"{CONV}/follow-ups", "FollowUpListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_follow_ups_by_conversation_id")),
    Route("GET", f"{CONV}/members", "MemberListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_members_by_conversation_id")),
    Route("PUT", f"{CONV}/members/{{id}}", "PutMembersInformationResponse", CONVERSATIONS,
          _rest("ConversationsApi", "put_members_information_by_members_id"),
          body=_member_update, mutates=True),
    Route("PUT", f"{CONV}/speakers", "PutSpeakersEventsResponse", CONVERSATIONS,
          _rest("ConversationsApi", "put_speakers_event_by_conversation_id"),
          body=_speaker_events, mutates=True),
    Route("GET", f"{CONV}/analytics", "AnalyticsListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_analytics_by_conversation_id")),
    Route("GET", f"{CONV}/insights", "InsightsListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_insights_by_conversation_id")),
    Route("GET", f"{CONV}/intents", "IntentListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_intents_by_conversation_id")),
    Route("GET", f"{CONV}/entities", "EntitiesListResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_entities_by_conversation_id")),
    Route("GET", f"{CONV}/trackers", "list[TrackersListResponse]", CONVERSATIONS,
          _rest("ConversationsApi", "get_trackers_by_conversation_id")),
    Route("GET", f"{CONV}/trackers-detected", "list[TrackersListResponse]", CONVERSATIONS,
          _docs("docs/conversation-api/api-reference/trackers.md")),
    Route("GET", f"{CONV}/summary", "SummaryListResponse", CONVERSATIONS,
          _docs("docs/conversation-api/api-reference/summary.md")),
    Route("POST", f"{CONV}/transcript", "FormattedTranscriptResponse", CONVERSATIONS,
          _docs("docs/conversation-api/api-reference/transcript.md"), body=_transcript),
    Route("GET", f"{CONV}/callscore", "CallScoreResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_call_score_by_conversation_id")),
    Route("GET", f"{CONV}/callscore/status", "CallScoreStatusResponse", CONVERSATIONS,
          _rest("ConversationsApi", "get_call_score_status_by_conversation_id")),
    Route("GET", "/v1/conversations/experiences/insights/details/{conversationId}",
          "ExperienceResponse", EXPERIENCE,
          _rest("ConversationsApi", "get_experience_url_by_conversation_id"),
          query={"includeCallScore": "true"}),
    # Async API
    *_async("/v1/process/text", "text", text_body),
    *_async("/v1/process/audio", "audio", _wav, _ASYNC_QUERY),
    *_async("/v1/process/audio/url", "audio_url", _wav_url),
    *_async("/v1/process/video", "video", _mp4, _ASYNC_QUERY),
    *_async("/v1/process/video/url", "video_url", _mp4_url),
    Route("GET", "/v1/job/{jobId}", "JobResponse", JOBS, _rest("JobsApi", "get_job_status")),
    # Management API (trackers)
    Route("POST", "/v1/manage/tracker", "ManagedTrackerResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/create-tracker.md"), body=_tracker),
    Route("POST", "/v1/manage/trackers", "ManagedTrackerListResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/create-tracker.md"), body=_trackers),
    Route("GET", "/v1/manage/trackers", "ManagedTrackerListResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/get-tracker.md")),
    Route("GET", "/v1/manage/tracker/{trackerId}", "ManagedTrackerResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/get-tracker.md")),
    Route("PUT", "/v1/manage/tracker/{trackerId}", "ManagedTrackerResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/update-tracker.md"), body=_tracker_update),
    Route("DELETE", "/v1/manage/tracker/{trackerId}", "DeletedEntityResponse", MANAGEMENT,
          _docs("docs/management-api/trackers/delete-tracker.md")),
    # Telephony and the rest of what symbl_rest knows
    Route("POST", "/v1/endpoint:connect", "EndpointConnectResponse", TELEPHONY,
          _rest("ConnectionToEndpointApi", "connect_to_endpoint"), body=_endpoint_connect),
    Route("POST", "/v1/event/{connectionId}", None, TELEPHONY,
          _rest("ExternalEventWebHookApi", "external_event_web_hook"), body=_external_event),
    Route("GET", "/v1/metric/{metricId}", "MetricResponse", METRICS,
          _rest("MetricApi", "get_metric_by_id")),
    Route("POST", "/v1/metric/{metricId}/entry", "MetricEntryResponse", METRICS,
          _rest("MetricApi", "add_metric_entry"), body=_metric_entry),
)  # fmt: skip

# The routes the mock answers. Add a route here when the mock serves it: its contract test then
# calls it for real and validates the answer; drift.json must list its drift and extensions, and
# docs/coverage.md must mark it served.
SERVED: frozenset[str] = frozenset(
    {
        "POST /oauth2/token:generate",
        f"GET {CONV}",
        f"DELETE {CONV}",
        f"GET {CONV}/messages",
        f"GET {CONV}/topics",
        f"GET {CONV}/questions",
        f"GET {CONV}/action-items",
        f"GET {CONV}/follow-ups",
        f"GET {CONV}/members",
        "GET /v1/conversations",
        f"GET {CONV}/analytics",
        f"GET {CONV}/insights",
        f"GET {CONV}/intents",
        f"GET {CONV}/summary",
        f"GET {CONV}/callscore",
        f"GET {CONV}/callscore/status",
        "POST /oauth2/token:refresh",
        "DELETE /oauth2/token:revoke",
        "PUT /v1/conversations/{conversationId}/members/{id}",
        "PUT /v1/conversations/{conversationId}/speakers",
        "GET /v1/conversations/{conversationId}/trackers",
        "GET /v1/conversations/{conversationId}/trackers-detected",
        "POST /v1/manage/tracker",
        "POST /v1/manage/trackers",
        "GET /v1/manage/trackers",
        "GET /v1/manage/tracker/{trackerId}",
        "PUT /v1/manage/tracker/{trackerId}",
        "DELETE /v1/manage/tracker/{trackerId}",
        "POST /v1/process/text",
        "PUT /v1/process/text/{conversationId}",
        "POST /v1/process/audio",
        "PUT /v1/process/audio/{conversationId}",
        "POST /v1/process/audio/url",
        "PUT /v1/process/audio/url/{conversationId}",
        "POST /v1/process/video",
        "PUT /v1/process/video/{conversationId}",
        "POST /v1/process/video/url",
        "PUT /v1/process/video/url/{conversationId}",
        "GET /v1/job/{jobId}",
        f"GET {CONV}/entities",
        f"POST {CONV}/transcript",
        "GET /v1/conversations/experiences/insights/details/{conversationId}",
        "POST /v1/endpoint:connect",
        "POST /v1/event/{connectionId}",
    }
)

BY_KEY: dict[str, Route] = {r.key: r for r in ROUTES}

"""The official Python SDK (symbl 2.0.6, unmodified, only its host pointed at the mock):
`symbl.Streaming.start_connection` with every callback, stop, then every Conversation API call
the SDK has, on the conversation it streamed.

One client run serves the module: it streams the standup fixture (the mock answers any
connection with that fixture's transcript, so the words are exact) and then makes every REST
call; each test checks one part of what it printed.

The SDK's REST wrappers swallow errors: on any failure (an HTTP error, an answer its model
refuses) they return `{'message': 'The conversationId is either invalid or does not exist.'}`
(or None), never raise. So every REST check first asserts the returned object is the SDK's
model class (`type`), not that dict: a swallowed error fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sdk_clients import Events, of, phrase_words, python_client, rest, run_client, words

from mock_symbl import JournalEntry, MockConfig, RunningMock, running_mock

from helpers import FIXTURES

FIXTURE = "standup"  # 24 s at 16 kHz: questions, action items, a follow-up
SWALLOWED = "dict"  # what a swallowed error comes back as
MEETING_TITLE = "python-sdk test"
SPEAKER = {"userId": "jane.doe@example.com", "name": "Jane"}


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    config = MockConfig(engine="transcript", transcripts=(FIXTURES / FIXTURE,), seed=11)
    with running_mock(config) as running:
        yield running


@pytest.fixture(scope="module")
def run(python_sdk: None, mock: RunningMock) -> tuple[Events, JournalEntry]:
    """The client's output and the mock's journal entry for its connection."""
    wav = FIXTURES / FIXTURE / "audio.wav"
    events = run_client(python_client("stream", str(wav)), mock.base_url)
    (started,) = of(events, "started")
    # A connect race the client retried leaves an idle socket with another id: ignore it.
    entries = [e for e in mock.journal(settle_s=10) if e.connection_id == started["connectionId"]]
    assert len(entries) == 1, entries
    return events, entries[0]


@pytest.fixture(scope="module")
def events(run: tuple[Events, JournalEntry]) -> Events:
    return run[0]


@pytest.fixture(scope="module")
def conversation_id(events: Events) -> str:
    (conversation,) = of(events, "conversation")
    assert conversation["conversationId"], "the SDK saw no conversation_created"
    return str(conversation["conversationId"])


def answer(events: Events, call: str, model: str) -> Any:
    """The result of a REST call that must have returned the SDK model `model`."""
    reply = rest(events, call)
    assert reply["type"] == model, f"{call} returned {reply['type']}: {reply['result']}"
    return reply["result"]


def messages_of(events: Events) -> list[dict[str, Any]]:
    return [m for e in of(events, "message_response") for m in e["data"]["messages"]]


def test_streaming_hands_each_event_to_its_callback_in_order(
    events: Events, conversation_id: str
) -> None:
    phrases = phrase_words(FIXTURE)
    lifecycle = [
        e["message"]["type"]
        for e in of(events, "message")
        if e["message"]["type"] != "recognition_result"
    ]
    # The SDK consumes conversation_created and started_listening itself, and sends its start
    # request before the app can subscribe: recognition_started may come before any callback.
    if lifecycle[0] == "recognition_started":
        started = of(events, "message")[0]["message"]
        assert started["data"]["conversationId"] == conversation_id
        lifecycle = lifecycle[1:]
    assert lifecycle == ["conversation_completed", "recognition_stopped"]
    completed = next(
        e["message"] for e in of(events, "message")
        if e["message"]["type"] == "conversation_completed"
    )  # fmt: skip
    assert completed["conversationId"] == completed["data"]["conversationId"] == conversation_id

    # Live captions: partials grow word by word within a phrase; each final is the phrase.
    results = [
        e["message"] for e in of(events, "message")
        if e["message"]["type"] == "recognition_result"
    ]  # fmt: skip
    finals = [words(r["punctuated"]["transcript"]) for r in results if r["isFinal"]]
    assert finals == phrases
    phrase = 0
    for result in results:
        heard = [w["word"] for w in result["payload"]["raw"]["alternatives"][0]["words"]]
        assert heard == phrases[phrase][: len(heard)], (heard, phrases[phrase])
        assert result["user"]["name"] == SPEAKER["name"]
        phrase += bool(result["isFinal"])

    # Messages: one per phrase, in order, each with the sentiment the start request asked for.
    messages = messages_of(events)
    assert [words(m["payload"]["content"]) for m in messages] == phrases
    for message in messages:
        assert message["from"]["userId"] == SPEAKER["userId"]
        assert message["sentiment"]["suggested"] in {"positive", "neutral", "negative"}

    # Insights, topics and trackers refer only to messages already delivered.
    seen: set[str] = set()
    insights: list[dict[str, Any]] = []
    for event in events:
        if event["event"] == "message_response":
            seen.update(m["id"] for m in event["data"]["messages"])
        elif event["event"] == "insight_response":
            for insight in event["data"]["insights"]:
                assert insight["messageReference"]["id"] in seen
                insights.append(insight)
        elif event["event"] == "topic_response":
            for topic in event["data"]["topics"]:
                assert {r["id"] for r in topic["messageReferences"]} <= seen
        elif event["event"] == "tracker_response":
            for tracker in event["data"]["trackers"]:
                for match in tracker["matches"]:
                    assert {r["id"] for r in match["messageRefs"]} <= seen
    by_type = {(i["type"], i["text"]) for i in insights}
    assert ("question", "Can you send me the quarterly report by Friday?") in by_type
    assert ("question", "What is the status of the mobile release?") in by_type
    assert ("follow_up", "Let us follow up with the customer on Monday.") in by_type
    assert {t for t, _ in by_type} <= {"question", "action_item", "follow_up"}

    # The tracker the start request defined found its words where they were said.
    matched = {
        (match["value"], ref["text"])
        for e in of(events, "tracker_response")
        for tracker in e["data"]["trackers"]
        if tracker["name"] == "Reports"
        for match in tracker["matches"]
        for ref in match["messageRefs"]
    }
    assert ("report", "Can you send me the quarterly report by Friday?") in matched
    assert ("dashboard", "I will update the project dashboard tomorrow morning.") in matched

    # Everything the conversation said came before it was completed.
    completed_at = next(
        i for i, e in enumerate(events)
        if e["event"] == "message" and e["message"]["type"] == "conversation_completed"
    )  # fmt: skip
    kinds = ("message_response", "insight_response", "topic_response", "tracker_response")
    assert max(i for i, e in enumerate(events) if e["event"] in kinds) < completed_at
    assert of(events, "stopped") == [{"event": "stopped", "completed": True}]


def test_the_mock_saw_what_the_sdk_sent_and_reports_its_ids(
    run: tuple[Events, JournalEntry], conversation_id: str
) -> None:
    events, entry = run
    assert entry.conversation_id == conversation_id
    (started,) = of(events, "started")
    assert entry.start_request is not None
    sent = started["startRequest"]
    assert entry.start_request["config"] == sent["config"]
    assert entry.start_request["insightTypes"] == ["question", "action_item", "follow_up"]
    assert entry.start_request["speaker"] == SPEAKER
    assert entry.start_request["trackers"] == sent["trackers"]
    # The SDK sends its stop request as a Python dict's text; the mock honours and reports it.
    assert "stop_request_not_json" in entry.findings


def test_the_conversation_api_reads_back_the_streamed_conversation(
    events: Events, conversation_id: str
) -> None:
    streamed = messages_of(events)
    conversation = answer(events, "get_conversation", "ConversationDataListResponse")
    assert conversation["id"] == conversation_id
    assert conversation["type"] == "meeting"
    assert [m["email"] for m in conversation["members"]] == [SPEAKER["userId"]]
    assert conversation["start_time"] <= conversation["end_time"]

    messages = answer(events, "get_messages", "MessageListResponse")["messages"]
    assert [m["text"] for m in messages] == [m["payload"]["content"] for m in streamed]
    assert [m["id"] for m in messages] == [m["id"] for m in streamed]
    for message in messages:
        assert message["conversation_id"] == conversation_id
        assert message["sentiment"]["suggested"] in {"positive", "neutral", "negative"}
        assert -1 <= message["sentiment"]["polarity"]["score"] <= 1
        # verbose=True: the words, in the order spoken.
        assert [w["word"] for w in message["words"]] == words(message["text"])
        assert message["start_time"] <= message["end_time"]

    message_ids = {m["id"] for m in messages}
    topics = answer(events, "get_topics", "TopicListResponse")["topics"]
    assert topics, "no topics"
    for topic in topics:
        assert topic["type"] == "topic"
        assert set(topic["message_ids"]) <= message_ids
        assert topic["sentiment"]["suggested"] in {"positive", "neutral", "negative"}
    questions = answer(events, "get_questions", "QuestionListResponse")["questions"]
    assert [q["text"] for q in questions] == [
        "Can you send me the quarterly report by Friday?",
        "What is the status of the mobile release?",
    ]
    actions = answer(events, "get_action_items", "ActionItemListResponse")["action_items"]
    assert "I will update the project dashboard tomorrow morning." in [a["text"] for a in actions]
    follow_ups = answer(events, "get_follow_ups", "FollowUpListResponse")["follow_ups"]
    assert [f["text"] for f in follow_ups] == ["Let us follow up with the customer on Monday."]
    for insight in [*questions, *actions, *follow_ups]:
        assert set(insight["message_ids"]) <= message_ids
    members = answer(events, "get_members", "MemberListResponse")["members"]
    assert [(m["name"], m["email"]) for m in members] == [(SPEAKER["name"], SPEAKER["userId"])]


def test_the_conversation_is_named_by_the_meeting_title_the_sdk_sent(events: Events) -> None:
    # The SDK can only send `meetingTitle` inside `config`, where Symbl's streaming reference
    # documents it.
    conversation = answer(events, "get_conversation", "ConversationDataListResponse")
    assert conversation["name"] == MEETING_TITLE


def test_analytics_entities_and_trackers_through_the_sdk(events: Events) -> None:
    analytics = answer(events, "get_analytics", "AnalyticsListResponse")
    assert {m["type"] for m in analytics["metrics"]} >= {"total_silence", "total_talk_time"}
    (member,) = analytics["members"]
    assert member["name"] == SPEAKER["name"]
    assert member["talk_time"]["seconds"] > 0

    # With entities found, the SDK turns the answer into a plain dict with `entities`; with
    # none, it returns the model. A swallowed error is a dict with `message` instead.
    entities = rest(events, "get_entities")
    assert entities["type"] in {"EntitiesListResponse", SWALLOWED}, entities
    assert "entities" in entities["result"], entities["result"]

    trackers = answer(events, "get_trackers", "list[TrackersListResponse]")
    (reports,) = [t for t in trackers if t["name"] == "Reports"]
    values = {m["value"] for m in reports["matches"]}
    assert {"report", "dashboard"} <= values


def test_call_score_through_the_sdk(events: Events) -> None:
    score = answer(events, "get_call_score", "CallScoreResponse")
    assert 0 <= score["score"] <= 100
    status = answer(events, "get_call_score_status", "CallScoreStatusResponse")
    assert status["status"] in {"in_progress", "completed", "failed"}
    url = answer(events, "get_call_score_insights_url", "ExperienceResponse")
    assert url["url"].startswith("http")


def test_insights_and_intents_through_the_generated_client(events: Events) -> None:
    # symbl_rest, the SDK's own generated client: these calls have no wrapper in `symbl`.
    insights = answer(events, "rest.get_insights", "InsightsListResponse")["insights"]
    assert {(i["type"], i["text"]) for i in insights} >= {
        ("question", "What is the status of the mobile release?"),
        ("follow_up", "Let us follow up with the customer on Monday."),
    }
    intents = rest(events, "rest.get_intents")
    assert intents["type"] == "IntentListResponse", intents
    assert isinstance(intents["result"]["intents"], list)


def test_member_and_speaker_updates(run: tuple[Events, JournalEntry], conversation_id: str) -> None:
    events, entry = run
    # symbl 2.0.6's wrappers pass their arguments to the generated client in the wrong
    # order (TypeError, swallowed): they never send a request. The generated client does.
    assert rest(events, "put_members")["type"] == SWALLOWED
    assert rest(events, "put_speakers_events")["type"] == SWALLOWED
    updated = answer(events, "rest.put_members", "PutMembersInformationResponse")
    assert updated["message"]
    speakers = answer(events, "rest.put_speakers_events", "PutSpeakersEventsResponse")
    assert speakers["message"]
    members = answer(events, "get_members_after_put", "MemberListResponse")["members"]
    assert [(m["name"], m["email"]) for m in members] == [("Jane Doe", SPEAKER["userId"])]
    puts = [c for c in entry.rest if c["method"] == "PUT"]
    assert [(c["path"].split(conversation_id)[-1], c["status"]) for c in puts] == [
        (f"/members/{members[0]['id']}", 200),
        ("/speakers", 200),
    ]


def test_token_refresh_and_revoke_through_the_generated_client(events: Events) -> None:
    generated = answer(events, "rest.generate_token", "Token")
    assert generated["access_token"] and generated["expires_in"] > 0
    refreshed = answer(events, "rest.refresh_token", "Token")
    assert refreshed["access_token"] and refreshed["expires_in"] > 0
    # The generated client declares no answer for a revocation: None when it succeeded.
    assert rest(events, "rest.revoke_token")["type"] == "NoneType"

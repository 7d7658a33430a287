"""The Conversation API routes computed from a stored conversation, over HTTP on loopback:
the list of an app's conversations, analytics, summary, insights, intents and call score.

Each answer is checked against the conversation it comes from and against the shape of
its model in Symbl's generated client (`symbl_rest`)."""

from __future__ import annotations

import importlib.util
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_symbl import MockConfig, RunningMock, running_mock
from mock_symbl.session import insights as found_in
from mock_symbl.session.analysis.analytics import analytics
from mock_symbl.session.messages import iso
from mock_symbl.store import Conversation, Member, Store, StoredInsight, StoredMessage, StoredWord
from mock_symbl.web.auth import app_key

from helpers import (
    APP_ID,
    APP_SECRET,
    FIXTURES,
    conversation_id,
    stream_fixture,
)
from helpers import token as fresh_token

OTHER_ID, OTHER_SECRET = "o" * 64, "p" * 128
LISTER_ID, LISTER_SECRET = "l" * 64, "m" * 128
ALICE = Member("a-1", "Alice", "alice@example.com")
BOB = Member("b-2", "Bob", None)
# A call of two members who talk over each other twice (each overlap 1 s), then take turns:
# (speaker, start s, end s, text). The conversation ends 32 s after it started.
CALL = (
    (ALICE, 0, 4, "Hello Bob, thanks for taking my call about the budget review today."),
    (BOB, 3, 6, "Sounds great, tell me more about the budget review."),
    (ALICE, 10, 14, "Can you share the budget review numbers by Friday?"),
    (BOB, 13, 15, "Yes, I will send the budget review numbers tomorrow."),
    (ALICE, 16, 19, "What is the timeline for the new office project?"),
    (BOB, 20, 23, "The office project starts next month, I will follow up with details."),
    (ALICE, 24, 27, "Thank you Bob, the budget review looks good to me."),
    (BOB, 28, 30, "I am not interested in other offers, please do not call me about them."),
)
CALL_LASTS_S = 32.0
PITCH = (
    (ALICE, 0, 3, "Are you interested in a faster internet plan?"),
    (BOB, 4, 7, "Nobody is available, please leave a message after the tone."),
)


@dataclass(frozen=True)
class Api:
    """The mock, and the conversations the tests read from it."""

    mock: RunningMock
    client: httpx.Client
    headers: dict[str, str]
    lister: dict[str, str]
    theirs: dict[str, str]
    streamed: str
    short: str
    call: str
    open: str
    empty: str
    pitch: str
    foreign: str
    listed: dict[str, str]

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(
            path, headers=self.headers if headers is None else headers, params=params
        )

    def ok(self, path: str, **params: Any) -> Any:
        reply = self.get(path, **params)
        assert reply.status_code == 200, reply.text
        return reply.json()


def _bearer(base_url: str, app_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fresh_token(base_url, app_id, secret)}"}


def _stream(mock: RunningMock, name: str, access: str) -> str:
    return conversation_id(stream_fixture(mock, name, access))


def _said(
    conversation: str,
    seq: int,
    line: tuple[Member, int, int, str],
    at: datetime,
    sentiment: float = 0.0,
) -> Any:
    """A stored message whose words share its time evenly, as the streaming session stores."""
    who, start, end, text = line
    words = text.split()
    step = (end - start) / len(words)
    timed = tuple(
        StoredWord(
            word=w,
            start_time=iso(at + timedelta(seconds=start + i * step)),
            end_time=iso(at + timedelta(seconds=start + (i + 1) * step)),
            time_offset=round(start + i * step, 2),
            duration=round(step, 2),
            score=0.9,
        )
        for i, w in enumerate(words)
    )
    return StoredMessage(
        id=f"{conversation}-m{seq}",
        conversation_id=conversation,
        text=text,
        sender=who,
        start_time=iso(at + timedelta(seconds=start)),
        end_time=iso(at + timedelta(seconds=end)),
        time_offset=float(start),
        duration=float(end - start),
        sentiment=sentiment,
        words=timed,
    )


def _build(
    store: Store,
    conversation: Conversation,
    lines: tuple[tuple[Member, int, int, str], ...],
    at: datetime,
) -> None:
    """Store a conversation with its members, messages and insights."""
    store.create_conversation(conversation)
    for member in dict.fromkeys(line[0] for line in lines):
        store.add_member(conversation.id, member)
    for seq, line in enumerate(lines):
        message = _said(conversation.id, seq, line, at, found_in.polarity(line[3]))
        store.add_message(message)
        for n, finding in enumerate(found_in.find_insights(message.text)):
            store.add_insight(
                StoredInsight(
                    id=f"{message.id}-i{n}",
                    conversation_id=conversation.id,
                    type=finding.type,
                    text=message.text,
                    score=finding.confidence,
                    message_ids=(message.id,),
                    sender=line[0],
                    assignee=line[0] if finding.type != "question" else None,
                )
            )


def _conversation(
    cid: str, app: str, at: datetime, lasts_s: float | None, name: str | None = None
) -> Conversation:
    end = iso(at + timedelta(seconds=lasts_s)) if lasts_s is not None else None
    return Conversation(cid, app, f"conn-{cid}", name, iso(at), end)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    db = tmp_path_factory.mktemp("conversation-api") / "mock.db"
    transcripts = (FIXTURES / "standup", FIXTURES / "hot")
    with running_mock(MockConfig(db=db, transcripts=transcripts, seed=11)) as mock:
        access = fresh_token(mock.base_url)
        streamed = _stream(mock, "standup", access)
        short = _stream(mock, "hot", access)
        ours, theirs = app_key(APP_ID, APP_SECRET), app_key(OTHER_ID, OTHER_SECRET)
        lister = app_key(LISTER_ID, LISTER_SECRET)
        now = datetime.now(UTC).replace(microsecond=0)
        store = Store(db)
        client = httpx.Client(base_url=mock.base_url)
        try:
            at = now - timedelta(minutes=5)
            _build(store, _conversation("call-1", ours, at, CALL_LASTS_S, "Budget"), CALL, at)
            _build(store, _conversation("open-1", ours, at, None), CALL[:3], at)
            _build(store, _conversation("empty-1", ours, at, CALL_LASTS_S), (), at)
            _build(store, _conversation("pitch-1", ours, at, CALL_LASTS_S), PITCH, at)
            _build(store, _conversation("theirs-1", theirs, at, CALL_LASTS_S), CALL, at)
            listed = {
                "Standup": now - timedelta(hours=1),
                "Retro": now - timedelta(hours=2),
                "Planning": now - timedelta(hours=3),
                "Alpha": now - timedelta(minutes=30),
                "Old": now - timedelta(days=10),
            }
            for name, start in listed.items():
                lasts = None if name == "Alpha" else 600.0
                store.create_conversation(_conversation(f"list-{name}", lister, start, lasts, name))
            yield Api(
                mock,
                client,
                {"Authorization": f"Bearer {access}"},
                _bearer(mock.base_url, LISTER_ID, LISTER_SECRET),
                _bearer(mock.base_url, OTHER_ID, OTHER_SECRET),
                streamed,
                short,
                "call-1",
                "open-1",
                "empty-1",
                "pitch-1",
                "theirs-1",
                {name: f"list-{name}" for name in listed},
            )
        finally:
            client.close()
            store.close()


# --- shapes ------------------------------------------------------------------------------


def _problems(value: Any, kind: str, where: str) -> list[str]:
    """Where `value` departs from a symbl_rest type: every model field present (but
    `userId`, known only for members with an email), each of its declared type."""
    import symbl_rest.models

    if kind.startswith("list["):
        if not isinstance(value, list):
            return [f"{where} is not a list"]
        return [p for i, v in enumerate(value) for p in _problems(v, kind[5:-1], f"{where}[{i}]")]
    simple: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "float": (int, float),
        "int": (int,),
        "bool": (bool,),
    }
    if kind in simple:
        wrong = isinstance(value, bool) and kind != "bool"
        return [] if isinstance(value, simple[kind]) and not wrong else [f"{where} is no {kind}"]
    if kind == "datetime":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{where} is no ISO 8601 datetime"]
        return []
    if kind == "object":
        return []
    model = getattr(symbl_rest.models, kind)
    if not isinstance(value, dict):
        return [f"{where} is not an object ({kind})"]
    out = []
    for attribute, inner in model.swagger_types.items():
        key = model.attribute_map[attribute]
        if key not in value:
            if key != "userId":
                out.append(f"{where}.{key} is missing")
            continue
        # null is an absent value to the generated client (a member without an email).
        if value[key] is not None:
            out += _problems(value[key], inner, f"{where}.{key}")
    return out


@pytest.fixture(scope="module")
def symbl_rest_models(require: Callable[[str, bool, str], None]) -> None:
    present = importlib.util.find_spec("symbl_rest") is not None
    require("symbl_rest (the Symbl SDK's REST models)", present, "pip install symbl==2.0.6")


@pytest.mark.parametrize(
    ("suffix", "model", "which"),
    [
        ("analytics", "AnalyticsListResponse", "call"),
        ("insights", "InsightsListResponse", "call"),
        ("intents", "IntentListResponse", "call"),
        ("callscore", "CallScoreResponse", "call"),
        ("callscore/status", "CallScoreStatusResponse", "streamed"),
    ],
)
def test_every_answer_has_the_shape_of_its_symbl_rest_model(
    api: Api, symbl_rest_models: None, suffix: str, model: str, which: str
) -> None:
    body = api.ok(f"/v1/conversations/{getattr(api, which)}/{suffix}")
    assert _problems(body, model, suffix) == []
    assert all(body[key] for key in body)


def test_the_list_has_the_shape_of_a_conversation(api: Api, symbl_rest_models: None) -> None:
    body = api.ok("/v1/conversations")
    assert body["conversations"]
    for n, listed in enumerate(body["conversations"]):
        assert _problems(listed, "ConversationDataListResponse", f"[{n}]") == []
        assert listed == api.ok(f"/v1/conversations/{listed['id']}")


def test_symbls_generated_client_reads_every_answer(api: Api, symbl_rest_models: None) -> None:
    import symbl_rest

    configuration = symbl_rest.Configuration()
    configuration.host = api.mock.base_url
    # A dict of its own: the copy shares the default configuration's.
    configuration.api_key = {"x-api-key": api.headers["Authorization"][7:]}
    client = symbl_rest.ConversationsApi(symbl_rest.ApiClient(configuration))
    analytics = client.get_analytics_by_conversation_id(api.call)
    assert {m.name for m in analytics.members} == {"Alice", "Bob"}
    assert client.get_insights_by_conversation_id(api.call).insights[0].message_ids
    assert client.get_intents_by_conversation_id(api.call).intents[0].intent == "interested"
    assert 0 <= client.get_call_score_by_conversation_id(api.call).score <= 100
    status = client.get_call_score_status_by_conversation_id(api.short)
    assert status.status == "failed"


# --- analytics ---------------------------------------------------------------------------


def _span_s(conversation: dict[str, Any], messages: list[dict[str, Any]]) -> float:
    start = datetime.fromisoformat(conversation["startTime"])
    ended = (datetime.fromisoformat(conversation["endTime"]) - start).total_seconds()
    return max([ended] + [m["timeOffset"] + m["duration"] for m in messages])


def test_a_members_talk_time_is_the_sum_of_their_messages_durations(api: Api) -> None:
    path = f"/v1/conversations/{api.streamed}"
    messages = api.ok(f"{path}/messages")["messages"]
    found = api.ok(f"{path}/analytics")
    (member,) = found["members"]
    assert member["id"] == messages[0]["from"]["id"]
    talk = sum(m["duration"] for m in messages)
    assert member["talkTime"] == {"percentage": 100.0, "seconds": pytest.approx(talk, abs=1e-3)}
    assert member["listenTime"] == {"percentage": 0.0, "seconds": 0.0}
    words = sum(len(m["words"]) for m in api.ok(f"{path}/messages", verbose="true")["messages"])
    assert member["pace"]["wpm"] == round(words * 60 / talk)
    assert member["overlap"] == {"overlapDuration": 0.0, "overlappingMembers": []}
    metrics = {m["type"]: m for m in found["metrics"]}
    assert list(metrics) == ["total_silence", "total_talk_time", "total_overlap"]
    silence = _span_s(api.ok(path), messages) - talk
    assert metrics["total_silence"]["seconds"] == pytest.approx(silence, abs=2e-3)
    assert metrics["total_talk_time"]["seconds"] == pytest.approx(talk, abs=1e-3)
    assert metrics["total_silence"]["percent"] + metrics["total_talk_time"]["percent"] == (
        pytest.approx(100, abs=1e-2)
    )
    assert metrics["total_overlap"]["seconds"] == 0


def test_two_members_talking_at_once_overlap_by_the_time_they_share(api: Api) -> None:
    found = api.ok(f"/v1/conversations/{api.call}/analytics")
    alice, bob = found["members"]
    # Alice talks 4+4+3+3 s, Bob 3+2+3+2 s; they overlap in [3, 4] and [13, 14].
    assert (alice["id"], alice["name"], alice["userId"]) == ("a-1", "Alice", "alice@example.com")
    assert (bob["id"], bob["name"]) == ("b-2", "Bob")
    assert "userId" not in bob
    assert alice["talkTime"] == {
        "percentage": pytest.approx(100 * 14 / 24, abs=1e-3),
        "seconds": 14,
    }
    assert bob["listenTime"] == {
        "percentage": pytest.approx(100 * 14 / 24, abs=1e-3),
        "seconds": 14,
    }
    assert alice["listenTime"]["seconds"] == bob["talkTime"]["seconds"] == 10
    alice_words = sum(len(text.split()) for who, _, _, text in CALL if who is ALICE)
    assert alice["pace"]["wpm"] == round(alice_words * 60 / 14)
    for member, other in ((alice, bob), (bob, alice)):
        (shared,) = member["overlap"]["overlappingMembers"]
        assert shared["id"] == other["id"]
        assert shared["seconds"] == member["overlap"]["overlapDuration"] == 2
        # Symbl: the overlap's share of both members' talk time.
        assert shared["percent"] == pytest.approx(100 * 2 / 24, abs=1e-3)
    metrics = {m["type"]: (m["seconds"], m["percent"]) for m in found["metrics"]}
    # Someone talks for 22 of the 32 s (two people for 2 of them): 10 s of silence.
    assert metrics["total_silence"] == (10, pytest.approx(100 * 10 / 34, abs=1e-3))
    assert metrics["total_talk_time"] == (24, pytest.approx(100 * 24 / 34, abs=1e-3))
    assert metrics["total_overlap"] == (2, pytest.approx(100 * 2 / 24, abs=1e-3))


SPEECH = st.lists(
    st.tuples(st.sampled_from([ALICE, BOB, Member("c-3", "Carol")]), st.integers(0, 60)),
    max_size=12,
).map(lambda turns: tuple((who, start, start + 1 + start % 4, "word " * 3) for who, start in turns))


@given(SPEECH, st.integers(0, 80))
def test_analytics_add_up_whatever_the_speech(
    lines: tuple[tuple[Member, int, int, str], ...], lasts_s: int
) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    messages = [_said("c", n, line, at) for n, line in enumerate(lines)]
    found = analytics(messages, [ALICE, BOB], float(lasts_s)).to_json()
    metrics = {m["type"]: m for m in found["metrics"]}
    talk = metrics["total_talk_time"]["seconds"]
    members = {m["id"]: m for m in found["members"]}
    assert {"a-1", "b-2"} <= set(members)
    assert sum(m["talkTime"]["seconds"] for m in members.values()) == pytest.approx(talk)
    last = max((end for _, _, end, _ in lines), default=0)
    spoken = len({s for _, start, end, _ in lines for s in range(start, end)})
    assert metrics["total_silence"]["seconds"] == pytest.approx(max(lasts_s, last) - spoken)
    if talk:
        total = sum(m["talkTime"]["percentage"] for m in members.values())
        assert total == pytest.approx(100, abs=0.01)
    for member in members.values():
        own = member["talkTime"]["seconds"]
        assert member["listenTime"]["seconds"] == pytest.approx(talk - own, abs=1e-3)
        for other in member["overlap"]["overlappingMembers"]:
            assert 0 < other["seconds"] <= min(own, members[other["id"]]["talkTime"]["seconds"])
            mirror = members[other["id"]]["overlap"]["overlappingMembers"]
            assert {"id": member["id"], "seconds": other["seconds"]} in [
                {"id": o["id"], "seconds": o["seconds"]} for o in mirror
            ]
    assert metrics["total_overlap"]["seconds"] <= talk


# --- summary -----------------------------------------------------------------------------


def test_the_summary_is_made_of_the_conversations_own_messages(api: Api) -> None:
    for conversation in (api.streamed, api.call):
        messages = api.ok(f"/v1/conversations/{conversation}/messages")["messages"]
        order = [m["id"] for m in messages]
        text = {m["id"]: m["text"] for m in messages}
        summary = api.ok(f"/v1/conversations/{conversation}/summary")["summary"]
        assert summary
        for item in summary:
            refs = [r["id"] for r in item["messageRefs"]]
            assert refs == sorted(refs, key=order.index)
            assert item["text"] == " ".join(text[r] for r in refs)
        # A third of every run of up to ten messages (each of these has content words).
        chosen = sum(len(item["messageRefs"]) for item in summary)
        assert chosen == sum(
            math.ceil(len(order[i : i + 10]) / 3) for i in range(0, len(order), 10)
        )
        again = api.ok(f"/v1/conversations/{conversation}/summary", refresh="true")
        assert again == {"summary": summary}
        posted = api.client.post(f"/v1/conversations/{conversation}/summary", headers=api.headers)
        assert posted.status_code == 200, posted.text
        assert posted.json() == {"summary": summary}


def test_the_summary_keeps_the_messages_on_the_recurring_subject(api: Api) -> None:
    (item,) = api.ok(f"/v1/conversations/{api.call}/summary")["summary"]
    assert len(item["messageRefs"]) == 3
    assert item["text"].lower().count("budget review") == 3


def test_a_conversation_in_progress_has_no_summary_yet(api: Api) -> None:
    reply = api.get(f"/v1/conversations/{api.open}/summary")
    assert reply.status_code == 404
    assert "in progress" in reply.json()["message"]


# --- insights and intents ----------------------------------------------------------------


def test_insights_hold_the_questions_action_items_and_follow_ups_in_message_order(
    api: Api,
) -> None:
    for conversation in (api.streamed, api.call):
        path = f"/v1/conversations/{conversation}"
        order = [m["id"] for m in api.ok(f"{path}/messages")["messages"]]
        each = (
            api.ok(f"{path}/questions")["questions"]
            + api.ok(f"{path}/action-items")["actionItems"]
            + api.ok(f"{path}/follow-ups")["followUps"]
        )
        found = api.ok(f"{path}/insights")["insights"]
        assert {i["type"] for i in found} == {"question", "action_item", "follow_up"}
        assert sorted(i["id"] for i in found) == sorted(i["id"] for i in each)
        positions = [order.index(i["messageIds"][0]) for i in found]
        assert positions == sorted(positions)
        by_id = {i["id"]: i for i in each}
        for insight in found:
            assert insight["entities"] == []
            assert {k: v for k, v in insight.items() if k != "entities"} == {
                k: v for k, v in by_id[insight["id"]].items() if k != "entities"
            }


def test_intents_are_found_in_the_messages_that_show_them(api: Api) -> None:
    messages = api.ok(f"/v1/conversations/{api.call}/messages")["messages"]
    found = api.ok(f"/v1/conversations/{api.call}/intents")["intents"]
    by_message = {i["messageIds"][0]: i for i in found}
    interested = by_message[messages[1]["id"]]
    assert (interested["intent"], interested["text"]) == ("interested", messages[1]["text"])
    assert interested["alternatives"] == []
    refusal = by_message[messages[7]["id"]]
    assert refusal["intent"] == "do_not_call"
    assert [a["intent"] for a in refusal["alternatives"]] == ["not_interested"]
    assert set(by_message) == {messages[1]["id"], messages[7]["id"]}
    # Two phrases ("sounds great", "tell me more") weigh more than one.
    assert interested["score"] > refusal["alternatives"][0]["score"]
    assert api.ok(f"/v1/conversations/{api.streamed}/intents") == {"intents": []}


def test_a_question_shows_no_intent_and_a_voicemail_greeting_does(api: Api) -> None:
    messages = api.ok(f"/v1/conversations/{api.pitch}/messages")["messages"]
    (found,) = api.ok(f"/v1/conversations/{api.pitch}/intents")["intents"]
    assert found["messageIds"] == [messages[1]["id"]]
    assert found["intent"] == "answering_machine"
    # Two of its phrases: "leave a message" and "after the tone".
    assert found["score"] == 0.9


def test_a_conversation_without_messages_is_all_silence_and_nothing_else(api: Api) -> None:
    path = f"/v1/conversations/{api.empty}"
    assert api.ok(f"{path}/analytics") == {
        "metrics": [
            {"type": "total_silence", "percent": 100.0, "seconds": CALL_LASTS_S},
            {"type": "total_talk_time", "percent": 0.0, "seconds": 0.0},
            {"type": "total_overlap", "percent": 0.0, "seconds": 0.0},
        ],
        "members": [],
    }
    assert api.ok(f"{path}/summary") == {"summary": []}
    assert api.ok(f"{path}/insights") == {"insights": []}
    assert api.ok(f"{path}/intents") == {"intents": []}
    assert api.ok(f"{path}/callscore/status")["status"] == "failed"
    assert "0 words" in api.get(f"{path}/callscore").json()["message"]


# --- call score --------------------------------------------------------------------------


def test_the_call_score_averages_criteria_computed_from_the_conversation(api: Api) -> None:
    path = f"/v1/conversations/{api.call}"
    score = api.ok(f"{path}/callscore")
    criteria = {c["name"]: c for c in score["criteria"]}
    assert list(criteria) == ["Communication and Engagement", "Question Handling", "Forward Motion"]
    assert score["score"] == round(sum(c["score"] for c in criteria.values()) / 3)
    assert all(0 <= c["score"] <= 100 for c in criteria.values())
    for name, criterion in criteria.items():
        assert f"{name} {criterion['score']}" in score["summary"]
    # Every question got an answer from the other member; 2 questions in 8 messages
    # is the one in five asked for.
    questions = api.ok(f"{path}/questions")["questions"]
    assert len(questions) == 2
    assert criteria["Question Handling"]["score"] == 100
    steps = len(api.ok(f"{path}/action-items")["actionItems"]) + len(
        api.ok(f"{path}/follow-ups")["followUps"]
    )
    assert criteria["Forward Motion"]["score"] == round(100 * (1 - 0.5**steps))
    assert f"{steps} next step(s)" in criteria["Forward Motion"]["feedback"]["positive"]["summary"]
    assert "Alice" in criteria["Communication and Engagement"]["summary"]


def test_a_monologue_scores_no_dialogue_and_no_answered_questions(api: Api) -> None:
    score = api.ok(f"/v1/conversations/{api.streamed}/callscore")
    criteria = {c["name"]: c for c in score["criteria"]}
    negative = criteria["Communication and Engagement"]["feedback"]["negative"]["summary"]
    assert "no dialogue" in negative
    assert "got no answer" in criteria["Question Handling"]["feedback"]["negative"]["summary"]


def test_the_call_score_status_follows_the_conversation(api: Api) -> None:
    cases = {api.streamed: "completed", api.short: "failed", api.open: "in_progress"}
    for conversation, status in cases.items():
        answer = api.ok(f"/v1/conversations/{conversation}/callscore/status")
        assert answer["status"] == status
        assert uuid.UUID(answer["jobId"]).version == 5
    jobs = {api.ok(f"/v1/conversations/{c}/callscore/status")["jobId"] for c in cases}
    assert len(jobs) == 3


def test_a_conversation_too_short_or_still_open_has_no_call_score(api: Api) -> None:
    short = api.get(f"/v1/conversations/{api.short}/callscore")
    assert short.status_code == 404
    assert "10 words" in short.json()["message"]
    assert "at least 50" in short.json()["message"]
    still_open = api.get(f"/v1/conversations/{api.open}/callscore")
    assert still_open.status_code == 404
    assert "in progress" in still_open.json()["message"]


# --- the list ----------------------------------------------------------------------------


def _names(api: Api, headers: dict[str, str], **params: Any) -> list[str]:
    reply = api.get("/v1/conversations", headers=headers, **params)
    assert reply.status_code == 200, reply.text
    return [c["name"] for c in reply.json()["conversations"]]


def test_the_list_holds_the_apps_conversations_of_the_last_week_oldest_first(api: Api) -> None:
    lister = api.lister
    assert _names(api, lister) == ["Planning", "Retro", "Standup", "Alpha"]
    assert _names(api, lister, order="desc") == ["Alpha", "Standup", "Retro", "Planning"]
    ours = {c["id"] for c in api.ok("/v1/conversations", limit=100)["conversations"]}
    assert {api.streamed, api.short, api.call, api.open} <= ours
    assert api.foreign not in ours
    assert not ours & set(api.listed.values())


def test_the_list_pages_with_limit_and_offset(api: Api) -> None:
    lister = api.lister
    everything = _names(api, lister)
    pages = [_names(api, lister, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert pages == [everything[:3], everything[3:], []]
    assert _names(api, lister, limit=0) == []


def test_the_list_sorts_by_the_named_fields(api: Api) -> None:
    lister = api.lister
    by_name = ["Alpha", "Planning", "Retro", "Standup"]
    assert _names(api, lister, sort="conversation.name") == by_name
    assert _names(api, lister, sort="conversation.name", order="desc") == by_name[::-1]
    # The open conversation has no end yet: it ends last.
    assert _names(api, lister, sort="conversation.endTime")[-1] == "Alpha"


def test_the_list_reaches_back_as_far_as_asked(api: Api) -> None:
    lister = api.lister
    now = datetime.now(UTC)
    since = iso(now - timedelta(days=11))
    assert _names(api, lister, startTime=since)[0] == "Old"
    until = iso(now - timedelta(minutes=90))
    assert _names(api, lister, startTime=since, endTime=until) == ["Old", "Planning", "Retro"]


def test_the_list_filters_with_rsql(api: Api) -> None:
    lister = api.lister
    assert _names(api, lister, filter="conversation.name==Retro") == ["Retro"]
    assert _names(api, lister, filter="conversation.name=in=(Retro,Old)") == ["Old", "Retro"]
    assert _names(api, lister, filter="name==*a*;conversation.name!=Alpha") == [
        "Planning",
        "Standup",
    ]
    since = iso(datetime.now(UTC) - timedelta(minutes=150))
    for field in ("conversation.startTime", "conversation.startDate"):
        assert _names(api, lister, filter=f"{field}=ge={since}") == ["Retro", "Standup", "Alpha"]
    assert _names(api, lister, filter="conversation.metadata.agentId==jane") == []


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "many"}, "limit"),
        ({"limit": "65537"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"order": "up"}, "order"),
        ({"sort": "conversation.colour"}, "colour"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, "earlier"),
        ({"filter": "conversation.name==a,conversation.name==b"}, "OR"),
        ({"filter": "conversation.name==a or conversation.name==b"}, "OR"),
        ({"filter": "id==1;name==a;startTime=gt=2026-01-01"}, "at most 2"),
        ({"filter": "conversation.name"}, "RSQL"),
        ({"filter": "conversation.startTime=gt=soon"}, "ISO 8601"),
    ],
)
def test_a_bad_list_parameter_is_refused_by_name(
    api: Api, params: dict[str, str], named: str
) -> None:
    reply = api.get("/v1/conversations", **params)
    assert reply.status_code == 400
    assert named in reply.json()["message"]


# --- errors ------------------------------------------------------------------------------

ROUTES = ("analytics", "summary", "insights", "intents", "callscore", "callscore/status")


@pytest.mark.parametrize("suffix", ROUTES)
def test_each_route_wants_a_valid_token(api: Api, suffix: str) -> None:
    path = f"/v1/conversations/{api.call}/{suffix}"
    assert api.get(path, headers={}).status_code == 401
    assert api.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert api.get("/v1/conversations", headers={}).status_code == 401


@pytest.mark.parametrize("suffix", ROUTES)
def test_each_route_hides_missing_and_other_apps_conversations(api: Api, suffix: str) -> None:
    for conversation in ("1234567890123456", api.foreign):
        reply = api.get(f"/v1/conversations/{conversation}/{suffix}")
        assert reply.status_code == 404
        assert reply.json() == {
            "message": "The conversationId is either invalid or does not exist."
        }
    theirs = api.theirs
    assert api.get(f"/v1/conversations/{api.call}/{suffix}", headers=theirs).status_code == 404


def test_an_apps_injected_fault_answers_its_list_too(api: Api) -> None:
    control = f"{api.mock.base_url}/v1/mock/faults"
    lister = api.lister
    set_fault = httpx.post(control, json={"rest_500_share": 1.0}, headers=api.headers)
    assert set_fault.status_code == 200
    try:
        reply = api.get("/v1/conversations")
        analytics = api.get(f"/v1/conversations/{api.call}/analytics")
        others = api.get("/v1/conversations", headers=lister)
    finally:
        httpx.delete(control, headers=api.headers)
    assert (reply.status_code, reply.headers["X-Mock-Fault"]) == (500, "500")
    assert analytics.status_code == 500
    assert others.status_code == 200
    assert api.get("/v1/conversations").status_code == 200


def test_the_other_apps_conversation_is_its_own(api: Api) -> None:
    theirs = api.theirs
    reply = api.get(f"/v1/conversations/{api.foreign}/analytics", headers=theirs)
    assert reply.status_code == 200
    assert reply.json() == api.ok(f"/v1/conversations/{api.call}/analytics")

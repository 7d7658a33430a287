"""PUT members and PUT speakers over real HTTP: who said what changes everywhere it shows."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.serve import RunningServer
from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl.session import speakers
from mock_symbl.store import Member, StoredMessage

from helpers import APP_ID, FIXTURES, conversation_id, start_request, stream_session, token


def streamed(mock: RunningServer, secret: str) -> tuple[str, dict[str, str]]:
    """A conversation of the standup fixture, spoken by Jane, and its app's headers."""
    access = token(mock.base_url, APP_ID, secret)
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    url = f"{mock.ws_url}/v1/streaming/standup?access_token={access}"
    messages, code, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples)
    )
    assert code == 1000
    return conversation_id(messages), {"Authorization": f"Bearer {access}"}


def read(base: str, auth: dict[str, str], route: str) -> Any:
    reply = httpx.get(f"{base}{route}", headers=auth)
    assert reply.status_code == 200
    return reply.json()


@pytest.fixture(scope="module")
def untouched(mock_server: RunningServer) -> tuple[str, dict[str, str]]:
    """One conversation for the requests that must change nothing."""
    conversation, auth = streamed(mock_server, "untouched")
    return f"{mock_server.base_url}/v1/conversations/{conversation}", auth


def insights(base: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    found = read(base, auth, "/questions")["questions"]
    found += read(base, auth, "/action-items")["actionItems"]
    return found + read(base, auth, "/follow-ups")["followUps"]


def test_a_renamed_member_shows_in_messages_insights_and_members(
    mock_server: RunningServer,
) -> None:
    conversation, auth = streamed(mock_server, "rename")
    base = f"{mock_server.base_url}/v1/conversations/{conversation}"
    (jane,) = read(base, auth, "/members")["members"]
    assert jane["name"] == "Jane"

    reply = httpx.put(
        f"{base}/members/{jane['id']}",
        json={"id": jane["id"], "name": "John", "email": "john@example.com"},
        headers=auth,
    )
    assert reply.status_code == 200
    assert jane["id"] in reply.json()["message"] and conversation in reply.json()["message"]

    john = {"id": jane["id"], "name": "John", "email": "john@example.com"}
    assert read(base, auth, "/members") == {"members": [john]}
    assert read(base, auth, "")["members"] == [john]
    said = read(base, auth, "/messages")["messages"]
    assert len(said) == 6
    assert {(m["from"]["id"], m["from"]["name"], m["from"]["userId"]) for m in said} == {
        (jane["id"], "John", "john@example.com")
    }
    found = insights(base, auth)
    assert found
    assert all(i["from"]["name"] == "John" for i in found)
    assert all(i["assignee"]["name"] == "John" for i in found if "assignee" in i)


@pytest.mark.parametrize(
    ("member", "body", "status", "names"),
    [
        ("known", {"email": "x@example.com"}, 400, "name"),
        ("known", {"id": "someone-else", "name": "X"}, 400, "someone-else"),
        ("known", {"name": "X", "email": 7}, 400, "email"),
        ("unknown", {"name": "X"}, 404, "unknown"),
    ],
)
def test_a_bad_member_update_names_the_problem_and_changes_nothing(
    untouched: tuple[str, dict[str, str]],
    member: str,
    body: dict[str, Any],
    status: int,
    names: str,
) -> None:
    base, auth = untouched
    (jane,) = read(base, auth, "/members")["members"]
    member_id = jane["id"] if member == "known" else "unknown"
    reply = httpx.put(f"{base}/members/{member_id}", json=body, headers=auth)
    assert reply.status_code == status
    assert names in reply.json()["message"]
    assert read(base, auth, "/members")["members"] == [jane]


def offset(seconds: float) -> dict[str, int]:
    """As Symbl's example writes it: whole seconds, and the rest as nanos (past 1e9)."""
    whole = max(int(seconds) - 5, 0)
    return {"seconds": whole, "nanos": round((seconds - whole) * 1e9)}


def event(kind: str, user: dict[str, str], at: float) -> dict[str, Any]:
    return {"type": f"{kind}_speaking", "user": user, "offset": offset(at)}


def test_speaker_events_give_each_message_to_whoever_spoke_then(
    mock_server: RunningServer,
) -> None:
    conversation, auth = streamed(mock_server, "speakers")
    base = f"{mock_server.base_url}/v1/conversations/{conversation}"
    phrases = read_transcript(FIXTURES / "standup" / "transcript.json").phrases
    derek = {"id": "4194eb50-357d-4712-a02d-94215ead1064", "name": "Derek", "email": "d@x.io"}
    richard = {"id": "4194eb50-357d-4712-a02d-94215ead2104", "name": "Richard", "email": "r@x.io"}
    # Derek says the first two phrases, Richard the rest (and never stops).
    switch = (phrases[1].end + phrases[2].start) / 2
    events = [
        event("started", derek, 0.1),
        event("started", richard, switch),
        event("stopped", derek, switch),
    ]
    reply = httpx.put(f"{base}/speakers", json={"speakerEvents": events}, headers=auth)
    assert reply.status_code == 200
    assert conversation in reply.json()["message"]

    said = read(base, auth, "/messages")["messages"]
    assert [m["from"]["name"] for m in said] == ["Derek", "Derek"] + ["Richard"] * 4
    assert said[0]["from"] == {"id": derek["id"], "name": "Derek", "userId": "d@x.io"}
    assert read(base, auth, "/members")["members"] == [derek, richard]
    senders = {m["id"]: m["from"]["name"] for m in said}
    for insight in insights(base, auth):
        assert insight["from"]["name"] == senders[insight["messageIds"][0]]


@pytest.mark.parametrize(
    ("events", "names"),
    [
        ([], "speakerEvents"),
        ([{"type": "talking", "user": {"id": "a"}, "offset": {"seconds": 1}}], ".type"),
        ([{"type": "started_speaking", "user": {}, "offset": {"seconds": 1}}], ".user"),
        ([{"type": "started_speaking", "user": {"id": "a"}}], ".offset"),
        (
            [{"type": "stopped_speaking", "user": {"id": "a", "name": "A"}, "offset": {}}],
            "A stops speaking at 0 s without having started",
        ),
    ],
)
def test_bad_speaker_events_name_the_event_and_change_nothing(
    untouched: tuple[str, dict[str, str]], events: list[dict[str, Any]], names: str
) -> None:
    base, auth = untouched
    before = read(base, auth, "/messages")
    reply = httpx.put(f"{base}/speakers", json={"speakerEvents": events}, headers=auth)
    assert reply.status_code == 400
    assert names in reply.json()["message"]
    assert read(base, auth, "/messages") == before


def test_another_apps_conversation_cannot_be_changed(
    mock_server: RunningServer, untouched: tuple[str, dict[str, str]]
) -> None:
    base, auth = untouched
    (jane,) = read(base, auth, "/members")["members"]
    stranger = {"Authorization": f"Bearer {token(mock_server.base_url, APP_ID, 'stranger')}"}
    renamed = httpx.put(f"{base}/members/{jane['id']}", json={"name": "X"}, headers=stranger)
    assert renamed.status_code == 404
    events = [event("started", {"id": "x", "name": "X"}, 0.0)]
    moved = httpx.put(f"{base}/speakers", json={"speakerEvents": events}, headers=stranger)
    assert moved.status_code == 404
    assert read(base, auth, "/members")["members"] == [jane]


_SPANS = st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 30), st.floats(0, 10)), max_size=8)


@given(
    spans=_SPANS,
    said=st.lists(st.tuples(st.floats(0, 30), st.floats(0, 5)), min_size=1, max_size=8),
)
def test_each_message_goes_to_the_speaker_who_overlaps_it_longest(
    spans: list[tuple[str, float, float]], said: list[tuple[float, float]]
) -> None:
    events = []
    for who, start, length in spans:
        user = {"id": who, "name": who.upper()}
        events += [event("started", user, start), event("stopped", user, start + length)]
    try:
        found = speakers.turns({"speakerEvents": events})
    except speakers.SpeakerEventsError:
        # One user's turns overlapping each other: a stop then precedes its own start.
        return
    jane = Member("jane", "Jane")
    messages = [
        StoredMessage(f"m{i}", "c", "text", jane, "", "", start, length, 0.0)
        for i, (start, length) in enumerate(said)
    ]
    senders = speakers.senders(messages, found)

    def overlap(message: StoredMessage, who: str) -> float:
        end = message.time_offset + message.duration
        return max(
            (
                min(end, t.end) - max(message.time_offset, t.start)
                for t in found
                if t.member.id == who
            ),
            default=-1.0,
        )

    for message in messages:
        best = max((overlap(message, who) for who in "abc"), default=-1.0)
        if message.id not in senders:
            assert best < 0 or (best == 0 and message.duration > 0)
            continue
        assert overlap(message, senders[message.id].id) == best
    assert {m.id for m in speakers.speakers(found)} == {t.member.id for t in found}

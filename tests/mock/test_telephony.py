"""The Telephony API over real HTTP and WebSockets: `endpoint:connect` dials a recording,
which talks at its own pace; results reach every subscriber, speaker events name who says
what follows, a stop (request or event) or the silence after the recording ends the call,
and the Conversation API answers for the call's conversation.

One mock serves the module. `sip:hot@…` reaches the `hot` fixture by its transcript;
+1 415 555 0199 is mapped (`phones`) to a copy of its recording without a transcript, which
the cassette engine replays.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import mock_symbl
from harness.cli import main
from harness.session_folder.transcript import read_transcript
from mock_symbl import MockConfig, RunningMock, running_mock
from mock_symbl.session.conversation import Send, Store
from mock_symbl.session.telephony import (
    CallStart,
    CallStop,
    TelephonyRequestError,
    attribute,
    parse_connect,
    parse_event,
    sip_user,
)
from mock_symbl.store import Member, StoredMessage

from helpers import APP_ID, FIXTURES, token

FIXTURE = "hot"
MAPPED = "14155550199"
JANE = {"userId": "jane.doe@example.com", "name": "Jane"}
# After the recording ends, the line stays open this long before the call ends by itself.
SILENCE_S = 2.0


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMock]:
    recording = tmp_path_factory.mktemp("phone") / "far-end"
    recording.mkdir()
    for name in ("audio.wav", "events.jsonl"):
        shutil.copy(FIXTURES / FIXTURE / name, recording / name)
    config = MockConfig(
        transcripts=(FIXTURES / FIXTURE,),
        phones={MAPPED: recording},
        seed=11,
        silence_timeout_s=SILENCE_S,
    )
    with running_mock(config) as running:
        yield running


@pytest.fixture(scope="module")
def auth(mock: RunningMock) -> dict[str, str]:
    return {"x-api-key": token(mock.base_url)}


def words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[\w']+", text)]


def phrases() -> list[list[str]]:
    transcript = read_transcript(FIXTURES / FIXTURE / "transcript.json")
    return [words(phrase.text) for phrase in transcript.phrases]


def connect(mock: RunningMock, auth: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{mock.base_url}/v1/endpoint:connect", headers=auth, json=body)


def start(mock: RunningMock, auth: dict[str, str], endpoint: dict[str, Any]) -> dict[str, str]:
    body = {"operation": "start", "endpoint": endpoint, "data": {"session": {"name": "Call"}}}
    reply = connect(mock, auth, body)
    assert reply.status_code == 201, reply.text
    answer: dict[str, str] = reply.json()
    return answer


async def collect(socket: Any) -> tuple[list[dict[str, Any]], int | None, str]:
    """Every frame until the server closes the socket, and how it closed."""
    frames = []
    try:
        async for text in socket:
            frames.append(json.loads(text))
    except websockets.ConnectionClosed:
        pass
    return frames, socket.close_code, socket.close_reason or ""


def messages_of(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for f in frames if f["type"] == "message_response" for m in f["messages"]]


def test_a_sip_call_streams_its_words_to_every_subscriber_and_a_speaker_event_names_who_follows(
    mock: RunningMock, auth: dict[str, str]
) -> None:
    answer = start(mock, auth, {"type": "sip", "uri": f"sip:{FIXTURE}@mock.example"})
    connection = answer["connectionId"]
    assert answer["eventUrl"] == f"{mock.base_url}/v1/event/{connection}"
    assert answer["resultWebSocketUrl"] == f"{mock.ws_url}/events/{connection}"

    async def scenario() -> tuple[Any, ...]:
        subscribe = f"{mock.ws_url}/session/subscribe/{connection}"
        async with (
            websockets.connect(subscribe, additional_headers=auth) as first,
            websockets.connect(subscribe, additional_headers=auth) as second,
            websockets.connect(answer["resultWebSocketUrl"], additional_headers=auth) as events,
        ):
            listening = [asyncio.create_task(collect(s)) for s in (first, second)]
            while json.loads(await events.recv())["type"] != "message_response":
                pass
            speaking = {"topic": "speaker", "type": "started_speaking", "user": JANE}
            await events.send(json.dumps(speaking))
            # Announced again through the webhook twin: still one member.
            pushed = await asyncio.to_thread(
                httpx.post, answer["eventUrl"], headers=auth, json=speaking
            )
            assert pushed.status_code == 200
            # An event the server refuses: its answer comes after the speaker event was taken.
            await events.send(json.dumps({"topic": "speaker", "type": "sneezed"}))
            while (frame := json.loads(await events.recv()))["type"] != "error":
                pass
            heard: list[dict[str, Any]] = []
            while not heard or heard[-1]["type"] != "message_response":
                heard.append(json.loads(await events.recv()))
            await events.send(json.dumps({"topic": "speaker", "type": "stopped"}))
            return frame, heard[-1], await asyncio.gather(*listening)

    refusal, after, ((first, code, reason), (second, *_)) = asyncio.run(scenario())
    assert "type" in refusal["message"] and "sneezed" in refusal["message"]
    assert (code, reason) == (1000, "call ended")
    # The far end talks from the moment the call connects: a subscriber that joined a moment
    # after the other may have missed its first interim results, and hears the same since.
    late, early = sorted((first, second), key=len)
    assert late == early[len(early) - len(late) :]
    said = phrases()
    assert [words(m["payload"]["content"]) for m in messages_of(late)] == said
    for live in [f for f in first if f["type"] == "transcript_response"]:
        heard = words(live["payload"]["content"])
        assert any(heard == phrase[: len(heard)] for phrase in said)
    assert [words(m["payload"]["content"]) for m in messages_of(first)] == said
    # The first message was final before the event; the one after it is Jane's.
    assert messages_of(first)[0]["from"]["name"] != "Jane"
    assert [m["from"]["userId"] for m in after["messages"]] == [JANE["userId"]]

    base = f"{mock.base_url}/v1/conversations/{answer['conversationId']}"
    conversation = httpx.get(base, headers=auth).json()
    assert (conversation["name"], conversation["endTime"] is not None) == ("Call", True)
    stored = httpx.get(f"{base}/messages", headers=auth).json()["messages"]
    assert [words(m["text"]) for m in stored] == said
    assert stored[-1]["from"]["name"] == "Jane"
    questions = httpx.get(f"{base}/questions", headers=auth).json()["questions"]
    assert [q["text"] for q in questions] == ["Is this too loud?"]
    members = httpx.get(f"{base}/members", headers=auth).json()["members"]
    assert [m["email"] for m in members].count(JANE["userId"]) == 1
    # Stopping a call the stop event ended answers as the first stop did.
    again = connect(mock, auth, {"operation": "stop", "connectionId": connection})
    assert again.json() == {"connectionId": connection, "conversationId": answer["conversationId"]}


def test_a_mapped_number_replays_its_recording_and_the_call_ends_after_the_silence(
    mock: RunningMock, auth: dict[str, str]
) -> None:
    answer = start(mock, auth, {"type": "pstn", "phoneNumber": "+1 415-555-0199", "dtmf": "1#"})
    connection = answer["connectionId"]

    async def scenario() -> tuple[list[dict[str, Any]], int | None, str]:
        url = f"{mock.ws_url}/session/subscribe/{connection}"
        async with websockets.connect(url, additional_headers=auth) as socket:
            return await collect(socket)

    frames, code, reason = asyncio.run(scenario())
    assert (code, reason) == (1000, "call ended")
    recorded = [
        json.loads(line)["data"]
        for line in (FIXTURES / FIXTURE / "events.jsonl").read_text().splitlines()
        if '"message_response"' in line
    ]
    expected = [words(m["payload"]["content"]) for r in recorded for m in r["messages"]]
    assert [words(m["payload"]["content"]) for m in messages_of(frames)] == expected
    base = f"{mock.base_url}/v1/conversations/{answer['conversationId']}/messages"
    assert [words(m["text"]) for m in httpx.get(base, headers=auth).json()["messages"]] == expected
    stop = connect(mock, auth, {"operation": "stop", "connectionId": connection})
    assert stop.json()["conversationId"] == answer["conversationId"]
    event = httpx.post(f"{mock.base_url}/v1/event/{connection}", headers=auth,
                       json={"type": "started_speaking", "user": JANE})  # fmt: skip
    assert event.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "operation"),
        ({"operation": "dial"}, "operation"),
        ({"operation": "start"}, "endpoint"),
        ({"operation": "start", "endpoint": {"type": "fax"}}, "endpoint.type"),
        ({"operation": "start", "endpoint": {"type": "pstn"}}, "endpoint.phoneNumber"),
        ({"operation": "start", "endpoint": {"type": "pstn", "phoneNumber": "call me"}},
         "endpoint.phoneNumber"),
        ({"operation": "start", "endpoint": {"type": "sip", "uri": "sip:mock.example"}},
         "endpoint.uri"),
        ({"operation": "start", "endpoint": {"type": "pstn", "phoneNumber": "15550000000"}},
         "endpoint.phoneNumber"),
        ({"operation": "start", "endpoint": {"type": "sip", "uri": "sip:hot@x"},
          "timezone": "Mars/Olympus"}, "timezone"),
        ({"operation": "start", "endpoint": {"type": "sip", "uri": "sip:hot@x"},
          "actions": [{"name": "sendSummaryEmail"}]}, "actions[0].invokeOn"),
        ({"operation": "stop"}, "connectionId"),
    ],
)  # fmt: skip
def test_a_bad_request_is_refused_naming_the_field(
    mock: RunningMock, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    reply = connect(mock, auth, body)
    assert reply.status_code == 400
    assert reply.json()["message"].startswith(f"{field}: ")


def test_without_a_token_nothing_is_served(mock: RunningMock) -> None:
    body = {"operation": "start", "endpoint": {"type": "sip", "uri": "sip:hot@x"}}
    assert connect(mock, {}, body).status_code == 401

    async def scenario() -> None:
        async with websockets.connect(f"{mock.ws_url}/session/subscribe/anything"):
            pass

    with pytest.raises(websockets.InvalidStatus) as refused:
        asyncio.run(scenario())
    assert refused.value.response.status_code == 401


def test_another_apps_call_is_not_found(mock: RunningMock, auth: dict[str, str]) -> None:
    answer = start(mock, auth, {"type": "sip", "uri": f"sip:{FIXTURE}@mock.example"})
    connection = answer["connectionId"]
    other = {"x-api-key": token(mock.base_url, APP_ID, "c" * 128)}
    try:
        stop = connect(mock, other, {"operation": "stop", "connectionId": connection})
        assert stop.status_code == 404
        event = httpx.post(f"{mock.base_url}/v1/event/{connection}", headers=other,
                           json={"type": "started_speaking", "user": JANE})  # fmt: skip
        assert event.status_code == 404

        async def scenario() -> None:
            url = f"{mock.ws_url}/session/subscribe/{connection}"
            async with websockets.connect(url, additional_headers=other):
                pass

        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(scenario())
        assert refused.value.response.status_code == 404
    finally:
        stopped = connect(mock, auth, {"operation": "stop", "connectionId": connection})
    assert stopped.status_code == 201
    assert connect(mock, auth, {"operation": "stop", "connectionId": "nobody"}).status_code == 404


def test_only_the_latest_ended_calls_answer_a_late_stop(
    mock: RunningMock, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mock_symbl.web.telephony.MAX_ENDED_CALLS", 1)
    endpoint = {"type": "sip", "uri": f"sip:{FIXTURE}@mock.example"}
    first, second = (start(mock, auth, endpoint) for _ in range(2))
    for call in (first, second):
        stop = {"operation": "stop", "connectionId": call["connectionId"]}
        assert connect(mock, auth, stop).status_code == 201
    # The server remembers one ended call: the second answers its stop again, the first no
    # longer does.
    again = connect(mock, auth, {"operation": "stop", "connectionId": second["connectionId"]})
    assert again.status_code == 201
    assert again.json()["conversationId"] == second["conversationId"]
    late = connect(mock, auth, {"operation": "stop", "connectionId": first["connectionId"]})
    assert late.status_code == 404


def test_both_sdks_request_shapes_are_read() -> None:
    python_sdk = parse_connect({
        "operation": "start",
        "endpoint": {"type": "pstn", "phoneNumber": "14155550199", "dtmf": None},
        "actions": {}, "data": {}, "pushSpeakerEvents": True,
        "languages": ["fr-FR"], "timezone": "Asia/Tokyo",
    })  # fmt: skip
    assert isinstance(python_sdk, CallStart)
    assert (python_sdk.dial.far_end, python_sdk.language_code) == (MAPPED, "fr-FR")
    assert python_sdk.timezone == "Asia/Tokyo"
    node_sdk = parse_connect({
        "operation": "start",
        "endpoint": {"type": "sip", "uri": "sip:standup@meet.example;transport=udp",
                     "providerName": "AnyMeeting"},
        "languages": [{"code": "en-US"}],
        "data": {"session": {"name": "Standup", "location": {"timeZone": {"name": "US/Pacific"}}}},
    })  # fmt: skip
    assert isinstance(node_sdk, CallStart)
    assert (node_sdk.dial.far_end, node_sdk.meeting_title) == ("standup", "Standup")
    assert (node_sdk.language_code, node_sdk.timezone) == ("en-US", "US/Pacific")
    assert parse_connect({"operation": "stop", "connectionId": "c1"}) == CallStop("c1")
    assert [sip_user(u) for u in ("sips:555@h", "555@h", "sip:h", "tel:555")] == [
        "555", "555", "", "",
    ]  # fmt: skip
    with pytest.raises(TelephonyRequestError, match=r"^languages\[0\]: "):
        parse_connect({"operation": "start", "endpoint": {"type": "sip", "uri": "sip:a@b"},
                       "languages": [7]})  # fmt: skip


def test_a_speaker_announced_says_the_messages_that_follow() -> None:
    jane = Member(id="j", name="Jane", email="jane@example.com")
    message = StoredMessage(
        id="m", conversation_id="c", text="Hi.", sender=Member(id="s", name="Speaker"),
        start_time="", end_time="", time_offset=0, duration=0, sentiment=0, words=(),
    )  # fmt: skip
    frame = {"type": "message_response", "messages": [{"from": {"id": "s"}, "payload": {}}]}
    stored, sent = attribute([Store(message, "c"), Send(frame, everyone=True)], jane)
    assert isinstance(stored, Store) and isinstance(stored.record, StoredMessage)
    assert stored.record.sender == jane
    assert isinstance(sent, Send) and isinstance(sent.message, dict)
    assert sent.message["messages"][0]["from"] == jane.to_json()
    assert attribute([Store(message, "c")], None) == [Store(message, "c")]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ("operation", "endpoint", "actions", "data", "languages", "timezone", "insightTypes",
          "connectionId")  # fmt: skip
ENDPOINTS = st.fixed_dictionaries(
    {"type": st.sampled_from(["pstn", "sip", "PSTN"]) | JSON},
    optional={"phoneNumber": st.text(max_size=12) | JSON, "uri": st.text(max_size=20) | JSON,
              "dtmf": JSON},
)  # fmt: skip
BODIES = st.fixed_dictionaries(
    {"operation": st.sampled_from(["start", "stop"]) | JSON},
    optional={"endpoint": ENDPOINTS | JSON, **{f: JSON for f in FIELDS[2:]},
              "timezone": st.sampled_from(["America", "UTC", "Europe/Paris", ""]) | JSON},
)  # fmt: skip


@given(BODIES | JSON)
def test_any_body_is_read_or_refused_naming_a_field(body: Any) -> None:
    try:
        parse_connect(body)
    except TelephonyRequestError as error:
        assert str(error).startswith(f"{error.path}: ")


@given(st.text(max_size=80) | JSON.map(json.dumps))
def test_any_event_frame_is_read_or_refused_naming_a_field(text: str) -> None:
    try:
        parse_event(text, "new-id")
    except TelephonyRequestError as error:
        assert str(error).startswith(f"{error.path}: ")


def test_a_call_counts_as_a_stream_of_its_app_while_it_lasts() -> None:
    config = MockConfig(transcripts=(FIXTURES / FIXTURE,), max_streams=1)
    endpoint = {"type": "sip", "uri": f"sip:{FIXTURE}@mock.example"}
    with running_mock(config) as mock:
        auth = {"x-api-key": token(mock.base_url)}
        first = start(mock, auth, endpoint)
        refused = connect(mock, auth, {"operation": "start", "endpoint": endpoint})
        assert refused.status_code == 429
        assert "concurrent" in refused.json()["message"]
        connect(mock, auth, {"operation": "stop", "connectionId": first["connectionId"]})
        second = start(mock, auth, endpoint)
        connect(mock, auth, {"operation": "stop", "connectionId": second["connectionId"]})


def test_the_mock_command_maps_numbers_to_recordings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[MockConfig] = []
    monkeypatch.setattr(mock_symbl, "serve_mock", lambda config, *_: seen.append(config))
    folder = FIXTURES / FIXTURE
    result = CliRunner().invoke(main, ["mock", "--phone", f"+14155550100={folder}"])
    assert result.exit_code == 0, result.output
    assert seen[0].phones == {"14155550100": folder.resolve()}
    for bad in ("14155550100", f"=={folder}", f"1={FIXTURES}"):
        refused = CliRunner().invoke(main, ["mock", "--phone", bad])
        assert refused.exit_code == 2
        assert "--phone" in refused.output

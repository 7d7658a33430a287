"""The Management API's trackers over real HTTP, and what streamed conversations do with them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from harness.serve import RunningServer
from mock_symbl import MockConfig, running_mock

from helpers import (
    APP_ID,
    FIXTURES,
    conversation_id,
    kind,
    start_request,
    stream_fixture,
    token,
)

REPORTING = {"name": "Reporting", "vocabulary": ["quarterly report", "project dashboard"]}


def headers(base_url: str, secret: str) -> dict[str, str]:
    """Each secret is its own app: tests keep their trackers apart."""
    return {"Authorization": f"Bearer {token(base_url, APP_ID, secret)}"}


def create(base_url: str, auth: dict[str, str], body: Any, path: str = "tracker") -> httpx.Response:
    return httpx.post(f"{base_url}/v1/manage/{path}", json=body, headers=auth)


def stream(
    mock: RunningServer, auth: dict[str, str], name: str, **extra: Any
) -> list[dict[str, Any]]:
    return stream_fixture(mock, name, auth["Authorization"].removeprefix("Bearer "), **extra)


def test_a_tracker_is_created_read_listed_updated_and_deleted(
    mock_server: RunningServer,
) -> None:
    base, auth = mock_server.base_url, headers(mock_server.base_url, "crud")
    created = create(base, auth, REPORTING)
    assert created.status_code == 200
    tracker = created.json()["tracker"]
    assert tracker["name"] == "Reporting"
    assert tracker["vocabulary"] == REPORTING["vocabulary"]
    assert tracker["id"].isdigit() and len(tracker["id"]) == 16
    url = f"{base}/v1/manage/tracker/{tracker['id']}"
    assert httpx.get(url, headers=auth).json() == {"tracker": tracker}

    other = create(base, auth, {"name": "reporting", "vocabulary": ["weekly report"]})
    assert other.status_code == 200, "names are case-sensitive"
    listed = httpx.get(f"{base}/v1/manage/trackers", headers=auth).json()["trackers"]
    assert [t["name"] for t in listed] == ["Reporting", "reporting"]
    by_name = httpx.get(f"{base}/v1/manage/trackers", params={"name": "Reporting"}, headers=auth)
    assert by_name.json() == {"trackers": [tracker]}

    updated = httpx.put(
        url,
        json={"id": tracker["id"], "name": "Reports", "vocabulary": ["status report"]},
        headers=auth,
    )
    assert updated.status_code == 200
    # As Symbl's documented answer shows: the new phrases first, then those it had.
    assert updated.json()["tracker"] == {
        "id": tracker["id"],
        "name": "Reports",
        "vocabulary": ["status report", "quarterly report", "project dashboard"],
    }
    assert httpx.get(url, headers=auth).json() == updated.json()

    deleted = httpx.delete(url, headers=auth)
    assert deleted.json() == {"id": tracker["id"], "type": "tracker", "deleted": True}
    assert httpx.get(url, headers=auth).status_code == 404
    assert httpx.delete(url, headers=auth).status_code == 404
    remaining = httpx.get(f"{base}/v1/manage/trackers", headers=auth).json()["trackers"]
    assert [t["name"] for t in remaining] == ["reporting"]


def test_bulk_create_is_all_or_nothing(mock_server: RunningServer) -> None:
    base, auth = mock_server.base_url, headers(mock_server.base_url, "bulk")
    bad = [REPORTING, {"name": "Pricing", "vocabulary": ["what is the price?"]}]
    refused = create(base, auth, bad, "trackers")
    assert refused.status_code == 400
    assert "trackers[1].vocabulary[0]" in refused.json()["message"]
    assert httpx.get(f"{base}/v1/manage/trackers", headers=auth).json() == {"trackers": []}

    good = [REPORTING, {"name": "Pricing", "vocabulary": ["what is the price"]}]
    made = create(base, auth, good, "trackers")
    assert made.status_code == 200
    assert [t["name"] for t in made.json()["trackers"]] == ["Reporting", "Pricing"]
    again = create(base, auth, [{"name": "New", "vocabulary": ["x"]}, REPORTING], "trackers")
    assert again.status_code == 409
    assert "Reporting" in again.json()["message"]
    names = [
        t["name"] for t in httpx.get(f"{base}/v1/manage/trackers", headers=auth).json()["trackers"]
    ]
    assert names == ["Reporting", "Pricing"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"vocabulary": ["a"]}, "name"),
        ({"name": "", "vocabulary": ["a"]}, "name"),
        ({"name": "A"}, "vocabulary"),
        ({"name": "A", "vocabulary": []}, "vocabulary"),
        ({"name": "A", "vocabulary": ["budget", "Budget"]}, "vocabulary[1]"),
        ({"name": "A", "vocabulary": ["hello, world"]}, "vocabulary[0]"),
        ({"name": "A", "vocabulary": [f"phrase {i}" for i in range(51)]}, "at most 50"),
        ({"name": "A", "vocabulary": ["a"], "colour": "red"}, "colour"),
        ([REPORTING], "JSON object"),
    ],
)
def test_a_bad_definition_gets_400_naming_the_field(
    mock_server: RunningServer, body: Any, names: str
) -> None:
    reply = create(mock_server.base_url, headers(mock_server.base_url, "bad"), body)
    assert reply.status_code == 400
    assert names in reply.json()["message"]


def test_conflicts_unknown_ids_and_other_apps(mock_server: RunningServer) -> None:
    base, auth = mock_server.base_url, headers(mock_server.base_url, "conflicts")
    first = create(base, auth, REPORTING).json()["tracker"]
    second = create(base, auth, {"name": "Pricing", "vocabulary": ["price"]}).json()["tracker"]
    assert create(base, auth, REPORTING).status_code == 409
    renamed = httpx.put(
        f"{base}/v1/manage/tracker/{second['id']}", json={"name": "Reporting"}, headers=auth
    )
    assert renamed.status_code == 409
    wrong_id = httpx.put(
        f"{base}/v1/manage/tracker/{second['id']}", json={"id": first["id"]}, headers=auth
    )
    assert wrong_id.status_code == 400
    assert httpx.put(f"{base}/v1/manage/tracker/1", json={}, headers=auth).status_code == 404
    unknown = httpx.get(f"{base}/v1/manage/trackers", params={"nmae": "x"}, headers=auth)
    assert unknown.status_code == 400 and "nmae" in unknown.json()["message"]
    # Another app sees none of them.
    stranger = headers(base, "stranger")
    assert httpx.get(f"{base}/v1/manage/tracker/{first['id']}", headers=stranger).status_code == 404
    assert httpx.get(f"{base}/v1/manage/trackers", headers=stranger).json() == {"trackers": []}
    assert httpx.get(f"{base}/v1/manage/trackers").status_code == 401


def test_trackers_and_what_a_conversation_detected_survive_a_restart(tmp_path: Path) -> None:
    config = MockConfig(db=tmp_path / "mock.db", transcripts=(FIXTURES / "hot",))
    tracker = {"name": "Sound check", "vocabulary": ["microphone"]}
    with running_mock(config) as first:
        auth = headers(first.base_url, "restart")
        made = create(first.base_url, auth, tracker).json()["tracker"]
        messages = stream(first, auth, "hot", config=_config(enable_all=True))
        url = f"/v1/conversations/{conversation_id(messages)}/trackers-detected"
        before = httpx.get(first.base_url + url, headers=auth).json()
    assert [(t["id"], t["name"]) for t in before] == [(made["id"], "Sound check")]
    with running_mock(config) as second:
        auth = headers(second.base_url, "restart")
        listed = httpx.get(f"{second.base_url}/v1/manage/trackers", headers=auth).json()
        after = httpx.get(second.base_url + url, headers=auth).json()
    assert listed == {"trackers": [made]}
    assert after == before


def test_enable_all_trackers_runs_the_apps_trackers_in_a_stream(
    mock_server: RunningServer,
) -> None:
    base, auth = mock_server.base_url, headers(mock_server.base_url, "streamed")
    managed = create(base, auth, REPORTING).json()["tracker"]
    own = {"name": "Days", "vocabulary": ["Friday"]}
    messages = stream(mock_server, auth, "standup", trackers=[own], config=_config(enable_all=True))
    responses = [m for m in messages if kind(m) == "tracker_response"]
    assert all(m["isFinal"] is True for m in responses)
    found = {
        (t["name"], match["value"], ref["text"])
        for m in responses
        for t in m["trackers"]
        for match in t["matches"]
        for ref in match["messageRefs"]
    }
    assert found == {
        ("Reporting", "quarterly report", "Can you send me the quarterly report by Friday?"),
        ("Days", "Friday", "Can you send me the quarterly report by Friday?"),
        ("Reporting", "project dashboard", "I will update the project dashboard tomorrow morning."),
    }
    # Each match points at the message it was found in, sent before it.
    finals = {}
    for index, m in enumerate(messages):
        if kind(m) == "message_response":
            finals.update({msg["id"]: (index, msg["payload"]["content"]) for msg in m["messages"]})
    for index, m in enumerate(messages):
        if kind(m) == "tracker_response":
            for ref in (r for t in m["trackers"] for x in t["matches"] for r in x["messageRefs"]):
                assert finals[ref["id"]][0] < index
                assert finals[ref["id"]][1] == ref["text"]

    conversation = conversation_id(messages)
    detected = httpx.get(
        f"{base}/v1/conversations/{conversation}/trackers-detected", headers=auth
    ).json()
    assert [t["name"] for t in detected] == ["Days", "Reporting"]
    reporting = detected[1]
    assert reporting["id"] == managed["id"]
    assert [m["value"] for m in reporting["matches"]] == ["quarterly report", "project dashboard"]
    quarterly = reporting["matches"][0]
    (ref,) = quarterly["messageRefs"]
    assert ref["offset"] == ref["text"].index("quarterly report")
    # The insights found in that message hold the phrase too.
    assert quarterly["insightRefs"]
    for insight in quarterly["insightRefs"]:
        assert insight["text"] == ref["text"]
        assert insight["offset"] == ref["offset"]
    questions = httpx.get(f"{base}/v1/conversations/{conversation}/questions", headers=auth)
    asked = {q["id"] for q in questions.json()["questions"] if q["text"] == ref["text"]}
    assert asked <= {i["id"] for i in quarterly["insightRefs"]}
    assert asked
    old = httpx.get(f"{base}/v1/conversations/{conversation}/trackers", headers=auth).json()
    assert old == detected


def _config(*, enable_all: bool = False, interim: bool = False) -> dict[str, Any]:
    return {
        "confidenceThreshold": 0.5,
        "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 16000},
        "trackers": {"enableAllTrackers": enable_all, "interimResults": interim},
    }


def test_without_enable_all_trackers_the_apps_trackers_stay_out(
    mock_server: RunningServer,
) -> None:
    base, auth = mock_server.base_url, headers(mock_server.base_url, "not-enabled")
    create(base, auth, REPORTING)
    messages = stream(mock_server, auth, "standup", config=_config())
    assert not [m for m in messages if kind(m) == "tracker_response"]
    url = f"{base}/v1/conversations/{conversation_id(messages)}/trackers-detected"
    assert httpx.get(url, headers=auth).json() == []


def test_interim_results_report_a_match_before_its_message_is_final(
    mock_server: RunningServer,
) -> None:
    auth = headers(mock_server.base_url, "interim")
    tracker = {"name": "Report", "vocabulary": ["quarterly report"]}
    messages = stream(
        mock_server, auth, "standup", trackers=[tracker], config=_config(interim=True)
    )
    responses = [(i, m) for i, m in enumerate(messages) if kind(m) == "tracker_response"]
    interim = [(i, m) for i, m in responses if m["isFinal"] is False]
    final = [(i, m) for i, m in responses if m["isFinal"] is True]
    assert len(interim) == 1, "a match goes out once per phrase, not with every partial"
    assert len(final) == 1
    (at, early), (final_at, late) = interim[0], final[0]
    early_ref = early["trackers"][0]["matches"][0]["messageRefs"][0]
    late_ref = late["trackers"][0]["matches"][0]["messageRefs"][0]
    # The interim match names the message the phrase becomes, before it exists.
    assert early_ref["id"] == late_ref["id"]
    message_at = next(
        i
        for i, m in enumerate(messages)
        if kind(m) == "message_response" and m["messages"][0]["id"] == late_ref["id"]
    )
    assert at < message_at < final_at
    assert "quarterly report" in early_ref["text"].lower()
    assert late_ref["text"] == "Can you send me the quarterly report by Friday?"
    assert [m["sequenceNumber"] for _, m in responses] == sorted(
        m["sequenceNumber"] for _, m in responses
    )


def test_a_bad_tracker_option_is_an_error_naming_it(mock_server: RunningServer) -> None:
    access = token(mock_server.base_url, APP_ID, "bad-option")
    url = f"{mock_server.ws_url}/v1/streaming/hot?access_token={access}"
    config = _config()
    config["trackers"] = {"enableAllTrackers": "maybe"}

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps(start_request(16000, config=config)))
            return dict(json.loads(await socket.recv()))

    answer = asyncio.run(scenario())
    assert kind(answer) == "error"
    assert "config.trackers.enableAllTrackers" in answer["message"]["details"]

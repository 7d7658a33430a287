"""The cassette engine: a recorded session replayed to a new client, at any speed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.client.session import Stream, frames_of, run_session
from harness.protocol import Dispatcher, ProtocolError, StartRequest
from harness.serve import RunningServer
from harness.session_folder.log import SessionLog, SessionLogWriter, TextFrame, read_session
from mock_symbl import MockConfig, running_mock
from mock_symbl.engines.cassette import LIFECYCLE

from helpers import FIXTURES, token


@pytest.fixture(scope="module")
def cassette_mock() -> Iterator[RunningServer]:
    cassettes = tuple(sorted(p for p in FIXTURES.iterdir() if p.is_dir()))
    with running_mock(MockConfig(recordings=cassettes, seed=3)) as running:
        yield running


def kind_of(data: dict[str, Any]) -> str:
    return str(data["message"]["type"] if data["type"] == "message" else data["type"])


def content(log: SessionLog) -> list[tuple[int, dict[str, Any]]]:
    """(audio position, message) of each received message that is not a lifecycle one."""
    return [(f.position, f.data) for f in log.received() if kind_of(f.data) not in LIFECYCLE]


def audio_relative(data: dict[str, Any]) -> Any:
    """What a message says about the audio, without ids and wall-clock times."""
    kind = kind_of(data)
    if kind == "recognition_result":
        alternative = data["message"]["payload"]["raw"]["alternatives"][0]
        return kind, data["timeOffset"], alternative["transcript"], alternative["words"]
    if kind == "message_response":
        return kind, [
            (m["payload"]["content"], m["duration"]["timeOffset"]) for m in data["messages"]
        ]
    if kind == "insight_response":
        return kind, [(i["type"], i["text"]) for i in data["insights"]]
    if kind == "topic_response":
        return kind, [t["phrases"] for t in data["topics"]]
    if kind == "tracker_response":
        return kind, [
            (
                t["name"],
                [
                    (m["value"], [(r["text"], r["offset"]) for r in m["messageRefs"]])
                    for m in t["matches"]
                ],
            )
            for t in data["trackers"]
        ]
    return kind, data


def replay(mock: RunningServer, name: str, speed: float | None, folder: Path) -> SessionLog:
    recorded = read_session(FIXTURES / name)
    sent = [r.data for r in recorded.records if isinstance(r, TextFrame) and r.direction == "send"]
    start = StartRequest.from_json(next(d for d in sent if d.get("type") == "start_request"))
    access = token(mock.base_url)
    url = f"{mock.streaming_url(name)}?access_token={access}"
    with SessionLogWriter(folder, endpoint=url, sample_rate=recorded.sample_rate) as log:
        asyncio.run(
            run_session(url, Stream(start, frames_of(recorded.audio, 1024), speed), log=log)
        )
    return read_session(folder)


@pytest.mark.parametrize("speed", [1.0, None])
def test_the_same_events_in_the_same_order_relative_to_audio(
    cassette_mock: RunningServer, tmp_path: Path, speed: float | None
) -> None:
    recorded = content(read_session(FIXTURES / "hot"))
    log = replay(cassette_mock, "hot", speed, tmp_path / "replay")
    kinds = [kind_of(frame.data) for frame in log.received()]
    assert kinds[:3] == ["conversation_created", "started_listening", "recognition_started"]
    assert kinds[-2:] == ["conversation_completed", "recognition_stopped"]
    dispatcher = Dispatcher()
    for frame in log.received():
        (event,) = dispatcher.feed(frame.frame)
        assert not isinstance(event, ProtocolError)
    replayed = content(log)
    assert [audio_relative(d) for _, d in replayed] == [audio_relative(d) for _, d in recorded]
    if speed == 1.0:
        # Released once the client has sent what the recorded client had, never earlier
        # (how much later depends on how busy the machine is: benchmarks/ measure that).
        for (was, _), (now, _) in zip(recorded, replayed, strict=True):
            assert was <= now


def test_a_long_session_replays_completely_at_max_speed(
    cassette_mock: RunningServer, tmp_path: Path
) -> None:
    recorded = content(read_session(FIXTURES / "support-call"))
    replayed = content(replay(cassette_mock, "support-call", None, tmp_path / "replay"))
    assert [audio_relative(d) for _, d in replayed] == [audio_relative(d) for _, d in recorded]


def test_ids_are_rewritten_consistently_and_times_rebased(
    cassette_mock: RunningServer, tmp_path: Path
) -> None:
    recorded = read_session(FIXTURES / "standup")
    replayed = replay(cassette_mock, "standup", None, tmp_path / "replay")

    def ids(log: SessionLog) -> tuple[set[str], set[str], str]:
        messages: set[str] = set()
        references: set[str] = set()
        conversation = ""
        for frame in log.received():
            data: dict[str, Any] = frame.data
            if data["type"] == "message_response":
                messages |= {m["id"] for m in data["messages"]}
            elif data["type"] == "insight_response":
                references |= {i["messageReference"]["id"] for i in data["insights"]}
            elif data["type"] == "message" and data["message"]["type"] == "conversation_created":
                conversation = data["message"]["data"]["conversationId"]
        return messages, references, conversation

    old_messages, _, old_conversation = ids(recorded)
    new_messages, new_references, new_conversation = ids(replayed)
    assert new_conversation != old_conversation
    assert not new_messages & old_messages
    assert new_references <= new_messages
    started = datetime.fromisoformat(str(replayed.header["created"]).replace("Z", "+00:00"))
    for frame in replayed.received():
        if frame.data["type"] == "message_response":
            when = frame.data["messages"][0]["duration"]["startTime"]
            assert datetime.fromisoformat(when.replace("Z", "+00:00")) >= started


def test_a_replayed_conversation_answers_through_rest(
    cassette_mock: RunningServer, tmp_path: Path
) -> None:
    replayed = replay(cassette_mock, "standup", None, tmp_path / "replay")
    texts = [
        message["payload"]["content"]
        for frame in replayed.received()
        if frame.data["type"] == "message_response"
        for message in frame.data["messages"]
    ]
    conversation = next(
        f.data["message"]["data"]["conversationId"]
        for f in replayed.received()
        if f.data["type"] == "message"
    )
    reply = httpx.get(
        f"{cassette_mock.base_url}/v1/conversations/{conversation}/messages?sentiment=true",
        headers={"Authorization": f"Bearer {token(cassette_mock.base_url)}"},
    )
    assert [m["text"] for m in reply.json()["messages"]] == texts
    questions = httpx.get(
        f"{cassette_mock.base_url}/v1/conversations/{conversation}/questions",
        headers={"Authorization": f"Bearer {token(cassette_mock.base_url)}"},
    ).json()["questions"]
    assert questions

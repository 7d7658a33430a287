"""Injected faults: the plan, its triggers, and the harness's own client surviving each one."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from harness.client.conversation import ConversationClient
from harness.client.session import (
    Observers,
    SessionError,
    SessionResult,
    Stream,
    frames_of,
    run_session,
)
from harness.protocol import ServerError, StartRequest
from harness.protocol.events import UnknownEvent
from harness.session_folder.log import (
    Closed,
    ErrorRecord,
    SessionLogWriter,
    TextFrame,
    read_session,
)
from harness.session_folder.wavfile import read_pcm16
from harness.tools.replay import plan_replay
from mock_symbl import MockConfig, running_mock
from mock_symbl.session.faults import (
    FAULT_MESSAGE,
    EventDelays,
    FaultBoard,
    FaultError,
    Faults,
    FrameTriggers,
    RestFaults,
    plan_of_recording,
)

from helpers import FIXTURES, token

HOT = FIXTURES / "hot"


def test_a_plan_reads_from_query_parameters_and_ignores_the_rest() -> None:
    plan = Faults.from_query(
        {"access_token": "x", "fault_delay_ms": "200", "fault_drop_after_frames": "50"}
    )
    assert plan == Faults(delay_ms=200.0, drop_after_frames=50)
    assert plan.to_json() == {"delay_ms": 200.0, "drop_after_frames": 50}
    assert Faults.from_json(plan.to_json()) == plan


def test_max_data_rate_reads_from_json_and_query_and_is_off_by_default() -> None:
    assert Faults().max_data_rate is None
    assert Faults.from_json({"max_data_rate": 2}) == Faults(max_data_rate=2.0)
    assert Faults.from_query({"fault_max_data_rate": "1.5"}) == Faults(max_data_rate=1.5)
    assert Faults.from_json({"max_data_rate": None}) == Faults()
    assert Faults(max_data_rate=2.0).to_json() == {"max_data_rate": 2.0}
    assert Faults(max_data_rate=2.0).streaming


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"delay": 1}, "unknown fault 'delay'"),
        ({"delay_ms": "soon"}, "'delay_ms' must be a number"),
        ({"delay_ms": -1}, "delay_ms must be between 0 and 600000"),
        ({"delay_ms": float("nan")}, "delay_ms must be between 0 and 600000, got nan"),
        ({"jitter_ms": "Infinity"}, "jitter_ms must be between 0 and 600000, got inf"),
        ({"stall_s": 1e308}, "stall_s must be between 0 and 3600"),
        ({"drop_after_s": "NaN"}, "drop_after_s must be between 0 and 3600"),
        ({"retry_after_s": -5}, "retry_after_s must be between 0 and 3600, got -5"),
        ({"error_after_frames": 2**31}, "error_after_frames must be between 0 and 2147483647"),
        ({"seed": 10**30}, "seed must be between 0 and"),
        ({"delay_ms": 10**400}, "'delay_ms' must be a number"),
        ({"max_data_rate": 0}, "max_data_rate must be a finite multiple above 0, got 0.0"),
        ({"max_data_rate": -2}, "max_data_rate must be a finite multiple above 0"),
        ({"max_data_rate": "inf"}, "max_data_rate must be a finite multiple above 0, got inf"),
        ({"max_data_rate": "nan"}, "max_data_rate must be a finite multiple above 0, got nan"),
        ({"drop_after_frames": 2.5}, "'drop_after_frames' must be a number"),
        ({"rest_429_share": 1.5}, "rest_429_share must be between 0 and 1"),
        ({"rest_429_share": 0.6, "rest_500_share": 0.6}, "must not pass 1"),
        ({"jitter": "gaussian"}, "jitter must be one of"),
        ({"close_code": 1005}, "cannot be sent in a close frame"),
        ({"refuse_status": 200}, "refuse_status must be an HTTP error status"),
    ],
)
def test_a_plan_that_cannot_be_carried_out_is_refused_by_name(
    fields: dict[str, Any], names: str
) -> None:
    with pytest.raises(FaultError, match=names):
        Faults.from_json(fields)


@given(
    share_429=st.floats(0, 0.5),
    share_500=st.floats(0, 0.5),
    requests=st.integers(1, 400),
)
def test_rest_faults_fail_the_asked_share_of_requests(
    share_429: float, share_500: float, requests: int
) -> None:
    rest = RestFaults(Faults(rest_429_share=share_429, rest_500_share=share_500))
    answers = [rest.next() for _ in range(requests)]
    # Never more than the share; short of it by at most the failures owed but not yet due
    # (one of each, when a 500 waits behind a 429 that fell on the same request).
    for status, share in ((429, share_429), (500, share_500)):
        assert share * requests - 2 <= answers.count(status) <= share * requests + 1e-6
    assert set(answers) <= {None, 429, 500}


@given(
    delay=st.floats(0, 1000),
    jitter=st.floats(0, 500),
    kind=st.sampled_from(["uniform", "exponential"]),
    seed=st.integers(0, 2**32),
)
def test_event_delays_are_at_least_the_delay_and_repeat_with_the_seed(
    delay: float, jitter: float, kind: str, seed: int
) -> None:
    plan = Faults(delay_ms=delay, jitter_ms=jitter, jitter=kind, seed=seed)
    delays = EventDelays(plan)
    series = [delays.next() for _ in range(50)]
    again = EventDelays(plan)
    assert series == [again.next() for _ in range(50)]
    assert all(d >= delay / 1000 - 1e-12 for d in series)
    if kind == "uniform":
        assert all(d <= (delay + jitter) / 1000 + 1e-12 for d in series)


def test_frame_triggers_fire_each_fault_once_at_its_frame() -> None:
    triggers = FrameTriggers(
        Faults(error_after_frames=2, stall_s=1.0, stall_after_frames=3, drop_after_frames=5)
    )
    fired = [triggers.frame() for _ in range(5)]
    assert fired == [[], ["error"], ["stall"], [], ["drop"]]


def test_an_apps_own_plans_come_before_everyones_and_reach_no_other_app() -> None:
    board = FaultBoard()
    board.set(Faults(delay_ms=10))
    board.set(Faults(delay_ms=20), app="a")
    board.set(Faults(delay_ms=30), "c", app="a")
    assert board.for_connection("c", {}, None, app="a") == Faults(delay_ms=30)
    assert board.for_connection("d", {}, None, app="a") == Faults(delay_ms=20)
    assert board.for_connection("c", {}, None, app="b") == Faults(delay_ms=10)
    assert board.for_connection("c", {}, None) == Faults(delay_ms=10)
    assert board.to_json("a") == {
        "default": {"delay_ms": 20.0},
        "connections": {"c": {"delay_ms": 30.0}},
    }
    assert board.to_json("b") == {"default": {}, "connections": {}}
    board.clear("a")
    assert board.for_connection("c", {}, None, app="a") == Faults(delay_ms=10)


def test_an_apps_rest_faults_fail_its_own_requests_only() -> None:
    board = FaultBoard()
    board.set(Faults(rest_500_share=1.0, retry_after_s=7), app="a")
    assert board.rest_fault("a") == (500, 7)
    assert board.rest_fault("b") is None
    assert board.rest_fault() is None


def test_the_board_prefers_the_url_then_the_connection_then_everyone_then_the_recording() -> None:
    board = FaultBoard()
    recorded = Faults(delay_ms=5)
    assert board.for_connection("c", {}, recorded) == recorded
    board.set(Faults(delay_ms=10))
    assert board.for_connection("c", {}, recorded) == Faults(delay_ms=10)
    board.set(Faults(delay_ms=20), "c")
    assert board.for_connection("c", {}, recorded) == Faults(delay_ms=20)
    assert board.for_connection("c", {"fault_delay_ms": "30"}, recorded) == Faults(delay_ms=30)
    board.clear()
    assert board.for_connection("c", {}, None) == Faults()


def session(
    url: str, folder: Path, *, speed: float | None = None, frames: int = 1024
) -> SessionResult:
    """Stream the `hot` fixture through the harness's own client, logging to `folder`."""
    audio = read_pcm16(HOT / "audio.wav")
    with SessionLogWriter(folder, endpoint=url, sample_rate=48000) as log:
        return asyncio.run(
            run_session(
                url,
                Stream(
                    StartRequest(sample_rate_hertz=48000), frames_of(audio.samples, frames), speed
                ),
                log=log,
                observers=Observers(stop_timeout_s=10),
            )
        )


@pytest.fixture(scope="module")
def mock() -> Any:
    # Open control: the plans set below are for every session, as for a local developer.
    with running_mock(MockConfig(transcripts=(HOT,), seed=3, open_control=True)) as running:
        yield running


def url_of(mock: Any, query: str = "", connection: str = "hot") -> str:
    return f"{mock.streaming_url(connection)}?access_token={token(mock.base_url)}{query}"


def fault_messages(result: SessionResult) -> list[dict[str, Any]]:
    return [
        dict(e.raw)
        for e in result.events
        if isinstance(e, UnknownEvent) and e.raw.get("type") == FAULT_MESSAGE
    ]


def test_delay_holds_every_event_back_and_the_plan_is_announced_first(
    mock: Any, tmp_path: Path
) -> None:
    result = session(url_of(mock, "&fault_delay_ms=150"), tmp_path / "s")
    assert result.error is None
    assert fault_messages(result)[0] == {"type": FAULT_MESSAGE, "faults": {"delay_ms": 150.0}}
    assert result.final_transcripts
    log = read_session(tmp_path / "s")
    start_sent = next(
        r.t for r in log.records if isinstance(r, TextFrame) and r.direction == "send"
    )
    # The plan's announcement is queued when the socket is accepted, which may come before
    # the client's start request; the events the start request causes come after it.
    first_event = next(r.t for r in log.received() if r.data.get("type") != FAULT_MESSAGE)
    assert first_event - start_sent >= 0.150


def test_drop_after_frames_ends_without_a_close_frame_and_keeps_what_came_before(
    mock: Any, tmp_path: Path
) -> None:
    result = session(url_of(mock, "&fault_drop_after_frames=40"), tmp_path / "s")
    assert result.close_code == 1006
    assert result.error is not None
    assert "1006" in result.error
    assert {"type": FAULT_MESSAGE, "fired": "drop", "frames": 40} in fault_messages(result)
    log = read_session(tmp_path / "s")
    assert log.audio.size >= 40 * 1024
    closes = [r for r in log.records if isinstance(r, Closed)]
    assert [c.code for c in closes] == [1006]


def test_close_after_seconds_sends_the_asked_code(mock: Any, tmp_path: Path) -> None:
    result = session(
        url_of(mock, "&fault_drop_after_s=1&fault_close_code=4001"), tmp_path / "s", speed=1.0
    )
    assert result.close_code == 4001
    log = read_session(tmp_path / "s")
    # Real time: the close came while the 6.2 s recording was still going out.
    assert 0 < log.audio.size < read_pcm16(HOT / "audio.wav").samples.size
    assert log.received()


def test_an_injected_error_arrives_and_the_session_goes_on(mock: Any, tmp_path: Path) -> None:
    result = session(url_of(mock, "&fault_error_after_frames=10"), tmp_path / "s")
    errors = [e for e in result.events if isinstance(e, ServerError)]
    assert [e.message for e in errors] == ["Injected fault"]
    assert result.close_code == 1000
    assert result.final_transcripts


def test_a_stall_holds_the_client_back_and_the_session_completes(mock: Any, tmp_path: Path) -> None:
    result = session(url_of(mock, "&fault_stall_s=1&fault_stall_after_frames=5"), tmp_path / "s")
    assert result.close_code == 1000
    assert result.final_transcripts
    assert {"type": FAULT_MESSAGE, "fired": "stall", "frames": 5, "seconds": 1.0} in (
        fault_messages(result)
    )


def test_a_client_over_the_data_rate_is_refused_with_1011(mock: Any, tmp_path: Path) -> None:
    result = session(url_of(mock, "&fault_max_data_rate=2"), tmp_path / "s")
    assert result.close_code == 1011
    assert result.error is not None
    assert "data rate too high" in result.error
    assert {"type": FAULT_MESSAGE, "fired": "max_data_rate", "ratio": 2.0} in (
        fault_messages(result)
    )


def test_a_client_within_the_data_rate_is_served(mock: Any, tmp_path: Path) -> None:
    result = session(url_of(mock, "&fault_max_data_rate=3"), tmp_path / "s", speed=1.0)
    assert result.close_code == 1000
    assert result.final_transcripts


async def _leave_while_stalled(url: str) -> None:
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "start_request", "config": {}}))
        for _ in range(5):
            await socket.send(bytes(2048))
        socket.transport.abort()


async def _admitted(url: str) -> bool:
    try:
        async with websockets.connect(url):
            return True
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 429
        return False


def test_a_stalled_connection_ends_when_its_client_leaves() -> None:
    # One stream per app: until the stalled connection ends, the app gets 429.
    with running_mock(MockConfig(max_streams=1)) as only_one:
        url = only_one.streaming_url("stalled") + f"?access_token={token(only_one.base_url)}"
        asyncio.run(_leave_while_stalled(url + "&fault_stall_s=3600&fault_stall_after_frames=2"))
        admitted = False
        for _ in range(300):
            admitted = asyncio.run(_admitted(url))
            if admitted:
                break
            time.sleep(0.2)
    assert admitted


def test_a_refused_handshake_names_its_status_and_is_logged(mock: Any, tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="HTTP 503"):
        session(url_of(mock, "&fault_refuse_status=503"), tmp_path / "s")
    log = read_session(tmp_path / "s")
    assert isinstance(log.records[-1], ErrorRecord)
    assert plan_of_recording(log.records) == Faults(refuse_status=503)


def test_an_invalid_plan_is_refused_at_the_handshake(mock: Any, tmp_path: Path) -> None:
    with pytest.raises(SessionError, match=r"HTTP 400.*unknown fault 'delay'"):
        session(url_of(mock, "&fault_delay=5"), tmp_path / "s")


def test_the_control_route_sets_a_plan_per_connection_and_for_everyone(
    mock: Any, tmp_path: Path
) -> None:
    control = f"{mock.base_url}/v1/mock/faults"
    try:
        reply = httpx.post(control, json={"connectionId": "hot", "error_after_frames": 3})
        assert reply.status_code == 200
        assert reply.json()["connections"] == {"hot": {"error_after_frames": 3}}
        assert httpx.post(control, json={"delay": 1}).status_code == 400
        result = session(url_of(mock), tmp_path / "s")
        assert [e.message for e in result.events if isinstance(e, ServerError)] == [
            "Injected fault"
        ]
    finally:
        assert httpx.delete(control).json() == {"default": {}, "connections": {}}


def test_rest_faults_answer_429_and_500_and_the_client_retries_through_them(
    mock: Any, tmp_path: Path
) -> None:
    result = session(url_of(mock), tmp_path / "s")
    assert result.conversation_id is not None
    control = f"{mock.base_url}/v1/mock/faults"
    httpx.post(control, json={"rest_429_share": 0.5, "rest_500_share": 0.25, "retry_after_s": 1})
    try:
        path = f"{mock.base_url}/v1/conversations/{result.conversation_id}/messages"
        headers = {"Authorization": f"Bearer {token(mock.base_url)}"}
        statuses = [httpx.get(path, headers=headers) for _ in range(12)]
        codes = [r.status_code for r in statuses]
        assert codes.count(429) == 6
        assert 2 <= codes.count(500) <= 3
        assert codes.count(200) == 12 - codes.count(429) - codes.count(500)
        limited = next(r for r in statuses if r.status_code == 429)
        assert limited.headers["Retry-After"] == "1"
        assert limited.headers["X-Mock-Fault"] == "429"
        waits: list[float] = []
        with ConversationClient(mock.base_url, token(mock.base_url), sleep=waits.append) as client:
            snapshot = client.snapshot(result.conversation_id)
        assert snapshot["messages"]
        assert 429 in client.retried
        assert 500 in client.retried
        assert 1.0 in waits
    finally:
        httpx.delete(control)


def test_a_replay_of_a_faulty_recording_reproduces_its_faults(tmp_path: Path) -> None:
    recording = tmp_path / "faulty"
    with running_mock(MockConfig(transcripts=(HOT,), seed=3)) as mock:
        first = session(url_of(mock, "&fault_drop_after_frames=60&fault_delay_ms=20"), recording)
    assert first.close_code == 1006
    # The recording, replayed as a cassette at full speed, drops at the same frame.
    plan = plan_replay(recording)
    with running_mock(MockConfig(recordings=(recording,), engine="cassette")) as mock:
        url = url_of(mock, connection="faulty")
        with SessionLogWriter(tmp_path / "again", endpoint=url, sample_rate=plan.rate) as log:
            again = asyncio.run(
                run_session(
                    url,
                    Stream(plan.start, plan.frames(), speed=None),
                    log=log,
                    observers=Observers(stop_timeout_s=10),
                )
            )
    assert again.close_code == 1006
    assert fault_messages(again)[0]["faults"] == {"delay_ms": 20.0, "drop_after_frames": 60}
    # The drop comes after the same frame; how much more the client sent before it saw the
    # drop is up to the machine's timing.
    fired = {"type": FAULT_MESSAGE, "fired": "drop", "frames": 60}
    assert fired in fault_messages(first)
    assert fired in fault_messages(again)
    assert read_session(tmp_path / "again").audio.size >= 60 * 1024


def test_a_replay_of_a_refused_recording_is_refused_the_same_way(tmp_path: Path) -> None:
    recording = tmp_path / "refused"
    with running_mock(MockConfig(transcripts=(HOT,))) as mock, pytest.raises(SessionError):
        session(url_of(mock, "&fault_refuse_status=502"), recording)
    cassette = MockConfig(recordings=(recording,), engine="cassette")
    with running_mock(cassette) as mock, pytest.raises(SessionError, match="HTTP 502"):
        session(url_of(mock, connection="refused"), tmp_path / "again")

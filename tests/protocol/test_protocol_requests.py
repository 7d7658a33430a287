"""Start, stop and modify requests: building, validating, naming the bad field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol import (
    SAMPLE_RATES,
    Redaction,
    Speaker,
    StartRequest,
    StartRequestError,
    Tracker,
    encode,
    modify_request,
    stop_request,
)

SEED_START_REQUEST: dict[str, Any] = {
    "type": "start_request",
    "meetingTitle": "Websockets How-to",
    "insightTypes": ["question", "action_item"],
    "config": {
        "confidenceThreshold": 0.5,
        "languageCode": "en-US",
        "speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 44100},
    },
    "speaker": {"userId": "example@symbl.ai", "name": "Example Sample"},
}


def _rate_for(encoding: str) -> st.SearchStrategy[int | None]:
    low, high = SAMPLE_RATES[encoding]
    return st.none() | st.integers(low, high if high is not None else 192000)


words = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)
start_requests = st.sampled_from(list(SAMPLE_RATES)).flatmap(
    lambda encoding: st.builds(
        StartRequest,
        encoding=st.just(encoding),
        sample_rate_hertz=_rate_for(encoding),
        meeting_title=st.none() | st.text(max_size=30),
        insight_types=st.lists(
            st.sampled_from(["question", "action_item", "follow_up", "topic"]), unique=True
        ).map(tuple),
        confidence_threshold=st.floats(0.5, 1.0),
        language_code=st.none() | st.just("en-US"),
        timezone_offset=st.none() | st.integers(-720, 840),
        speaker=st.none() | st.builds(Speaker, user_id=st.none() | words, name=st.none() | words),
        trackers=st.lists(
            st.builds(Tracker, name=words, vocabulary=st.lists(words, min_size=1).map(tuple)),
            max_size=3,
        ).map(tuple),
        custom_vocabulary=st.lists(words, max_size=3).map(tuple),
        sentiment=st.booleans(),
        detect_entities=st.booleans(),
        redaction=st.none()
        | st.builds(
            Redaction,
            identify_content=st.booleans(),
            redact_content=st.booleans(),
            redaction_string=words,
        ),
        no_connection_timeout=st.none() | st.integers(0, 1800),
        disconnect_on_stop_request=st.none() | st.booleans(),
        disconnect_on_stop_request_timeout=st.none() | st.integers(0, 1800),
    )
)


@given(start_requests)
def test_built_requests_survive_the_wire(request: StartRequest) -> None:
    assert StartRequest.from_json(json.loads(request.encode())) == request


def test_the_seed_start_request_is_valid() -> None:
    request = StartRequest.from_json(SEED_START_REQUEST)
    assert request.encoding == "LINEAR16"
    assert request.sample_rate_hertz == 44100
    assert request.insight_types == ("question", "action_item")
    assert request.speaker == Speaker(user_id="example@symbl.ai", name="Example Sample")
    assert request.meeting_title == "Websockets How-to"


def test_unknown_fields_are_kept_through_a_round_trip() -> None:
    message = {
        **SEED_START_REQUEST,
        "source": "js_sdk",
        "config": {**SEED_START_REQUEST["config"], "vendorHint": {"region": "eu"}},
        "speaker": {"userId": "a@b.c", "name": "A", "title": "CTO"},
    }
    out = StartRequest.from_json(message).to_json()
    assert out["source"] == "js_sdk"
    assert out["config"]["vendorHint"] == {"region": "eu"}
    assert out["speaker"]["title"] == "CTO"


def test_redaction_is_read_with_its_documented_defaults() -> None:
    message = {**SEED_START_REQUEST, "config": {"redaction": {"identifyContent": True}}}
    request = StartRequest.from_json(message)
    assert request.redaction == Redaction(identify_content=True)
    assert request.to_json()["config"]["redaction"] == {
        "identifyContent": True,
        "redactContent": False,
        "redactionString": "****",
    }


def test_older_clients_flat_audio_config_is_accepted() -> None:
    request = StartRequest.from_json(
        {"type": "start_request", "config": {"encoding": "mulaw", "sampleRateHertz": 8000}}
    )
    assert (request.encoding, request.sample_rate_hertz) == ("MULAW", 8000)


def test_unknown_insight_types_are_kept_but_not_produced() -> None:
    request = StartRequest(insight_types=("question", "topic"))
    assert request.insight_types == ("question", "topic")
    assert request.known_insight_types == ("question",)


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [(e, r) for e, (low, high) in SAMPLE_RATES.items() for r in (low, high or 96000)],
)
def test_each_encoding_accepts_its_rate_range_ends(encoding: str, rate: int) -> None:
    assert StartRequest(encoding=encoding, sample_rate_hertz=rate).sample_rate_hertz == rate


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [(e, low - 1) for e, (low, _) in SAMPLE_RATES.items()]
    + [(e, high + 1) for e, (_, high) in SAMPLE_RATES.items() if high is not None],
)
def test_each_encoding_refuses_rates_outside_its_range(encoding: str, rate: int) -> None:
    with pytest.raises(StartRequestError) as error:
        StartRequest(encoding=encoding, sample_rate_hertz=rate)
    assert error.value.path == "config.speechRecognition.sampleRateHertz"


@pytest.mark.parametrize(
    ("message", "path"),
    [
        ({"type": "stop_request"}, "type"),
        ({"type": "start_request", "config": []}, "config"),
        (
            {"type": "start_request", "config": {"confidenceThreshold": 0.49}},
            "config.confidenceThreshold",
        ),
        (
            {"type": "start_request", "config": {"confidenceThreshold": 1.01}},
            "config.confidenceThreshold",
        ),
        (
            {"type": "start_request", "config": {"confidenceThreshold": "high"}},
            "config.confidenceThreshold",
        ),
        (
            {"type": "start_request", "config": {"speechRecognition": {"encoding": "MP3"}}},
            "config.speechRecognition.encoding",
        ),
        (
            {
                "type": "start_request",
                "config": {"speechRecognition": {"sampleRateHertz": 44100.5}},
            },
            "config.speechRecognition.sampleRateHertz",
        ),
        ({"type": "start_request", "config": {"sampleRateHertz": 4000}}, "config.sampleRateHertz"),
        ({"type": "start_request", "config": {"timezoneOffset": "PST"}}, "config.timezoneOffset"),
        ({"type": "start_request", "config": {"sentiment": "yes"}}, "config.sentiment"),
        ({"type": "start_request", "insightTypes": "question"}, "insightTypes"),
        ({"type": "start_request", "insightTypes": ["question", 3]}, "insightTypes[1]"),
        ({"type": "start_request", "speaker": "Jane"}, "speaker"),
        ({"type": "start_request", "speaker": {"userId": 7}}, "speaker.userId"),
        ({"type": "start_request", "trackers": [{"vocabulary": ["x"]}]}, "trackers[0].name"),
        (
            {"type": "start_request", "trackers": [{"name": "B", "vocabulary": []}]},
            "trackers[0].vocabulary",
        ),
        ({"type": "start_request", "noConnectionTimeout": 1801}, "noConnectionTimeout"),
        ({"type": "start_request", "disconnectOnStopRequest": "no"}, "disconnectOnStopRequest"),
    ],
)
def test_errors_name_the_bad_field(message: dict[str, Any], path: str) -> None:
    with pytest.raises(StartRequestError) as error:
        StartRequest.from_json(message)
    assert error.value.path == path
    assert str(error.value).startswith(f"{path}: ")


def test_a_start_request_must_be_an_object() -> None:
    with pytest.raises(StartRequestError, match="expected object"):
        StartRequest.from_json(["start_request"])


def test_stop_and_modify_requests() -> None:
    assert encode(stop_request()) == '{"type":"stop_request"}'
    assert modify_request("opus", 48000) == {
        "type": "modify_request",
        "speechRecognition": {"encoding": "Opus", "sampleRateHertz": 48000},
    }
    with pytest.raises(StartRequestError) as error:
        modify_request("LINEAR16", 96000)
    assert error.value.path == "speechRecognition.sampleRateHertz"

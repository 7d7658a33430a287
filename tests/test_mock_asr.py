"""The `asr` engine recognises the fixtures' speech through a real socket, streaming.

Its accuracy on synthetic espeak-ng speech is modest. The bounds below are the measured
word error rates (0.64-0.84 with pocketsphinx 5 and espeak-ng 1.51) plus about 0.1,
so a regression shows without tuning the test to one transcript.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import jiwer
import pytest

from harness.transcript import read_transcript
from harness.wavfile import read_pcm16
from mock_symbl.app import MockConfig
from mock_symbl.server import RunningMock, running_mock

from helpers import kind, start_request, stream_session, token

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
WER_BOUND = {"standup": 0.76, "feedback": 0.74, "hot": 0.8, "support-call": 0.94}


@pytest.fixture(scope="module")
def asr_mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(engine="asr")) as running:
        yield running


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z' ]", " ", text.lower())).strip()


@pytest.mark.parametrize("name", sorted(WER_BOUND))
def test_asr_recognises_each_fixture_within_its_word_error_bound(
    asr_mock: RunningMock, name: str
) -> None:
    audio = read_pcm16(FIXTURES / name / "audio.wav")
    transcript = read_transcript(FIXTURES / name / "transcript.json")
    url = f"{asr_mock.ws_url}/v1/streaming/asr-{name}?access_token={token(asr_mock.base_url)}"
    messages, code, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples)
    )
    assert code == 1000
    finals = [
        m["payload"]["content"]
        for r in messages
        if kind(r) == "message_response"
        for m in r["messages"]
    ]
    assert len(finals) == len(transcript.phrases)
    error = jiwer.wer(normalise(transcript.text), normalise(" ".join(finals)))
    assert error <= WER_BOUND[name], f"{name}: WER {error:.2f}"


def test_partials_stream_before_each_final(asr_mock: RunningMock) -> None:
    audio = read_pcm16(FIXTURES / "standup" / "audio.wav")
    url = f"{asr_mock.ws_url}/v1/streaming/partials?access_token={token(asr_mock.base_url)}"
    messages, _, _ = asyncio.run(
        stream_session(url, start_request(audio.sample_rate), audio.samples)
    )
    partials = 0
    finals = 0
    for message in messages:
        if kind(message) == "recognition_result" and not message["message"]["isFinal"]:
            partials += 1
            words = message["message"]["payload"]["raw"]["alternatives"][0]["words"]
            assert words
            assert all(float(w["endTime"]["seconds"]) <= audio.samples.size / 16000 for w in words)
        elif kind(message) == "message_response":
            assert partials >= 2
            partials = 0
            finals += 1
    assert finals == 6

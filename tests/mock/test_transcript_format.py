"""The formatted transcript (`POST …/transcript`): Markdown and SRT from the stored messages,
first as pure functions, then over HTTP on a conversation streamed from a fixture."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.session_folder.transcript import read_transcript
from harness.session_folder.wavfile import read_pcm16
from mock_symbl import MockConfig, running_mock
from mock_symbl.session.transcript_format import (
    TranscriptOptions,
    TranscriptRequestError,
    formatted,
    srt_time,
)
from mock_symbl.store import Member, StoredInsight, StoredMessage, StoredTopic, StoredWord

from helpers import FIXTURES, conversation_id, start_request, stream_session, token

FIXTURE = "standup"
OTHER_ID, OTHER_SECRET = "q" * 64, "r" * 128
JANE = Member("j-1", "Jane", "jane@example.com")
ANON_A, ANON_B = Member("u-1"), Member("u-2")


def _message(n: int, who: Member, text: str, start: float, step: float = 0.25) -> StoredMessage:
    words = tuple(
        StoredWord(w, "", "", round(start + i * step, 3), step, 0.9)
        for i, w in enumerate(text.split())
    )
    return StoredMessage(
        id=f"m{n}",
        conversation_id="c",
        text=text,
        sender=who,
        start_time="",
        end_time="",
        # Deliberately not the words' span: cue times must come from the words.
        time_offset=start - 0.5,
        duration=99.0,
        sentiment=0.0,
        words=words,
    )


MESSAGES = (
    _message(0, ANON_A, "Let us talk about the pricing of the software.", 1.0),
    _message(1, ANON_B, "It costs <b>two</b> thousand & more.", 4.5),
    _message(2, ANON_A, "Okay.", 3661.25),
)


def _payload(body: dict[str, Any], **extra: Any) -> str:
    answer = formatted(list(MESSAGES), TranscriptOptions.from_json(body), **extra)
    assert answer["transcript"]["contentType"] == body["contentType"]
    return str(answer["transcript"]["payload"])


def test_markdown_paragraphs_are_the_messages_with_their_speakers() -> None:
    body = {"contentType": "text/markdown", "createParagraphs": True, "showSpeakerSeparation": True}
    assert _payload(body).split("<br/><br/>") == [
        "Speaker 1: Let us talk about the pricing of the software.",
        "Speaker 2: It costs &lt;b&gt;two&lt;/b&gt; thousand &amp; more.",
        "Speaker 1: Okay.",
    ]


def test_markdown_without_paragraphs_is_one_run_of_text_without_speakers() -> None:
    payload = _payload({"contentType": "text/markdown"})
    assert "<br/>" not in payload
    assert "Speaker" not in payload
    assert payload.startswith("Let us talk about the pricing of the software. It costs &lt;b&gt;")


def test_named_speakers_are_labelled_by_name() -> None:
    message = _message(0, JANE, "Hello there.", 0.0)
    options = TranscriptOptions.from_json(
        {"contentType": "text/markdown", "showSpeakerSeparation": True}
    )
    assert formatted([message], options)["transcript"]["payload"] == "Jane: Hello there."


def test_key_phrases_are_marked_as_asked() -> None:
    insight = StoredInsight("i", "c", "action_item", MESSAGES[0].text, 0.9, ("m0",), ANON_A)
    topics = [
        StoredTopic("t1", "c", "pricing", 0.8, ("m0",), 0.0),
        StoredTopic("t2", "c", "thousand", 0.7, ("m1",), 0.0),
    ]
    phrases = {"insights": [insight], "topics": topics}
    plain = _payload({"contentType": "text/markdown"}, **phrases)
    assert "<mark>" not in plain
    only = _payload(
        {"contentType": "text/markdown", "phrases": {"highlightOnlyInsightKeyPhrases": True}},
        **phrases,
    )
    # The insight's message has its topic marked; a message with no insight has nothing marked.
    assert re.findall(r"<mark>(.*?)</mark>", only) == ["pricing"]
    every = _payload(
        {"contentType": "text/markdown", "phrases": {"highlightAllKeyPhrases": True}}, **phrases
    )
    assert re.findall(r"<mark>(.*?)</mark>", every) == ["pricing", "thousand"]


def test_srt_has_a_cue_per_message_timed_by_its_words() -> None:
    payload = _payload({"contentType": "text/srt", "showSpeakerSeparation": True})
    cues = payload.strip().split("\n\n")
    assert cues == [
        "1\n00:00:01,000 --> 00:00:03,250\n"
        "Speaker 1: Let us talk about the pricing of the software.",
        "2\n00:00:04,500 --> 00:00:06,000\nSpeaker 2: It costs <b>two</b> thousand & more.",
        "3\n01:01:01,250 --> 01:01:01,500\nSpeaker 1: Okay.",
    ]


@given(st.integers(min_value=0, max_value=99 * 3_600_000 - 1))
def test_srt_time_round_trips_milliseconds(millis: int) -> None:
    hours, minutes, rest = srt_time(millis / 1000).split(":")
    seconds, fraction = rest.split(",")
    assert len(fraction) == 3 and len(minutes) == 2 and len(seconds) == 2
    assert int(minutes) < 60 and int(seconds) < 60
    assert ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(fraction) == millis


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "contentType is required"),
        ({"contentType": "text/html"}, "Unsupported contentType 'text/html'"),
        ({"contentType": "text/srt", "showSpeakerSeparation": "yes"}, "showSpeakerSeparation"),
        ({"contentType": "text/markdown", "createParagraphs": 1}, "createParagraphs"),
        ({"contentType": "text/markdown", "phrases": []}, "phrases must be an object"),
        (
            {"contentType": "text/markdown", "phrases": {"highlightAllKeyPhrases": "true"}},
            "phrases.highlightAllKeyPhrases",
        ),
    ],
)
def test_a_bad_request_names_its_problem(body: dict[str, Any], named: str) -> None:
    with pytest.raises(TranscriptRequestError, match=re.escape(named)):
        TranscriptOptions.from_json(body)


# --- over HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    base_url: str
    conversation: str
    headers: dict[str, str]
    theirs: dict[str, str]

    def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/v1/conversations/{self.conversation}/transcript",
            json=body,
            headers=self.headers if headers is None else headers,
        )


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with running_mock(MockConfig(transcripts=(FIXTURES / FIXTURE,), seed=11)) as mock:
        access = token(mock.base_url)
        audio = read_pcm16(FIXTURES / FIXTURE / "audio.wav")
        url = f"{mock.ws_url}/v1/streaming/{FIXTURE}?access_token={access}"
        received, code, _ = asyncio.run(
            stream_session(url, start_request(audio.sample_rate), audio.samples)
        )
        assert code == 1000
        yield Live(
            mock.base_url,
            conversation_id(received),
            {"Authorization": f"Bearer {access}"},
            {"Authorization": f"Bearer {token(mock.base_url, OTHER_ID, OTHER_SECRET)}"},
        )


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def test_markdown_over_http_has_the_fixtures_words_in_order(live: Live) -> None:
    phrases = read_transcript(FIXTURES / FIXTURE / "transcript.json").phrases
    reply = live.post(
        {
            "contentType": "text/markdown",
            "createParagraphs": True,
            "phrases": {"highlightOnlyInsightKeyPhrases": True, "highlightAllKeyPhrases": True},
            "showSpeakerSeparation": True,
        }
    )
    assert reply.status_code == 200, reply.text
    transcript = reply.json()["transcript"]
    assert transcript["contentType"] == "text/markdown"
    paragraphs = transcript["payload"].split("<br/><br/>")
    assert len(paragraphs) == len(phrases)
    for paragraph, phrase in zip(paragraphs, phrases, strict=True):
        assert paragraph.startswith("Jane: ")
        unmarked = re.sub(r"</?mark>", "", paragraph.removeprefix("Jane: "))
        assert _words(unmarked) == _words(phrase.text)
    assert "<mark>" in transcript["payload"]


def test_srt_over_http_times_each_cue_by_the_fixtures_word_times(live: Live) -> None:
    phrases = read_transcript(FIXTURES / FIXTURE / "transcript.json").phrases
    reply = live.post({"contentType": "text/srt"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["transcript"]["contentType"] == "text/srt"
    cues = reply.json()["transcript"]["payload"].strip().split("\n\n")
    assert len(cues) == len(phrases)
    for number, (cue, phrase) in enumerate(zip(cues, phrases, strict=True), start=1):
        index, times, text = cue.split("\n")
        assert index == str(number)
        # The Conversation API keeps offsets to the hundredth of a second, as Symbl did.
        first, last = phrase.words[0].start, phrase.words[-1].end
        assert times == f"{srt_time(round(first, 2))} --> {srt_time(round(last, 2))}"
        assert _words(text) == _words(phrase.text)


def test_errors_over_http_are_documented_statuses_with_a_message(live: Live) -> None:
    unknown = live.post({"contentType": "application/pdf"})
    assert unknown.status_code == 400
    assert "application/pdf" in unknown.json()["message"]
    assert live.post({"contentType": "text/srt"}, headers={}).status_code == 401
    assert live.post({"contentType": "text/srt"}, headers=live.theirs).status_code == 404
    not_json = httpx.post(
        f"{live.base_url}/v1/conversations/{live.conversation}/transcript",
        content=b"contentType=text/srt",
        headers=live.headers,
    )
    assert not_json.status_code == 400
    assert not_json.json()["message"] == "The request body must be JSON."

"""The rules that find questions, action items and follow-ups, and the sentiment labels.

The fixtures' own labels are held exactly; each rule is shown on a few sentences. How well
the rules do on the labelled set of fixtures/insights is measured by
benchmarks/bench_insights.py, not asserted here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from harness.protocol import StartRequest
from harness.session_folder.transcript import read_transcript
from mock_symbl.engines.base import Hypothesis, Recognizer, Word
from mock_symbl.session import insights
from mock_symbl.session.conversation import Send
from mock_symbl.session.ids import IdSource
from mock_symbl.session.jobs import GivenPhrases
from mock_symbl.session.streaming import StreamingSession

from helpers import FIXTURES

INSIGHT_TYPES = {"question", "action_item", "follow_up"}
PHRASES = [
    pytest.param(phrase.text, tuple(phrase.labels), id=f"{name}-{n}")
    for name in ("feedback", "hot", "standup", "support-call")
    for n, phrase in enumerate(read_transcript(FIXTURES / name / "transcript.json").phrases)
]


def types(text: str) -> list[str]:
    return [f.type for f in insights.find_insights(text)]


def label(text: str) -> str:
    return insights.suggested(insights.polarity(text))


@pytest.mark.parametrize(("text", "labels"), PHRASES)
def test_each_fixture_phrase_gets_exactly_its_insight_labels(
    text: str, labels: tuple[str, ...]
) -> None:
    assert types(text) == [lab for lab in labels if lab in INSIGHT_TYPES]


@pytest.mark.parametrize(("text", "labels"), PHRASES)
def test_each_fixture_phrase_has_the_sentiment_it_is_labelled_with(
    text: str, labels: tuple[str, ...]
) -> None:
    for wanted in set(labels) - INSIGHT_TYPES:
        assert label(text) == wanted


def test_a_request_in_question_form_is_a_question_and_nothing_else() -> None:
    assert types("Can you send me the quarterly report by Friday?") == ["question"]
    assert types("Could you get back to me by the end of the day?") == ["question"]
    # Its question mark lost, the word order still asks.
    assert types("Could you please send the minutes to everyone.") == ["question"]
    assert types("Isn't the deadline next Friday.") == ["question"]


def test_small_talk_is_no_question_but_asking_for_information_is() -> None:
    assert types("How are you doing today?") == []
    assert types("How was your weekend?") == []
    assert types("How may I help you?") == ["question"]
    assert types("I'd like to know how long the migration will take.") == ["question"]
    assert types("What a fantastic result for the team!") == []


def test_commitments_by_people_in_the_conversation_are_action_items() -> None:
    for said in (
        "I will update the project dashboard tomorrow morning.",
        "We're going to run a pilot with three customers in April.",
        "Sarah will draft the press release by Thursday.",
        "Somebody needs to call the landlord about the heating.",
        "I can handle the customer demo on Friday.",
    ):
        assert types(said) == ["action_item"], said
    # Others' plans, and what will happen to someone, commit nobody here to a task.
    for said in (
        "Yes, they will call you one hour before they arrive.",
        "The vendor will deliver the hardware next month.",
        "You will get an email when the refund is processed.",
        "I'll be in Berlin for the conference all week.",
        "I sent the contract to legal yesterday.",
    ):
        assert types(said) == [], said


def test_negated_and_hedged_intentions_are_no_action_items() -> None:
    assert types("I won't be able to join the call on Friday.") == []
    assert types("We don't need to update the pricing page.") == []
    assert types("I might look at the logs if I have time.") == []
    assert types("I'm not sure we need to change anything.") == []


def test_requests_are_action_items_unless_they_only_steer_the_conversation() -> None:
    for said in (
        "Please keep the router turned on until then.",
        "Send the updated contract to legal by Thursday.",
        "Don't forget to submit your expenses by Friday.",
        "Jenny, please send the final agenda to the board by Monday.",
        "I need you to review the budget before tomorrow.",
        "The documentation needs to be updated before the release.",
        "Let's schedule the retrospective for next Tuesday.",
    ):
        assert types(said) == ["action_item"], said
    for said in (
        "Good morning everyone, let us start the daily standup.",
        "Let's move on to the next item on the agenda.",
        "Let me check that for you.",
        "Please hold while I transfer you.",
        "No, that is all, have a nice day.",
    ):
        assert types(said) == [], said


def test_a_follow_up_is_reported_in_place_of_its_action_item() -> None:
    for said in (
        "Let us follow up with the customer on Monday.",
        "I'll get back to you on the pricing question by Friday.",
        "I may have to schedule a meeting with the client to discuss this further.",
        "We'll call you back within twenty four hours.",
    ):
        assert types(said) == ["follow_up"], said
    # A meeting with no further talk as its purpose is an action item.
    assert types("Please schedule a meeting with the design team next week.") == ["action_item"]
    assert types("There's no need to follow up on that.") == []
    assert types("The agent said someone would follow up, but nobody did.") == []
    assert types("I never received a call back from your team.") == []


def test_each_sentence_of_a_message_is_judged_alone() -> None:
    said = "Thanks, that helps. Can you send me the logs? I will restart the server tonight."
    found = insights.find_insights(said)
    assert [(f.type, f.text) for f in found] == [
        ("question", "Can you send me the logs?"),
        ("action_item", "I will restart the server tonight."),
    ]
    assert all(0.5 <= f.confidence <= 1.0 for f in found)


def test_a_streamed_message_of_two_sentences_gets_an_insight_for_each() -> None:
    said = "Thanks, that helps. Can you send me the logs? I will restart the server tonight."
    words = tuple(Word(w, n * 0.3, n * 0.3 + 0.25) for n, w in enumerate(said.split()))

    def engine(_request: StartRequest, _connection_id: str) -> Recognizer:
        return GivenPhrases([Hypothesis(words, is_final=True)])

    session = StreamingSession(
        connection_id="c1",
        app_key="app",
        conversations={},
        engines=engine,
        ids=IdSource(1),
        now=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    start = {
        "type": "start_request",
        "insightTypes": ["question", "action_item", "follow_up"],
        "config": {"speechRecognition": {"encoding": "LINEAR16", "sampleRateHertz": 16000}},
    }
    outputs = session.receive_text(json.dumps(start))
    outputs += session.receive_text('{"type":"stop_request"}')
    sent = [json.loads(o.text) for o in outputs if isinstance(o, Send)]
    (response,) = [m for m in sent if m.get("type") == "insight_response"]
    assert [(i["type"], i["payload"]["content"]) for i in response["insights"]] == [
        ("question", "Can you send me the logs?"),
        ("action_item", "I will restart the server tonight."),
    ]


def test_recognised_words_end_as_a_question_only_in_question_word_order() -> None:
    assert insights.sentence(["can", "you", "hear", "me"]) == "Can you hear me?"
    assert insights.sentence(["isn't", "the", "deadline", "friday"]) == "Isn't the deadline friday?"
    assert insights.sentence(["have", "a", "nice", "day"]) == "Have a nice day."
    assert insights.sentence(["what", "a", "day"]) == "What a day."
    assert insights.sentence(["i", "will", "call"]) == "I will call."


def test_courtesy_carries_no_feeling_and_crashing_is_negative() -> None:
    assert label("Please send me the slides after the meeting.") == "neutral"
    assert label("Would you like me to email you a copy?") == "neutral"
    assert label("The app keeps crashing whenever I open the camera.") == "negative"
    assert label("That is great, thank you so much for your help.") == "positive"


def test_sentiment_labels_follow_symbls_thresholds() -> None:
    assert [insights.suggested(s) for s in (-0.31, -0.3, 0.0, 0.3, 0.31)] == [
        "negative",
        "neutral",
        "neutral",
        "neutral",
        "positive",
    ]

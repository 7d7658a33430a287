"""Entity and personal-data detection, redaction of a phrase's words, and customVocabulary's
rule: pure functions, checked on examples and by properties."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.protocol import Redaction, StartRequest
from mock_symbl.engines.base import Word
from mock_symbl.engines.vocabulary import Vocabulary
from mock_symbl.session.entities import find_general, find_pii, luhn_valid
from mock_symbl.session.redaction import prepare

TODAY = date(2026, 12, 1)  # a Tuesday
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def split(text: str) -> list[str]:
    return text.split()


def pii(text: str) -> list[tuple[str, str, str]]:
    words = split(text)
    return [(s.type, s.value, " ".join(words[s.first : s.last])) for s in find_pii(words, TODAY)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "my social security number is 222-44-5555 and I was born on 3rd of October 1982",
            [
                ("SSN", "222445555", "222-44-5555"),
                ("DATE_OF_BIRTH", "1982-10-03", "3rd of October 1982"),
            ],
        ),
        (
            "call me at five five five one two three four five six seven",
            [("PHONE_NUMBER", "5551234567", "five five five one two three four five six seven")],
        ),
        (
            "my card is 4111 1111 1111 1111 and the cvv is one two three",
            [
                ("CREDIT_CARD_NUMBER", "4111111111111111", "4111 1111 1111 1111"),
                ("CREDIT_CARD_CVV", "123", "one two three"),
            ],
        ),
        (
            "write to jane at example dot com",
            [("EMAIL", "jane@example.com", "jane at example dot com")],
        ),
        ("or jane.doe@example.org", [("EMAIL", "jane.doe@example.org", "jane.doe@example.org")]),
        ("I live at 42 baker street", [("ADDRESS", "42 baker street", "42 baker street")]),
        ("she is thirty years old", [("AGE", "30 years", "thirty years old")]),
        ("hello this is peter from support", [("NAME", "peter", "peter")]),
        (
            "my iban is GB82WEST12345698765432",
            [("IBAN_CODE", "GB82WEST12345698765432", "GB82WEST12345698765432")],
        ),
        ("see you on friday", [("DATE", "2026-12-04", "friday")]),
    ],
)
def test_personal_data_is_found_with_its_type_and_value(
    text: str, found: list[tuple[str, str, str]]
) -> None:
    assert pii(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "testing the microphone one two three",  # three digits are no phone number
        "this is great what do you two think",  # "this is" names nobody here
        "a card 4111 1111 1111 1112 fails luhn",  # no card without its check digit
        "the meeting starts at ten in the morning",
    ],
)
def test_ordinary_speech_holds_no_personal_data(text: str) -> None:
    assert pii(text) == []


def test_general_entities_have_the_entities_api_types() -> None:
    words = split("hello this is peter from vodafone I can help you today in london")
    found = [(s.type, s.value) for s in find_general(words, TODAY)]
    assert found == [
        ("person", "peter"),
        ("organization", "vodafone"),
        ("date", "2026-12-01"),
        ("location", "london"),
    ]


def test_luhn_accepts_a_test_card_and_refuses_a_changed_digit() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def timed(words: list[str]) -> tuple[Word, ...]:
    return tuple(Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(words))


def redacting(mask: str = "****", *, identify: bool = False) -> StartRequest:
    return StartRequest(
        redaction=Redaction(identify_content=identify, redact_content=True, redaction_string=mask)
    )


@given(
    before=st.lists(st.sampled_from(["please", "call", "me", "at", "now"]), max_size=4),
    number=st.lists(st.sampled_from(DIGITS), min_size=10, max_size=10),
    after=st.lists(st.sampled_from(["thanks", "bye", "ok"]), max_size=3),
    cut=st.integers(0, 17),
)
def test_no_caption_shows_three_digits_of_a_phone_number(
    before: list[str], number: list[str], after: list[str], cut: int
) -> None:
    """However far the caption has grown, at most two digits of the number show."""
    words = [*before, *number, *after][: len(before) + cut]
    if not words:
        return
    shown = prepare(timed(words), redacting(), final=False, today=TODAY).words
    run = longest = 0
    for word in shown:
        run = run + 1 if word.word in DIGITS else 0
        longest = max(longest, run)
    assert longest < 3


@given(st.lists(st.sampled_from([*DIGITS, "call", "me", "friday", "alex", "is"]), max_size=20))
def test_redaction_keeps_time_order_and_the_phrase_span(words: list[str]) -> None:
    if not words:
        return
    original = timed(words)
    prepared = prepare(original, redacting("[X]", identify=True), final=True, today=TODAY)
    shown = prepared.words
    assert shown[0].start == original[0].start and shown[-1].end == original[-1].end
    assert all(a.end <= b.start for a, b in itertools.pairwise(shown))
    text = " ".join(w.word for w in shown)
    for entity in prepared.entities:
        assert text[entity.offset :].startswith("[X]")


def test_custom_vocabulary_snaps_a_near_word_and_leaves_ordinary_ones() -> None:
    vocabulary = Vocabulary(["Symbl", "project dashboard", "acme"])
    heard = split("we use symbol for the product dashboard a simple acne cure at acme")
    snapped = " ".join(w.word for w in vocabulary.snap(timed(heard)))
    assert snapped == "we use Symbl for the project dashboard a simple acne cure at acme"


def test_a_term_heard_as_two_words_takes_their_time() -> None:
    words = Vocabulary(["dashboard"]).snap(timed(["the", "dash", "board"]))
    assert [(w.word, w.start, w.end) for w in words] == [("the", 0.0, 0.4), ("dashboard", 0.5, 1.4)]


@given(st.lists(st.sampled_from(["the", "report", "by", "friday", "we", "will", "ship"])))
def test_vocabulary_of_unlike_terms_changes_nothing(words: list[str]) -> None:
    original = timed(words)
    assert Vocabulary(["Kubernetes", "Symbl"]).snap(original) == original

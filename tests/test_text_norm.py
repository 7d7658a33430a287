"""The normalised form word error rates are judged on: its rules, and that it is one form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.text_norm import (
    corpus_word_error_rates,
    normalise,
    word_error_rate,
    word_error_rates,
)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        # Case and punctuation.
        ("Good morning, EVERYONE!", "good morning everyone"),
        ("Is this too loud?!", "is this too loud"),
        ("“Quoted”  (aside) — and; more…", "quoted aside and more"),
        # Contractions.
        ("Let's start.", "let us start"),
        ("I don't know", "i do not know"),
        ("I\u2019ll send it", "i will send it"),
        ("won't can't cannot shan't ain't", "will not can not can not shall not is not"),
        ("we're they've I'm you'd y'all", "we are they have i am you would you all"),
        ("it's what's that's there's", "it is what is that is there is"),
        ("John's report, the users' page", "johns report the users page"),
        # Hyphens and apostrophes inside words.
        ("e-mail follow-up", "e mail follow up"),
        ("at 2 o'clock", "at two oclock"),
        ("rock'n'roll", "rocknroll"),
        # Cardinals, grouped and decimal numbers.
        ("15 people", "fifteen people"),
        ("0 errors", "zero errors"),
        ("1,500 users", "one thousand five hundred users"),
        ("105", "one hundred five"),
        ("one hundred and five", "one hundred five"),
        ("2.5 points", "two point five points"),
        ("version 3.10", "version three point one zero"),
        # Ordinals.
        ("the 3rd of May", "the third of may"),
        ("1st 2nd 21st 100th", "first second twenty first one hundredth"),
        # Years.
        ("in 1999", "in nineteen ninety nine"),
        ("since 2024", "since twenty twenty four"),
        ("by 2005", "by two thousand five"),
        ("about 1000", "about one thousand"),
        # Times.
        ("at 2:30", "at two thirty"),
        ("at 9:05 a.m.", "at nine oh five am"),
        ("at 2:00pm", "at two oclock pm"),
        ("at 10:45 P.M.", "at ten forty five pm"),
        # Money.
        ("$20", "twenty dollars"),
        ("$1", "one dollar"),
        ("$4.99 each", "four dollars ninety nine cents each"),
        ("$0.01", "zero dollars one cent"),
        ("$1,200.00", "one thousand two hundred dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("€30 or £5.50", "thirty euros or five pounds fifty pence"),
        # Percentages.
        ("15% off", "fifteen percent off"),
        ("12.5 %", "twelve point five percent"),
        ("15 per cent", "fifteen percent"),
        # Codes: a leading zero or a long run is read digit by digit.
        ("agent 007", "agent zero zero seven"),
        ("call 0800", "call zero eight zero zero"),
        ("1234567890123", "one two three four five six seven eight nine zero one two three"),
        # Digits inside words still become words.
        ("mp3 and 4k", "mp three and four k"),
        ("", ""),
        ("  ... ", ""),
    ],
)
def test_rules(text: str, normalised: str) -> None:
    assert normalise(text) == normalised


def test_words_are_not_joined_by_guesswork() -> None:
    # Only forms that are one word in another spelling meet; "email" is not "e mail".
    assert normalise("email") != normalise("e-mail")
    assert normalise("lets go") == "lets go"


def test_word_error_rate_of_empty_texts() -> None:
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "something") == 1.0
    assert word_error_rate("something said", "  ") == 1.0
    assert word_error_rate("a b c d", "a x c d") == 0.25


def test_a_corpus_rate_pools_errors_over_all_reference_words() -> None:
    pairs = [("a b c", "a x c"), ("It's 5.", "it is five"), ("", "extra words"), ("d e", "")]
    rates = corpus_word_error_rates(pairs)
    # Normalised: 1 substitution, 2 insertions, 2 deletions over 3 + 3 + 0 + 2 reference words.
    assert rates.normalised == 5 / 8
    # As written: "It's 5." is 2 words, both wrong, and "is" inserted.
    assert rates.raw == (1 + 3 + 2 + 2) / 7
    assert corpus_word_error_rates([]).normalised == 0.0


def test_raw_counts_case_and_punctuation_normalised_does_not() -> None:
    rates = word_error_rates("Let's meet at 2:30, OK?", "let us meet at two thirty ok")
    assert rates.normalised == 0.0
    # As written: Let's, 2:30, OK? are wrong and "us", "thirty" extra; meet at right.
    assert rates.raw == pytest.approx(5 / 5)
    assert word_error_rates("the cat", "the dog").raw == 0.5
    assert word_error_rates("the cat", "the dog").normalised == 0.5


@given(st.text())
def test_normalising_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


# Units of speech, each as a list of ways to write it: any two of a unit's forms say the same.
WORDS = st.sampled_from(
    ["good", "morning", "report", "send", "the", "friday", "meeting", "and", "a", "point"]
).map(lambda word: [word])
CONTRACTIONS = st.sampled_from(
    [
        ["let's", "let us", "Let\u2019s"],
        ["don't", "do not"],
        ["I'll", "I will"],
        ["won't", "will not"],
        ["can't", "can not", "cannot"],
        ["it's", "it is"],
        ["we're", "we are"],
        ["they've", "they have"],
        ["I'm", "I am"],
        ["isn't", "is not"],
        ["I'd", "I would"],
    ]
)
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"]
TEENS += ["eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def below_hundred(n: int) -> str:
    """How a number under 100 is said, spelled here independently of the library."""
    if n < 10:
        return ONES[n]
    if n < 20:
        return TEENS[n - 10]
    return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])


def below_thousand(n: int, joiner: str) -> str:
    if n < 100:
        return below_hundred(n)
    rest = "" if n % 100 == 0 else f"{joiner}{below_hundred(n % 100)}"
    return f"{ONES[n // 100]} hundred{rest}"


def said(n: int, joiner: str) -> str:
    """A cardinal under a million in words, with "and" or not after hundreds and thousands."""
    if n < 1000:
        return below_thousand(n, joiner)
    thousands, rest = divmod(n, 1000)
    tail = "" if rest == 0 else (joiner if rest < 100 else " ") + below_thousand(rest, joiner)
    return f"{below_thousand(thousands, joiner)} thousand{tail}"


JOINER = st.sampled_from([" and ", " "])
CARDINALS = st.builds(
    lambda n, joiner: [f"{n:,}", said(n, joiner)] + ([] if 1100 <= n <= 2099 else [str(n)]),
    st.integers(0, 999_999),
    JOINER,
)
YEARS = st.builds(
    lambda n: [str(n), f"{below_hundred(n // 100)} {below_hundred(n % 100)}"],
    st.integers(11, 20).flatmap(lambda c: st.integers(c * 100 + 10, c * 100 + 99)),
)
ORDINALS = st.sampled_from(
    [
        ["1st", "first"],
        ["2nd", "second"],
        ["3rd", "third"],
        ["12th", "twelfth"],
        ["21st", "twenty-first"],
        ["40th", "fortieth"],
        ["100th", "one hundredth"],
    ]
)
TIMES = st.builds(
    lambda h, m: [
        f"{h}:{m:02d}",
        below_hundred(h)
        + (" o'clock" if m == 0 else f" oh {ONES[m]}" if m < 10 else f" {below_hundred(m)}"),
    ],
    st.integers(1, 12),
    st.integers(0, 59),
)
MONEY = st.builds(
    lambda d, c, joiner: [
        f"${d:,}" + ("" if c is None else f".{c:02d}"),
        said(d, joiner)
        + (" dollar" if d == 1 else " dollars")
        + ("" if c is None else f" {below_hundred(c)} " + ("cent" if c == 1 else "cents")),
    ],
    st.integers(0, 99_999),
    st.none() | st.integers(1, 99),
    JOINER,
)
PERCENTAGES = st.builds(
    lambda n, word: [f"{n}%", f"{n} %", f"{below_hundred(n)} {word}"],
    st.integers(0, 99),
    st.sampled_from(["percent", "per cent"]),
)
UNITS = WORDS | CONTRACTIONS | CARDINALS | YEARS | ORDINALS | TIMES | MONEY | PERCENTAGES
PUNCTUATION = st.sampled_from(["", "", ",", ".", "?", "!", ";", ":", " -", "…", '"'])


@st.composite
def two_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """One utterance written twice, differing only in case, punctuation and spelling."""
    units = draw(st.lists(UNITS, min_size=1, max_size=12))
    texts = []
    for _ in range(2):
        pieces = []
        for forms in units:
            form = draw(st.sampled_from(forms))
            case = draw(st.sampled_from([str.lower, str.upper, str.title, str]))
            pieces.append(case(form) + draw(PUNCTUATION))
        texts.append(" ".join(pieces))
    return texts[0], texts[1]


@given(two_spellings())
def test_spellings_of_the_same_words_have_normalised_word_error_rate_zero(
    texts: tuple[str, str],
) -> None:
    reference, hypothesis = texts
    assert normalise(reference) == normalise(hypothesis)
    assert word_error_rates(reference, hypothesis).normalised == 0.0


@given(two_spellings())
def test_spellings_normalise_to_the_same_form_once_and_for_all(texts: tuple[str, str]) -> None:
    once = normalise(texts[0])
    assert normalise(once) == once

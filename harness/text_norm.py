"""Text folded to one written form, so a word error rate counts words, not spellings.

Speech benchmarks score recognisers on normalised text: "Let's meet at 2:30, OK?" and "let us
meet at two thirty ok" say the same words. `normalise` folds case, expands contractions, writes
numbers as words (cardinals, ordinals, years, times, money, percentages, decimals) and turns
punctuation into word breaks; `word_error_rates` gives the rate on the text as written and on
the normalised text, `corpus_word_error_rates` the same pooled over a set of utterances. Pure
functions: no I/O, nothing downloaded.

The rules, and why each reads the way it does:

- Case is folded (`str.casefold`) after NFKC, so full-width and compatibility forms fold too.
- Contractions are expanded: "let's" -> "let us", "don't" -> "do not", "won't" -> "will not",
  "can't" and "cannot" -> "can not", "I'll" -> "I will", "I'm" -> "I am", "we're" -> "we are",
  "they've" -> "they have", "I'd" -> "I would" (the usual reading; "had" is the other).
  "'s" is "is" only after a pronoun or question word ("it's", "what's"); after any other word
  it is a possessive ("John's"), whose apostrophe is dropped like every other one inside a
  word ("o'clock" -> "oclock"), so both spellings of a word meet.
- Numbers are written in words, the way they are usually said: "15" -> "fifteen", "1,500" ->
  "one thousand five hundred", "3rd" -> "third", "2.5" -> "two point five" (digits after the
  point one by one), "$20" -> "twenty dollars", "$4.99" -> "four dollars ninety nine cents",
  "$2 million" -> "two million dollars", "15%" -> "fifteen percent", "2:30" -> "two thirty",
  "2:05" -> "two oh five", "2:00" -> "two oclock", a four-digit number from 1100 to 2099
  as a year ("1999" -> "nineteen ninety nine", "2024" -> "twenty twenty four"), a digit run
  with a leading zero or more than twelve digits digit by digit (codes, phone numbers).
  "a.m."/"p.m." after a time are "am"/"pm"; "per cent" is "percent".
- The "and" of British number reading goes: "one hundred and five" -> "one hundred five",
  so a recogniser writing either form meets the number words above.
- Hyphens and every other mark that is not a letter or digit break words: "e-mail" -> "e
  mail", "twenty-one" -> "twenty one". Words are never joined by guesswork ("email" stays).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jiwer
from num2words import num2words

__all__ = [
    "WordErrorRates",
    "corpus_word_error_rates",
    "normalise",
    "word_error_rate",
    "word_error_rates",
]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

# Whole words whose expansion is not the general rule below.
_CONTRACTIONS = {
    "won't": "will not",
    "can't": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "y'all": "you all",
}
_SUFFIXES = {"re": "are", "ve": "have", "ll": "will", "m": "am", "d": "would"}
# Words after which "'s" is read "is" rather than as a possessive ("it's been", where it means
# "has", reads "it is" too: one reading for both texts compared).
_IS_AFTER = frozenset(
    {
        "it",
        "he",
        "she",
        "that",
        "there",
        "here",
        "what",
        "where",
        "who",
        "how",
        "when",
        "why",
        "this",
        "everything",
        "nothing",
    }
)

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_NUMBER_WORDS = frozenset(
    {
        *_ONES,
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
    }
)
_SCALES = frozenset(["hundred", "thousand", "million", "billion", "trillion"])
_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}

_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
_NOT_DIGIT_BEFORE = r"(?<![0-9])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

_CONTRACTION = re.compile(r"\w+(?:'\w+)+")
_MERIDIEM = re.compile(r"(?<=[0-9])\s*([ap])\.?m\b\.?|\b([ap])\.m\.")
_MONEY = re.compile(
    r"([$€£])\s?(" + _NUMBER + r")(?:\s?(thousand|million|billion|trillion)\b)?" + _NOT_DIGIT_AFTER
)
_PERCENT = re.compile(_NOT_DIGIT_BEFORE + "(" + _NUMBER + r")\s?%")
_TIME = re.compile(_NOT_DIGIT_BEFORE + r"([0-9]{1,2}):([0-5][0-9])" + _NOT_DIGIT_AFTER)
_ORDINAL = re.compile(_NOT_DIGIT_BEFORE + r"([0-9]+)(st|nd|rd|th)(?![^\W\d_])")
_GROUPED = re.compile(_NOT_DIGIT_BEFORE + r"[0-9]{1,3}(?:,[0-9]{3})+" + _NOT_DIGIT_AFTER)
_DECIMAL = re.compile(_NOT_DIGIT_BEFORE + r"([0-9]+)\.([0-9]+)" + _NOT_DIGIT_AFTER)
_DIGITS = re.compile(r"[0-9]+")


def normalise(text: str) -> str:
    """`text` as lower-case words separated by single spaces, in the one form described above."""
    # NFKC again after case folding: folding can leave a sequence NFKC composes.
    folded = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKC", folded).translate(_APOSTROPHES)
    text = _CONTRACTION.sub(_expand, text)
    text = _MERIDIEM.sub(lambda m: f" {m.group(1) or m.group(2)}m ", text)
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(lambda m: f" {_amount(m.group(1))} percent ", text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: f" {num2words(int(m.group(1)), to='ordinal')} ", text)
    text = _GROUPED.sub(lambda m: f" {_amount(m.group(0))} ", text)
    text = _DECIMAL.sub(lambda m: f" {_amount(m.group(0))} ", text)
    text = _DIGITS.sub(lambda m: f" {_integer(m.group(0), years=True)} ", text)
    text = "".join(_keep(c) for c in text)
    return " ".join(_fold_words(text.split()))


def _keep(char: str) -> str:
    """A letter or digit kept, a combining mark dropped (it is part of its letter), else a break."""
    if char.isalnum():
        return char
    return "" if unicodedata.category(char).startswith("M") else " "


def _expand(match: re.Match[str]) -> str:
    word = match.group(0)
    if word in _CONTRACTIONS:
        return _CONTRACTIONS[word]
    head, _, tail = word.partition("'")
    if "'" not in tail:
        if tail == "t" and head.endswith("n") and len(head) > 1:
            return f"{head[:-1]} not"
        if tail in _SUFFIXES:
            return f"{head} {_SUFFIXES[tail]}"
        if tail == "s" and head in _IS_AFTER:
            return f"{head} is"
    return word.replace("'", "")


def _integer(digits: str, *, years: bool = False) -> str:
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > 12:
        return " ".join(_ONES[int(d)] for d in digits)
    value = int(digits)
    if years and len(digits) == 4 and 1100 <= value <= 2099:
        return str(num2words(value, to="year"))
    return str(num2words(value))


def _amount(number: str) -> str:
    """Words for a number written with optional thousands commas and decimal digits."""
    whole, _, decimals = number.replace(",", "").partition(".")
    words = _integer(whole)
    if decimals:
        words += " point " + " ".join(_ONES[int(d)] for d in decimals)
    return words


def _money(match: re.Match[str]) -> str:
    unit, cent = _CURRENCIES[match.group(1)]
    number, scale = match.group(2).rstrip(","), match.group(3)
    if scale:
        return f" {_amount(number)} {scale} {unit}s "
    whole, _, decimals = number.replace(",", "").partition(".")
    words = f"{_integer(whole)} {unit}" + ("" if whole == "1" else "s")
    if len(decimals) == 2 and decimals != "00":
        cents = int(decimals)
        plural = "pence" if cent == "penny" else "cents"
        words += f" {num2words(cents)} " + (cent if cents == 1 else plural)
    elif decimals and decimals != "00":
        return f" {_amount(number)} {unit}s "
    return f" {words} "


def _time(match: re.Match[str]) -> str:
    hour, minutes = _integer(match.group(1)), match.group(2)
    if minutes == "00":
        return f" {hour} oclock "
    if minutes.startswith("0"):
        return f" {hour} oh {_ONES[int(minutes)]} "
    return f" {hour} {num2words(int(minutes))} "


def _fold_words(words: list[str]) -> list[str]:
    """Word-level folds, applied after punctuation is gone so a second pass finds none."""
    text = " ".join(words)
    text = re.sub(r"\bcannot\b", "can not", text)
    text = re.sub(r"\bper cent\b", "percent", text)
    words = text.split()
    return [
        word
        for i, word in enumerate(words)
        if not (
            word == "and"
            and 0 < i < len(words) - 1
            and words[i - 1] in _SCALES
            and words[i + 1] in _NUMBER_WORDS
        )
    ]


@dataclass(frozen=True)
class WordErrorRates:
    """A hypothesis's word error rate against its reference, as written and normalised."""

    raw: float
    normalised: float


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference`, both split at white space.

    An empty reference gives 0 against an empty hypothesis and 1 against any other.
    """
    return _pooled([(reference, hypothesis)])


def word_error_rates(reference: str, hypothesis: str) -> WordErrorRates:
    """The word error rate on the texts as written (case and punctuation count) and normalised."""
    return corpus_word_error_rates([(reference, hypothesis)])


def corpus_word_error_rates(pairs: Iterable[tuple[str, str]]) -> WordErrorRates:
    """Word error rates over (reference, hypothesis) pairs: all errors over all reference words.

    Pooled as speech benchmarks pool a test set, so a long utterance weighs more than a short one.
    """
    written = list(pairs)
    return WordErrorRates(
        raw=_pooled(written),
        normalised=_pooled([(normalise(r), normalise(h)) for r, h in written]),
    )


def _pooled(pairs: list[tuple[str, str]]) -> float:
    scored = [(r, h) for r, h in pairs if r.split()]
    # Words said against an empty reference are all insertions; jiwer refuses empty references.
    errors = sum(len(h.split()) for r, h in pairs if not r.split())
    reference_words = 0
    if scored:
        counts = jiwer.process_words([r for r, _ in scored], [h for _, h in scored])
        errors += counts.substitutions + counts.deletions + counts.insertions
        reference_words = counts.hits + counts.substitutions + counts.deletions
    if reference_words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / reference_words

"""`customVocabulary`: recognised words that sound and look like a listed term become it.

A recogniser that does not know a company's words hears the nearest words it knows
("product dashboard" for "project dashboard", "symbol" for "Symbl"). `Vocabulary.snap()`
looks at every run of one to three recognised words (a term may be heard as one word more
or fewer than it has) and replaces the run with a term when:

- its letters are alike: Jaro-Winkler similarity of the letters alone, spaces dropped, of
  at least SPELLING (0.88);
- it sounds alike: the Metaphone keys of the two differ by at most a quarter of the longer
  key's length (edit distance), SOUND = 0.75;
- it is about as long: at most a quarter of the term's letters more or fewer (or one), so
  a term never swallows a word said next to it.

All three must hold, so an ordinary word that shares a few letters with a term ("simple"
and "Symbl": spelling 0.73) or a sound ("acne" and "acme": spelling 0.87) stays as it was.
The best-scoring term wins; the replaced run's time span goes to the term's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jellyfish

from mock_symbl.engines.base import Word

SPELLING = 0.88
SOUND = 0.75
# Runs of letters shorter than this are too short to judge by their sound.
SHORTEST = 3
_NOT_A_LETTER = re.compile(r"[^a-z]")


def _letters(text: str) -> str:
    return _NOT_A_LETTER.sub("", text.lower())


@dataclass(frozen=True, slots=True)
class _Term:
    words: tuple[str, ...]
    letters: str
    key: str


def likeness(heard: str, term: str) -> tuple[float, float]:
    """(spelling, sound) similarity of two texts, each in [0, 1], as `snap()` judges them."""
    a, b = _letters(heard), _letters(term)
    if not a or not b:
        return 0.0, 0.0
    spelling = jellyfish.jaro_winkler_similarity(a, b)
    key_a, key_b = jellyfish.metaphone(a), jellyfish.metaphone(b)
    longest = max(len(key_a), len(key_b), 1)
    return spelling, 1 - jellyfish.levenshtein_distance(key_a, key_b) / longest


class Vocabulary:
    """The terms of a start request's `customVocabulary`, ready to snap words to."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = [
            _Term(tuple(t.split()), _letters(t), jellyfish.metaphone(_letters(t)))
            for t in terms
            if len(_letters(t)) >= SHORTEST
        ]

    def __bool__(self) -> bool:
        return bool(self._terms)

    def snap(self, words: Sequence[Word]) -> tuple[Word, ...]:
        """The words, with each run that sounds and looks like a term replaced by it."""
        if not self._terms:
            return tuple(words)
        out: list[Word] = []
        i = 0
        while i < len(words):
            found = self._best_at(words, i)
            if found is None:
                out.append(words[i])
                i += 1
                continue
            term, length = found
            out.extend(_spread(term.words, words[i : i + length]))
            i += length
        return tuple(out)

    def _best_at(self, words: Sequence[Word], i: int) -> tuple[_Term, int] | None:
        best: tuple[float, _Term, int] | None = None
        for term in self._terms:
            size = len(term.words)
            for length in range(max(1, size - 1), min(size + 1, 3) + 1):
                if i + length > len(words):
                    break
                letters = _letters("".join(w.word for w in words[i : i + length]))
                # About as long as the term: a longer run would swallow a word said next to it.
                too_far = abs(len(letters) - len(term.letters)) > max(1, len(term.letters) // 4)
                if len(letters) < SHORTEST or too_far:
                    continue
                # Heard right (maybe spelt otherwise): the term's own spelling, first choice.
                spelling, sound = likeness(letters, term.letters)
                if spelling >= SPELLING and sound >= SOUND:
                    score = spelling + sound
                    if best is None or score > best[0]:
                        best = (score, term, length)
        return None if best is None else (best[1], best[2])


def _spread(term: Sequence[str], heard: Sequence[Word]) -> list[Word]:
    """The term's words over the time the heard words took (one to one when they match)."""
    confidence = min(w.confidence for w in heard)
    if len(term) == len(heard):
        return [Word(t, h.start, h.end, confidence) for t, h in zip(term, heard, strict=True)]
    start, end = heard[0].start, heard[-1].end
    step = (end - start) / len(term)
    return [
        Word(t, round(start + k * step, 3), round(start + (k + 1) * step, 3), confidence)
        for k, t in enumerate(term)
    ]

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
from collections.abc import Iterable, Iterator, Sequence
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


def _sound(key_a: str, key_b: str) -> float:
    longest = max(len(key_a), len(key_b), 1)
    return 1 - jellyfish.levenshtein_distance(key_a, key_b) / longest


class Vocabulary:
    """The terms of a start request's `customVocabulary`, ready to snap words to."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms = [
            _Term(tuple(t.split()), _letters(t), jellyfish.metaphone(_letters(t)))
            for t in terms
            if len(_letters(t)) >= SHORTEST
        ]
        # Terms by their number of letters: a run is only compared with terms about as long.
        self._by_length: dict[int, list[_Term]] = {}
        for term in self._terms:
            self._by_length.setdefault(len(term.letters), []).append(term)

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
        # The runs of one to three words from `i`, each as its letters alone.
        runs = [
            _letters("".join(w.word for w in words[i : i + length]))
            for length in range(1, min(3, len(words) - i) + 1)
        ]
        keys = [jellyfish.metaphone(letters) for letters in runs]
        best: tuple[float, _Term, int] | None = None
        for length, letters in enumerate(runs, start=1):
            if len(letters) < SHORTEST:
                continue
            for term in self._near_in_length(len(letters)):
                size = len(term.words)
                # About as long as the term: a longer run would swallow a word said next to it.
                too_far = abs(len(letters) - len(term.letters)) > max(1, len(term.letters) // 4)
                if too_far or not size - 1 <= length <= size + 1:
                    continue
                # Heard right (maybe spelt otherwise): the term's own spelling, first choice.
                spelling = jellyfish.jaro_winkler_similarity(letters, term.letters)
                if spelling < SPELLING:
                    continue
                sound = _sound(keys[length - 1], term.key)
                if sound >= SOUND and (best is None or spelling + sound > best[0]):
                    best = (spelling + sound, term, length)
        return None if best is None else (best[1], best[2])

    def _near_in_length(self, letters: int) -> Iterator[_Term]:
        """The terms that may be within a quarter (or one) of `letters` letters long."""
        for length in range(max(SHORTEST, letters * 3 // 4 - 1), letters * 4 // 3 + 2):
            yield from self._by_length.get(length, ())


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

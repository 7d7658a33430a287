"""The `transcript` engine: the words of a transcript.json, as the audio passes their ends."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from harness.session_folder.transcript import Phrase, Transcript
from mock_symbl.engines.base import PARTIAL_EVERY_S, PHRASE_END_SILENCE_S, Hypothesis, Word


def _words(phrase: Phrase, until: float) -> tuple[Word, ...]:
    return tuple(Word(w.word, w.start, w.end) for w in phrase.words if w.end <= until)


class TranscriptRecognizer:
    """Recognises exactly the transcript: a word once the audio has passed its end time.

    A partial goes out whenever the phrase gains a word, and at least every
    PARTIAL_EVERY_S of audio while it is open; the final goes out once the audio has passed
    the phrase's end by PHRASE_END_SILENCE_S, or at `finish`.
    """

    def __init__(self, transcript: Transcript) -> None:
        self._phrases = list(transcript.phrases)
        self._next = 0
        self._position = 0.0
        self._emitted = 0
        self._last_partial = 0.0

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> list[Hypothesis]:
        """Advance the audio position and report what it passed."""
        self._position += samples.size / sample_rate
        out: list[Hypothesis] = []
        while self._next < len(self._phrases):
            phrase = self._phrases[self._next]
            if self._position >= phrase.end + PHRASE_END_SILENCE_S:
                out.append(Hypothesis(_words(phrase, phrase.end), is_final=True))
                self._close_phrase()
                continue
            heard = _words(phrase, self._position)
            due = self._position - self._last_partial >= PARTIAL_EVERY_S
            if heard and (len(heard) > self._emitted or due):
                out.append(Hypothesis(heard, is_final=False))
                self._emitted = len(heard)
                self._last_partial = self._position
            break
        return out

    def finish(self) -> list[Hypothesis]:
        """Finalise the phrase being spoken with the words already heard."""
        out: list[Hypothesis] = []
        if self._next < len(self._phrases):
            heard = _words(self._phrases[self._next], self._position)
            if heard:
                out.append(Hypothesis(heard, is_final=True))
            self._close_phrase()
        return out

    def _close_phrase(self) -> None:
        self._next += 1
        self._emitted = 0
        self._last_partial = self._position

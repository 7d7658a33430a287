"""The interface every recognition engine offers the streaming session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

# A phrase ends after this much silence (PROTOCOL.md: about 600 ms).
PHRASE_END_SILENCE_S = 0.6
# While a phrase is open, a partial at least this often (seconds of audio).
PARTIAL_EVERY_S = 0.3


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word; times in seconds from the start of the audio stream."""

    word: str
    start: float
    end: float
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """The words of the phrase being spoken: growing partials, then one final."""

    words: tuple[Word, ...]
    is_final: bool

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(word.word for word in self.words)


class Recognizer(Protocol):
    """Takes audio as it arrives and says what was said so far."""

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> list[Hypothesis]:
        """Take the next samples (mono Int16 at `sample_rate`); return new hypotheses."""
        ...

    def finish(self) -> list[Hypothesis]:
        """The audio has ended: finalise whatever phrase is open."""
        ...

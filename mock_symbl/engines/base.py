"""The interface every recognition engine offers the streaming session."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from harness.protocol import message_type

# A phrase ends after this much silence (the transcript engine; the asr engine learns its pause).
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


@dataclass(frozen=True, slots=True)
class Replayed:
    """A recorded server message to send as it is (the cassette engine's output)."""

    message: dict[str, Any]

    @property
    def kind(self) -> str:
        """The message type (the inner one for `message`-wrapped messages)."""
        return message_type(self.message)


@dataclass(frozen=True, slots=True)
class Nearest:
    """The recording that came closest to a connection's audio, and how close."""

    recording: str
    score: float
    offset_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which recording answers a connection, found by its audio or its connection id.

    `recording` None: none does; then `refusal` is what the client is told, unless a
    fallback engine answers (`fallback`). `nearest` is the best candidate either way.
    """

    recording: str | None
    by: str  # "audio", "connection_id", or "" when nothing matched
    score: float
    offset_s: float
    nearest: Nearest | None = None
    fallback: str | None = None
    refusal: str | None = None
    # How the client's first seconds compare with the recording's (level, correlation).
    audio: Mapping[str, float] | None = None
    # The recording's ids and times moved to this conversation's (its REST answers need it).
    rewrite: Callable[[Any], Any] | None = field(default=None, compare=False, repr=False)


Recognised = Hypothesis | Replayed | Verdict


class Recognizer(Protocol):
    """Takes audio as it arrives and says what was said so far."""

    def accept(self, samples: NDArray[np.int16], sample_rate: int) -> Sequence[Recognised]:
        """Take the next samples (mono Int16 at `sample_rate`); return what they revealed."""
        ...

    def finish(self) -> Sequence[Recognised]:
        """The audio has ended: finalise whatever phrase is open."""
        ...


@runtime_checkable
class Bindable(Protocol):
    """An engine that needs the new conversation's id, start time and an id source."""

    def bind(self, conversation_id: str, started: datetime, new_id: Callable[[], str]) -> None:
        """Learn the conversation it serves."""
        ...


class Pace(enum.Enum):
    """How much work recognition may do on the audio it takes next (the web layer judges
    this from how far recognition lags behind the audio's arrival)."""

    NORMAL = "normal"  # partials, and the full decode
    BEHIND = "behind"  # no partials; phrases that open now get the cheaper decode
    SKIM = "skim"  # far behind, or out of time at a stop: the audio only moves time on


@runtime_checkable
class Paced(Protocol):
    """An engine whose work per second of audio can shrink when it falls behind."""

    def set_pace(self, pace: Pace) -> None:
        """Do this much work on the audio that follows."""
        ...

    def skim(self, samples: NDArray[np.int16], sample_rate: int) -> Sequence[Recognised]:
        """Let the samples pass without recognising them: finalise the open phrase with
        what was recognised of it, and count the samples, so later words keep their times."""
        ...

"""`transcript.json`: the words a fixture speaks, with start and end times in seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.protocol.fields import FieldError, Fields

FORMAT = "symbl-harness-transcript"
VERSION = 1


class TranscriptError(HarnessError, ValueError):
    """A transcript.json that cannot be used; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class TimedWord:
    """A spoken word and when it starts and ends."""

    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Phrase:
    """A sentence spoken without a pause, with labels such as `question` or `positive`."""

    text: str
    start: float
    end: float
    words: tuple[TimedWord, ...]
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a reference session says, and when."""

    sample_rate: int
    duration: float
    phrases: tuple[Phrase, ...]
    about: str = ""

    @property
    def words(self) -> tuple[TimedWord, ...]:
        """Every word in order."""
        return tuple(word for phrase in self.phrases for word in phrase.words)

    @property
    def text(self) -> str:
        """The whole transcript as one string."""
        return " ".join(phrase.text for phrase in self.phrases)


def _time(fields: Fields, key: str) -> float:
    value = fields.number(key)
    if value is None or value < 0:
        raise FieldError(fields.at(key), "expected a time in seconds >= 0")
    return value


def _phrase(fields: Fields) -> Phrase:
    words = tuple(
        TimedWord(w.required_text("word"), _time(w, "start"), _time(w, "end"))
        for w in fields.required_objects("words")
    )
    for index, word in enumerate(words):
        if word.end < word.start:
            raise FieldError(fields.at(f"words[{index}]"), "ends before it starts")
    return Phrase(
        text=fields.required_text("text"),
        start=_time(fields, "start"),
        end=_time(fields, "end"),
        words=words,
        labels=tuple(fields.strings("labels") or ()),
    )


def read_transcript(path: Path) -> Transcript:
    """Read and check a transcript.json."""
    try:
        fields = Fields.of(json.loads(path.read_text(encoding="utf-8")), "")
        if fields.data.get("format") != FORMAT:
            raise FieldError("format", f"expected {FORMAT!r}")
        version = fields.integer("version")
        if version is None or version > VERSION:
            raise FieldError("version", f"this version reads {VERSION}, got {version}")
        rate = fields.integer("sample_rate")
        if rate is None or rate <= 0:
            raise FieldError("sample_rate", "expected a positive rate in Hz")
        return Transcript(
            sample_rate=rate,
            duration=_time(fields, "duration"),
            phrases=tuple(_phrase(p) for p in fields.required_objects("phrases")),
            about=fields.text("about") or "",
        )
    except OSError as error:
        raise TranscriptError(f"{path}: cannot read ({error.strerror})") from None
    except ValueError as error:
        # FieldError and json's JSONDecodeError are both ValueErrors.
        raise TranscriptError(f"{path}: {error}") from None

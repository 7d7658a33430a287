"""The recognition engines by name: light enough for a command line's choices."""

from __future__ import annotations

from enum import StrEnum


class Engine(StrEnum):
    """How the mock recognises a connection's audio."""

    # A recording matched by audio or named, a transcript named, else whisper (with the
    # extra installed) or asr.
    AUTO = "auto"
    ASR = "asr"  # offline speech recognition
    WHISPER = "whisper"  # asr's partials, Whisper's finals (the `whisper` extra)
    TRANSCRIPT = "transcript"  # a transcript.json's words, timed by the audio
    CASSETTE = "cassette"  # a recorded session's events, replayed


class OnMiss(StrEnum):
    """What answers a connection whose audio matches none of the recordings loaded."""

    ERROR = "error"  # nothing: the client gets an error naming the closest recording
    ENGINES = "engines"  # the mock's own engines (a transcript named by the id, else asr)
    RECORD = "record"  # the engines, and the session is saved as a new recording

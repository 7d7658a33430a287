"""The recognition engines by name: light enough for a command line's choices."""

from __future__ import annotations

from enum import StrEnum


class Engine(StrEnum):
    """How the mock recognises a connection's audio."""

    AUTO = "auto"  # a cassette or transcript named by the connection id, else asr
    ASR = "asr"  # offline speech recognition
    TRANSCRIPT = "transcript"  # a transcript.json's words, timed by the audio
    CASSETTE = "cassette"  # a recorded session's events, replayed

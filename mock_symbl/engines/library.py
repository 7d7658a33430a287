"""The recordings a mock answers from, found by the audio a client sends or by a name.

A recording is a session folder (events.jsonl, audio.wav, maybe rest.jsonl). Each is known
by its resolved path, so two sessions named `standup` in different folders stay apart,
and by names: its folder's name and any connection id it was taught to answer. The first
seconds of its audio are fingerprinted into one index; a client's first seconds are looked
up there, with its connection id and start request to break near ties.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from harness.audio.fingerprint import (
    INDEX_SECONDS,
    Candidate,
    Fingerprint,
    FingerprintIndex,
    fingerprint,
)
from harness.errors import HarnessError
from harness.protocol import StartRequest, StartRequestError
from harness.session_folder.log import (
    EVENTS_FILE,
    SessionLog,
    SessionLogError,
    TextFrame,
    read_session,
    session_folders,
)

# `NAME--anything` is answered as NAME is (concurrent load on one session).
SUFFIX = "--"
# Candidates whose scores are within this share of the best are a tie that the connection id,
# then the start request, decide.
TIE_SHARE = 0.9


class RecordingError(HarnessError):
    """A recording that cannot be loaded; the message names it and says why."""


@dataclass(frozen=True)
class Recording:
    """One recorded session the mock can answer with."""

    folder: Path
    sample_rate: int
    start: Mapping[str, Any] | None
    created: datetime | None
    expires: datetime | None
    fingerprinted: bool

    @property
    def key(self) -> str:
        """The recording's identity: its resolved folder."""
        return str(self.folder)


def _start_request(log: SessionLog) -> Mapping[str, Any] | None:
    for record in log.records:
        if (
            isinstance(record, TextFrame)
            and record.direction == "send"
            and isinstance(record.data, dict)
            and record.data.get("type") == "start_request"
        ):
            return record.data
    return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _agreement(recorded: Mapping[str, Any] | None, request: StartRequest) -> int:
    """How many of the settings that shape an answer the two start requests share."""
    if recorded is None:
        return 0
    try:
        then = StartRequest.from_json(recorded)
    except StartRequestError:
        return 0
    return sum(
        (
            then.encoding == request.encoding,
            then.sample_rate_hertz == request.sample_rate_hertz,
            then.language_code == request.language_code,
            set(then.insight_types) == set(request.insight_types),
            then.sentiment == request.sentiment,
            (then.speaker.name if then.speaker else None)
            == (request.speaker.name if request.speaker else None),
        )
    )


@dataclass
class RecordingLibrary:
    """Recordings by path and by name, and the fingerprint index of their first seconds."""

    index: FingerprintIndex = field(default_factory=FingerprintIndex)
    _recordings: dict[str, Recording] = field(default_factory=dict)
    _names: dict[str, list[str]] = field(default_factory=dict)
    _logs: dict[tuple[str, int, int], SessionLog] = field(default_factory=dict)
    _audio: dict[str, tuple[NDArray[np.int16], int]] = field(default_factory=dict)
    # Recognition threads look recordings up while the server adds new ones (a miss kept).
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __len__(self) -> int:
        return len(self._recordings)

    def __iter__(self) -> Iterator[Recording]:
        with self._lock:
            return iter(list(self._recordings.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._recordings

    def get(self, key: str) -> Recording:
        """The recording with this key (its resolved folder)."""
        return self._recordings[key]

    def add_all(self, paths: Sequence[Path]) -> None:
        """Add every session folder at or below each path."""
        for path in paths:
            if not path.is_dir():
                raise RecordingError(f"recordings: {path} is not a folder")
            for folder in session_folders(path):
                self.add(folder)

    def add(self, folder: Path, name: str | None = None) -> Recording:
        """Add one session folder, answering connections named `name` (and its folder's name)."""
        folder = folder.resolve()
        with self._lock:
            known = self._recordings.get(str(folder))
            recording = known or self._load(folder)
            for alias in {folder.name, name or folder.name}:
                keys = self._names.setdefault(alias, [])
                if recording.key not in keys:
                    keys.append(recording.key)
            return recording

    def _load(self, folder: Path) -> Recording:
        log = self.log_of(folder)
        audio = log.header.get("audio")
        fingerprinted = False
        if isinstance(audio, str) and (folder / audio).is_file():
            samples, rate = self._read_audio(folder / audio)
            self._audio[str(folder)] = (samples, rate)
            self.index.add(str(folder), fingerprint(samples, rate))
            fingerprinted = True
        recording = Recording(
            folder=folder,
            sample_rate=log.sample_rate,
            start=_start_request(log),
            created=_time(log.header.get("created")),
            expires=_time(log.header.get("expires")),
            fingerprinted=fingerprinted,
        )
        self._recordings[recording.key] = recording
        return recording

    @staticmethod
    def _read_audio(path: Path) -> tuple[NDArray[np.int16], int]:
        try:
            info = sf.info(str(path))
            frames = min(info.frames, int(INDEX_SECONDS * info.samplerate))
            samples, rate = sf.read(str(path), frames=frames, dtype="int16", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError) as error:
            raise RecordingError(f"recording {path.parent}: {path.name}: {error}") from None
        return np.ascontiguousarray(samples[:, 0]), int(rate)

    def log_of(self, folder: Path) -> SessionLog:
        """The session log of a recording folder, read once per version of its events file."""
        events = folder / EVENTS_FILE
        try:
            stat = events.stat()
            key = (str(folder), stat.st_mtime_ns, stat.st_size)
            if key not in self._logs:
                self._logs[key] = read_session(folder)
            return self._logs[key]
        except (OSError, SessionLogError) as error:
            raise RecordingError(f"recording {folder}: {error}") from None

    def audio(self, recording: Recording) -> tuple[NDArray[np.int16], int] | None:
        """The first seconds of a recording's audio, as indexed."""
        return self._audio.get(recording.key)

    def lookup(self, query: Fingerprint, limit: int = 5) -> list[Candidate]:
        """The index's best candidates for a query."""
        with self._lock:
            return self.index.lookup(query, limit=limit)

    def named(self, connection_id: str) -> list[Recording]:
        """The recordings a connection id names: itself, or NAME in `NAME--anything`."""
        keys = self._names.get(connection_id) or self._names.get(
            connection_id.split(SUFFIX, 1)[0], []
        )
        return [self._recordings[key] for key in keys]

    def choose(
        self, query: Fingerprint, connection_id: str, request: StartRequest
    ) -> tuple[Candidate | None, Candidate | None]:
        """The candidate that answers the query (None if none matches) and the nearest
        one (the best, matched or not). Near ties go to the recording the connection id
        names, then to the one whose start request agrees most with this client's."""
        candidates = self.lookup(query)
        if not candidates:
            return None, None
        matched = [c for c in candidates if c.matched]
        if not matched:
            return None, candidates[0]
        named = {r.key for r in self.named(connection_id)}
        close = [c for c in matched if c.score >= matched[0].score * TIE_SHARE]
        best = max(
            close,
            key=lambda c: (
                c.key in named,
                _agreement(self._recordings[c.key].start, request),
                c.score,
            ),
        )
        return best, best

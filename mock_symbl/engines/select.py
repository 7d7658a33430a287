"""Which engine recognises a connection: chosen by `--engine` and the connection id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError
from harness.modes import parse_mode
from harness.protocol import StartRequest
from harness.session_folder.log import SessionLog, SessionLogError, read_session
from harness.session_folder.transcript import Transcript, read_transcript
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.cassette import CassetteRecognizer
from mock_symbl.engines.names import Engine
from mock_symbl.engines.transcript import TranscriptRecognizer

SUFFIX = "--"
ENGINES = tuple(engine.value for engine in Engine)


class EngineUnavailableError(HarnessError):
    """No engine can serve this connection; the message says why."""


def _transcript_path(path: Path) -> Path:
    return path / "transcript.json" if path.is_dir() else path


class EngineChoice:
    """Builds a recogniser per connection.

    `auto`: a cassette whose folder name is the connection id, else a transcript whose
    folder name is the connection id, else `asr`. A connection id `NAME--anything` is
    answered as `NAME` is. `transcript`: the transcript named by the
    connection id, or the only one loaded.
    """

    def __init__(
        self, engine: Engine | str, cassettes: Sequence[Path], transcripts: Sequence[Path]
    ) -> None:
        self.engine = parse_mode(Engine, engine, "engine")
        self.cassettes = {path.name: path for path in cassettes}
        self.transcripts: dict[str, Transcript] = {
            _transcript_path(path).parent.name: read_transcript(_transcript_path(path))
            for path in transcripts
        }
        self._read: dict[tuple[Path, int, int], SessionLog] = {}

    def learn(self, folder: Path, connection_id: str | None = None) -> None:
        """Answer connections named `connection_id` (by default the folder's name): by the
        folder's transcript.json if it has one, otherwise by replaying it as a cassette."""
        name = connection_id or folder.name
        transcript = folder / "transcript.json"
        if transcript.is_file():
            self.transcripts[name] = read_transcript(transcript)
        else:
            self.cassettes[name] = folder

    def _named(self, connection_id: str) -> str:
        """The session a connection id names: itself, or NAME in `NAME--anything` (so
        concurrent load on one session need not share a connection id)."""
        if connection_id in self.transcripts or connection_id in self.cassettes:
            return connection_id
        name = connection_id.split(SUFFIX, 1)[0]
        return name if name in self.transcripts or name in self.cassettes else connection_id

    def recording(self, connection_id: str) -> SessionLog | None:
        """The recorded session a cassette replays to `connection_id`, if one answers it."""
        connection_id = self._named(connection_id)
        if self.engine in (Engine.ASR, Engine.TRANSCRIPT) or connection_id in self.transcripts:
            return None
        if connection_id not in self.cassettes and not (
            self.engine is Engine.CASSETTE and len(self.cassettes) == 1
        ):
            return None
        try:
            return self._cassette(connection_id)
        except EngineUnavailableError:
            return None

    def for_request(self, request: StartRequest, connection_id: str) -> Recognizer:
        """The recogniser for one connection's start request."""
        connection_id = self._named(connection_id)
        if self.engine is Engine.ASR:
            return AsrRecognizer()
        if self.engine is Engine.TRANSCRIPT or (
            self.engine is Engine.AUTO and connection_id in self.transcripts
        ):
            return TranscriptRecognizer(self._transcript(connection_id))
        if self.engine is Engine.CASSETTE or connection_id in self.cassettes:
            return CassetteRecognizer(self._cassette(connection_id))
        return AsrRecognizer()

    def _cassette(self, connection_id: str) -> SessionLog:
        if connection_id in self.cassettes:
            folder = self.cassettes[connection_id]
        elif len(self.cassettes) == 1:
            folder = next(iter(self.cassettes.values()))
        else:
            names = ", ".join(sorted(self.cassettes)) or "none loaded"
            raise EngineUnavailableError(
                f"no cassette for connection {connection_id!r} (cassettes: {names})"
            )
        try:
            stat = (folder / "events.jsonl").stat()
            key = (folder, stat.st_mtime_ns, stat.st_size)
            if key not in self._read:
                # Many connections replay one cassette (a benchmark); read it once.
                self._read[key] = read_session(folder)
            return self._read[key]
        except (OSError, SessionLogError) as error:
            raise EngineUnavailableError(f"cassette {folder.name}: {error}") from None

    def _transcript(self, connection_id: str) -> Transcript:
        if connection_id in self.transcripts:
            return self.transcripts[connection_id]
        if len(self.transcripts) == 1:
            return next(iter(self.transcripts.values()))
        names = ", ".join(sorted(self.transcripts)) or "none loaded"
        raise EngineUnavailableError(
            f"no transcript for connection {connection_id!r} (transcripts: {names})"
        )

"""Which engine recognises a connection: chosen by `--engine`, the recordings loaded, the
connection id, and (through the matching engine) the audio itself."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.audio.fingerprint import FingerprintIndex
from harness.errors import HarnessError
from harness.modes import parse_mode
from harness.protocol import StartRequest
from harness.session_folder.log import SessionLog
from harness.session_folder.transcript import Transcript, read_transcript
from mock_symbl.engines.asr import AsrRecognizer
from mock_symbl.engines.base import Recognizer
from mock_symbl.engines.library import SUFFIX, RecordingError, RecordingLibrary
from mock_symbl.engines.matching import Fallback, MatchingRecognizer
from mock_symbl.engines.names import Engine, OnMiss
from mock_symbl.engines.transcript import TranscriptRecognizer
from mock_symbl.engines.upstream import Upstream, UpstreamRecognizer
from mock_symbl.engines.whisper import WhisperModel, WhisperRecognizer, shared_model
from mock_symbl.engines.whisper_model import WhisperModelError, available

ENGINES = tuple(engine.value for engine in Engine)


class EngineUnavailableError(HarnessError):
    """No engine can serve this connection; the message says why."""


def _transcript_path(path: Path) -> Path:
    return path / "transcript.json" if path.is_dir() else path


class EngineChoice:
    """Builds a recogniser per connection.

    `auto`: a transcript named by the connection id; else, with recordings to match (even
    none yet), the one the connection's audio matches (or the only one its id names), and
    on a miss what `on_miss` says (answered by `upstream` when there is one, else by speech
    recognition); else speech recognition: `whisper` when its extra is installed, else
    `asr`. `cassette`: recordings only. A connection id
    `NAME--anything` is answered as `NAME` is. `transcript`: the transcript named by the
    connection id, or the only one loaded.
    """

    def __init__(  # noqa: PLR0913
        self,
        engine: Engine | str,
        recordings: Sequence[Path],
        transcripts: Sequence[Path],
        on_miss: OnMiss | str = OnMiss.ERROR,
        min_score: float | None = None,
        *,
        matching: bool | None = None,
        upstream: Upstream | None = None,
        whisper_model: Path | None = None,
    ) -> None:
        """`min_score`: how well audio must match a recording (the index's default if None).
        `matching`: whether connections go to the matcher even with no recording loaded (a
        miss is then an error, not a silent asr answer); by default when recording paths
        were given or a miss is answered otherwise. `upstream`: the endpoint that answers
        misses instead of asr. `whisper_model`: a CTranslate2 Whisper model folder instead
        of the packaged one. Whisper's model is loaded here when it will be used, so a
        missing extra or a model that fails its checks is told at once."""
        self.engine = parse_mode(Engine, engine, "engine")
        self.on_miss = parse_mode(OnMiss, on_miss, "on-miss policy")
        self.upstream = upstream
        self.whisper_model = whisper_model
        self.whisper: WhisperModel | None = None
        if self.engine is Engine.WHISPER or (
            self.engine not in (Engine.ASR, Engine.TRANSCRIPT)
            and (whisper_model is not None or available())
        ):
            try:
                self.whisper = shared_model(whisper_model)
            except WhisperModelError as error:
                if self.engine is Engine.WHISPER:
                    raise EngineUnavailableError(str(error)) from None
                raise
        self.library = RecordingLibrary(
            FingerprintIndex() if min_score is None else FingerprintIndex(min_score=min_score)
        )
        try:
            self.library.add_all(recordings)
        except RecordingError as error:
            raise EngineUnavailableError(str(error)) from None
        self.matching = (
            bool(recordings) or self.on_miss is not OnMiss.ERROR if matching is None else matching
        )
        self.transcripts: dict[str, Transcript] = {
            _transcript_path(path).parent.name: read_transcript(_transcript_path(path))
            for path in transcripts
        }

    def learn(self, folder: Path, connection_id: str | None = None) -> None:
        """Answer connections named `connection_id` (by default the folder's name): by the
        folder's transcript.json if it has one, otherwise by replaying it as a recording."""
        name = connection_id or folder.name
        transcript = folder / "transcript.json"
        if transcript.is_file():
            self.transcripts[name] = read_transcript(transcript)
        else:
            self.library.add(folder, name)

    def _transcript_named(self, connection_id: str) -> str | None:
        for name in (connection_id, connection_id.split(SUFFIX, 1)[0]):
            if name in self.transcripts:
                return name
        return None

    def recording(self, connection_id: str) -> SessionLog | None:
        """The recorded session a connection id names, if exactly one answers it (its
        fault plan replays with it)."""
        speech_only = self.engine in (Engine.ASR, Engine.WHISPER, Engine.TRANSCRIPT)
        if speech_only or self._transcript_named(connection_id):
            return None
        named = self.library.named(connection_id)
        if len(named) != 1:
            return None
        try:
            return self.library.log_of(named[0].folder)
        except RecordingError:
            return None

    def speech_engine(self, connection_id: str) -> str | None:
        """The speech recogniser (`whisper` or `asr`) that answers a connection id for sure,
        or None when a transcript or a recording may answer it."""
        if self.engine in (Engine.ASR, Engine.WHISPER):
            return self._speech_name.value
        if self.engine is not Engine.AUTO or self._transcript_named(connection_id):
            return None
        return self._speech_name.value if not len(self.library) and not self.matching else None

    def for_request(self, request: StartRequest, connection_id: str) -> Recognizer:
        """The recogniser for one connection's start request."""
        if self.engine in (Engine.ASR, Engine.WHISPER):
            return self._speech(request)
        transcript = self._transcript_named(connection_id)
        if self.engine is Engine.TRANSCRIPT or (self.engine is Engine.AUTO and transcript):
            return TranscriptRecognizer(self._transcript(transcript or connection_id))
        # Recordings asked for but none there yet: every connection misses, and is told so
        # (or answered by the fallback, and maybe recorded).
        if not len(self.library) and not self.matching:
            if self.engine is Engine.CASSETTE:
                raise EngineUnavailableError("no recordings loaded for the cassette engine")
            return self._speech(request)
        named = self.library.named(connection_id)
        try:
            return MatchingRecognizer(
                self.library,
                connection_id,
                request,
                named=named[0] if len(named) == 1 else None,
                fallback=None
                if self.on_miss is OnMiss.ERROR
                else self._fallback(request, connection_id),
            )
        except RecordingError as error:
            raise EngineUnavailableError(str(error)) from None

    def _fallback(self, request: StartRequest, connection_id: str) -> Fallback:
        upstream = self.upstream
        if upstream is None:
            return Fallback(self._speech_name.value, lambda: self._speech(request))
        return Fallback("upstream", lambda: UpstreamRecognizer(upstream, request, connection_id))

    @property
    def _speech_name(self) -> Engine:
        """The speech recogniser that answers: Whisper when its model is loaded, unless asr
        was asked for."""
        return Engine.ASR if self.whisper is None or self.engine is Engine.ASR else Engine.WHISPER

    def _speech(self, request: StartRequest) -> Recognizer:
        """Speech recognition: Whisper's finals when its model is loaded, else asr's."""
        if self._speech_name is Engine.ASR or self.whisper is None:
            return AsrRecognizer()
        return WhisperRecognizer(self.whisper, vocabulary=request.custom_vocabulary)

    def _transcript(self, connection_id: str) -> Transcript:
        if connection_id in self.transcripts:
            return self.transcripts[connection_id]
        if len(self.transcripts) == 1:
            return next(iter(self.transcripts.values()))
        names = ", ".join(sorted(self.transcripts)) or "none loaded"
        raise EngineUnavailableError(
            f"no transcript for connection {connection_id!r} (transcripts: {names})"
        )

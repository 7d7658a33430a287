"""The session folder, format version 1: `audio.wav` + `events.jsonl` (docs/session-folder.md).

The writer appends each frame as it happens and flushes it, audio before the record that
refers to it, so a killed process leaves a readable prefix; everything it writes passes
through a `Redactor`. The reader returns the header, typed records aligned to the audio
position, and the audio; it tolerates a missing footer and a cut last line, and says so.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
from numpy.typing import NDArray

from harness import TOOL
from harness.errors import HarnessError
from harness.protocol.bounded_json import loads
from harness.session_folder.redact import Redactor
from harness.session_folder.wavfile import PcmWavWriter, WavError, read_pcm16

FORMAT = "symbl-harness-session"
VERSION = 1
AUDIO_FILE = "audio.wav"
EVENTS_FILE = "events.jsonl"
TRANSCRIPT_FILE = "transcript.json"

Clock = Callable[[], int]
Direction = Literal["send", "recv"]


class SessionLogError(HarnessError):
    """A session folder that cannot be read or written; the message is one line."""


@dataclass(frozen=True, slots=True)
class SessionHeader:
    """The first line of `events.jsonl`."""

    endpoint: str
    sample_rate: int
    encoding: str = "LINEAR16"
    channels: int = 1
    created: str = ""
    tool: str = TOOL
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The header record."""
        return {
            **self.extra,
            "kind": "header",
            "format": FORMAT,
            "version": VERSION,
            "created": self.created,
            "endpoint": self.endpoint,
            "sample_rate": self.sample_rate,
            "encoding": self.encoding,
            "channels": self.channels,
            "audio": AUDIO_FILE,
            "tool": self.tool,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """A timed record: `t` seconds since the log began; `position` samples sent before it."""

    t: float
    position: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextFrame(Record):
    """A text frame sent or received: decoded JSON in `data`, otherwise its text in `text`."""

    direction: Direction
    data: Any = None
    text: str | None = None

    @property
    def frame(self) -> str:
        """The frame as text, for sending again or parsing."""
        if self.text is not None:
            return self.text
        return json.dumps(self.data, separators=(",", ":"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioFrame(Record):
    """A binary frame sent: `audio.wav[offset : offset + samples]`, plus an odd last byte."""

    offset: int
    samples: int
    odd_byte: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened(Record):
    """The connection opened."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(Record):
    """The connection closed."""

    code: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord(Record):
    """Something went wrong on the client side (a failed send, a dropped connection)."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherRecord(Record):
    """A record kind this version does not know; kept as it was."""

    kind: str


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SessionLogWriter:
    """Write one session folder as the session happens.

    Times are monotonic nanoseconds (`time.perf_counter_ns` by default); pass the stamp
    taken at the socket as `at` to each method, or let the writer read its clock.
    """

    # Keyword-only settings with defaults, each read once: an options object would add a type
    # for every caller to build and nothing else.
    def __init__(  # noqa: PLR0913
        self,
        folder: Path,
        *,
        endpoint: str,
        sample_rate: int,
        encoding: str = "LINEAR16",
        secrets: Iterable[str] = (),
        clock: Clock = time.perf_counter_ns,
        started_ns: int | None = None,
        extra_header: Mapping[str, Any] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.folder = folder
        # A redactor shared with other logs learns from all of them (the proxy's sessions
        # and REST log): a secret seen in one is removed from all.
        self.redactor = redactor or Redactor()
        for secret in secrets:
            self.redactor.add(secret)
        self._clock = clock
        # `t` counts from `started_ns` (the connection's start) when the log begins later.
        self._t0 = clock() if started_ns is None else started_ns
        if folder.exists() and any(folder.iterdir()):
            raise SessionLogError(f"{folder} is not empty; refusing to overwrite a session")
        audio: dict[str, Any] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._events = (folder / EVENTS_FILE).open("w", encoding="utf-8")
            try:
                self._audio: PcmWavWriter | None = PcmWavWriter(folder / AUDIO_FILE, sample_rate)
            except WavError as error:
                # The session is still worth its records; the header says why no audio.
                self._audio = None
                audio = {"audio": None, "audio_problem": str(error)}
        except OSError as error:
            raise SessionLogError(f"cannot create a session in {folder}: {error}") from None
        self.samples = 0
        self.records = 0
        self._closed = False
        self._failure: str | None = None
        header = SessionHeader(
            endpoint=self.redactor.text(endpoint),
            sample_rate=sample_rate,
            encoding=encoding,
            created=_now_iso(),
            # The monotonic clock's reading at t = 0, to align stamps taken elsewhere.
            extra={"clock_origin_ns": self._t0, **self.redactor.json(dict(extra_header or {}))},
        )
        self._write({**header.to_json(), **audio})

    def __enter__(self) -> SessionLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _t(self, at: int | None) -> float:
        return round(((self._clock() if at is None else at) - self._t0) / 1e9, 6)

    def _write(self, record: Mapping[str, Any]) -> None:
        self._check_open()
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            self._events.write(line)
            self._events.flush()
        except OSError as error:
            self._stop(error)

    def _append(self, record: dict[str, Any]) -> None:
        self.records += 1
        self._write(record)

    def opened(
        self, url: str, headers: Iterable[tuple[str, str]] = (), at: int | None = None
    ) -> None:
        """Record that the connection to `url` opened, with the request headers if known."""
        record: dict[str, Any] = {"t": self._t(at), "kind": "open", "url": self.redactor.text(url)}
        pairs = self.redactor.headers(headers)
        if pairs:
            record["headers"] = [list(pair) for pair in pairs]
        self._append(record)

    def sent_text(self, frame: str, at: int | None = None) -> None:
        """Record a text frame the client sent."""
        self._text("send", frame, at)

    def received_text(self, frame: str, at: int | None = None) -> None:
        """Record a text frame the server sent."""
        self._text("recv", frame, at)

    def _text(self, direction: Direction, frame: str, at: int | None) -> None:
        record: dict[str, Any] = {"t": self._t(at), "dir": direction, "kind": "text"}
        try:
            decoded = loads(frame)
            data = self.redactor.json(decoded) if isinstance(decoded, dict) else None
        except ValueError:
            # Not JSON, or nested too deep to walk: the frame is kept as text.
            data = None
        if data is not None:
            record["data"] = data
        else:
            record["raw"] = self.redactor.text(frame)
        self._append(record)

    def sent_audio(self, pcm: bytes, at: int | None = None) -> None:
        """Record a binary audio frame the client sent (little-endian Int16)."""
        self._check_open()
        t = self._t(at)
        even = len(pcm) - len(pcm) % 2
        record: dict[str, Any] = {
            "t": t,
            "dir": "send",
            "kind": "audio",
            "offset": self.samples,
            "samples": even // 2,
        }
        if even != len(pcm):
            record["odd_byte"] = pcm[even:].hex()
        if self._audio is not None:
            try:
                self._audio.append(pcm[:even])
            except OSError as error:
                self._stop(error)
        self.samples += even // 2
        self._append(record)

    def closed(self, code: int | None, reason: str = "", at: int | None = None) -> None:
        """Record that the connection closed."""
        self._append(
            {"t": self._t(at), "kind": "close", "code": code, "reason": self.redactor.text(reason)}
        )

    def error(self, message: str, at: int | None = None) -> None:
        """Record a client-side error."""
        self._append({"t": self._t(at), "kind": "error", "message": self.redactor.text(message)})

    def close(self) -> None:
        """Write the footer and close both files."""
        if self._closed:
            return
        self._write(
            {"kind": "footer", "t": self._t(None), "samples": self.samples, "records": self.records}
        )
        self._closed = True
        try:
            self._events.close()
            if self._audio is not None:
                self._audio.close()
        except OSError as error:
            self._stop(error)

    def _check_open(self) -> None:
        if self._closed:
            raise SessionLogError(self._failure or f"{self.folder}: the recording is closed")

    def _stop(self, error: OSError) -> NoReturn:
        """A write failed (a full disk): close without a footer, which marks the log as
        interrupted, keep every byte that reached the disk, and say so in one line."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._events.close()
        if self._audio is not None:
            self._audio.abandon()
        reason = error.strerror or str(error)
        self._failure = (
            f"cannot write to {self.folder} ({reason}); the recording stops here, incomplete"
        )
        raise SessionLogError(self._failure) from None


@dataclass(frozen=True, slots=True)
class SessionLog:
    """A session folder as read: header, records in order, audio, and what was amiss."""

    folder: Path
    header: Mapping[str, Any]
    records: tuple[Record, ...]
    audio: NDArray[np.int16]
    footer: Mapping[str, Any] | None
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the log ended with its footer (the writer was not interrupted)."""
        return self.footer is not None

    @property
    def sample_rate(self) -> int:
        """The audio's sample rate in Hz."""
        return int(self.header["sample_rate"])

    def received(self) -> list[TextFrame]:
        """The server's text frames, each with `position`: samples sent before it."""
        return [r for r in self.records if isinstance(r, TextFrame) and r.direction == "recv"]

    def messages(self) -> list[dict[str, Any]]:
        """The finalised messages the server answered with (`message_response`), in order:
        what a client of this recording should show."""
        return [
            message
            for frame in self.received()
            if isinstance(frame.data, dict) and frame.data.get("type") == "message_response"
            for message in frame.data.get("messages") or []
            if isinstance(message, dict)
        ]

    def audio_frames(self) -> list[AudioFrame]:
        """The audio frames sent, in order."""
        return [r for r in self.records if isinstance(r, AudioFrame)]

    def audio_of(self, frame: AudioFrame) -> NDArray[np.int16]:
        """The samples one audio frame carried."""
        return self.audio[frame.offset : frame.offset + frame.samples]


def read_session(folder: Path) -> SessionLog:
    """Read a session folder; raises SessionLogError with a one-line reason if unusable."""
    events_path = folder / EVENTS_FILE
    if not folder.is_dir():
        raise SessionLogError(f"{folder} is not a folder")
    if not events_path.is_file():
        raise SessionLogError(f"{folder} is not a session: it has no {EVENTS_FILE}")
    lines = events_path.read_bytes().split(b"\n")
    problems: list[str] = []
    header = _header(lines[0], events_path)
    records: list[Record] = []
    footer: Mapping[str, Any] | None = None
    position = 0
    numbered = [(n, line) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    for index, (number, line) in enumerate(numbered):
        try:
            obj = loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            if obj.get("kind") == "footer":
                footer = obj
                continue
            record = _record(obj, position)
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            kept = len(records)
            if index == len(numbered) - 1 and footer is None:
                problems.append(
                    f"{EVENTS_FILE} line {number} is cut ({len(line)} bytes kept out); "
                    f"{kept} records read"
                )
                break
            raise SessionLogError(
                f"{EVENTS_FILE} line {number} is not a valid record ({error}); "
                f"{kept} records before it are intact"
            ) from None
        if isinstance(record, AudioFrame):
            position = record.offset + record.samples
        records.append(record)
    if footer is None:
        problems.append(f"{EVENTS_FILE} has no footer: the recording was interrupted")
    audio = _audio(folder, header, records, footer, problems)
    return SessionLog(folder, header, tuple(records), audio, footer, tuple(problems))


def _header(line: bytes, path: Path) -> Mapping[str, Any]:
    if not line.strip():
        raise SessionLogError(f"{path} is empty: no header")
    try:
        header = loads(line)
    except ValueError:
        raise SessionLogError(f"{path} line 1 is not JSON: not a session log") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise SessionLogError(f"{path} is not a {FORMAT} log (format: {found!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionLogError(f"{path} has an invalid format version {version!r}")
    if version > VERSION:
        raise SessionLogError(
            f"{path} is format version {version}; this {TOOL} reads version {VERSION} "
            "(upgrade symbl-harness)"
        )
    rate = header.get("sample_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise SessionLogError(f"{path} header has no valid sample_rate ({rate!r})")
    return header


def _number(obj: Mapping[str, Any], key: str) -> float:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} is not a number")
    return float(value)


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{key} is not a count")
    return value


def _record(obj: Mapping[str, Any], position: int) -> Record:
    kind = obj.get("kind")
    base: dict[str, Any] = {"t": _number(obj, "t"), "position": position, "raw": obj}
    if kind == "audio":
        offset = _count(obj, "offset")
        if offset != position:
            raise ValueError(f"audio offset {offset} does not follow the previous frame")
        odd = obj.get("odd_byte")
        return AudioFrame(
            **base,
            offset=offset,
            samples=_count(obj, "samples"),
            odd_byte=bytes.fromhex(odd) if isinstance(odd, str) else b"",
        )
    if kind == "text":
        direction = obj["dir"]
        if direction not in ("send", "recv"):
            raise ValueError(f"dir {direction!r} is neither send nor recv")
        raw_text = obj.get("raw")
        if "data" not in obj and not isinstance(raw_text, str):
            raise ValueError("a text record needs data or raw")
        return TextFrame(**base, direction=direction, data=obj.get("data"), text=raw_text)
    if kind == "open":
        headers = tuple((str(name), str(value)) for name, value in obj.get("headers", ()))
        return Opened(**base, url=str(obj.get("url", "")), headers=headers)
    if kind == "close":
        code = obj.get("code")
        return Closed(
            **base, code=code if isinstance(code, int) else None, reason=str(obj.get("reason", ""))
        )
    if kind == "error":
        return ErrorRecord(**base, message=str(obj.get("message", "")))
    if not isinstance(kind, str):
        raise ValueError("record has no kind")
    return OtherRecord(**base, kind=kind)


def _audio(
    folder: Path,
    header: Mapping[str, Any],
    records: list[Record],
    footer: Mapping[str, Any] | None,
    problems: list[str],
) -> NDArray[np.int16]:
    referenced = sum(r.samples for r in records if isinstance(r, AudioFrame))
    if "audio" in header and header["audio"] is None:
        problems.append(f"no audio: {header.get('audio_problem', 'the recorder wrote none')}")
        return np.zeros(0, dtype=np.int16)
    path = folder / str(header.get("audio", AUDIO_FILE))
    if not path.exists():
        if referenced:
            raise SessionLogError(f"{folder} has no {path.name} but its log sent audio")
        return np.zeros(0, dtype=np.int16)
    try:
        audio = read_pcm16(path)
    except WavError as error:
        raise SessionLogError(str(error)) from None
    if audio.repaired:
        problems.append(f"{path.name}: {audio.repaired}")
    if audio.sample_rate != header["sample_rate"]:
        raise SessionLogError(
            f"{path.name} is {audio.sample_rate} Hz but the log says {header['sample_rate']} Hz"
        )
    held = audio.samples.size
    if held < referenced:
        raise SessionLogError(
            f"{path.name} holds {held} samples but {EVENTS_FILE} sent {referenced}"
        )
    if footer is not None and footer.get("samples") not in (None, held):
        raise SessionLogError(
            f"{path.name} holds {held} samples but the footer says {footer.get('samples')}"
        )
    if held > referenced:
        problems.append(
            f"{path.name} holds {held - referenced} samples after the last logged frame "
            "(sent just before the log was cut)"
        )
    return audio.samples


def session_folders(path: Path) -> list[Path]:
    """The session folders at `path`: itself if it is one, else every one below it, sorted
    (hidden folders, such as recordings still being written, left out; a missing path holds
    none)."""
    if (path / EVENTS_FILE).is_file():
        return [path]
    if not path.is_dir():
        return []
    found = (events.parent for events in path.rglob(EVENTS_FILE))
    return sorted(
        folder
        for folder in found
        if not any(part.startswith(".") for part in folder.relative_to(path).parts)
    )

"""Record a connection as it happens, when its sample rate is not known at the start.

A proxy or a server sees the handshake and maybe a few frames before the start request
says the audio's rate; a `SessionTape` holds those and opens the session folder then.
Recording never stands in the way of serving: when the folder cannot be written (a full
disk), the tape stops where it is, without a footer (which marks it incomplete), says so
in one line through `report`, and the connection goes on unrecorded.

Audio lands in `audio.wav` as PCM whatever the client sent: frames in another encoding
(MULAW, Opus, FLAC) are decoded as they come, at the declared rate, and the header notes
the encoding they came in as `wire_encoding` (its `encoding` stays LINEAR16, that of
`audio.wav`). Each frame keeps its own record, holding the samples it completed (none for
a frame that only completes a header or a page); what the decoder held back at the end
(a FLAC parser's lookahead) is one more record at the close. A stream that breaks its encoding is
recorded as an `error` record where it broke; later frames hold no samples.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.protocol import StartRequest, StartRequestError
from harness.protocol.bounded_json import loads
from harness.protocol.wire_audio import WireAudioDecoder, WireAudioError, default_rate
from harness.session_folder.log import SessionLogError, SessionLogWriter
from harness.session_folder.redact import Redactor

DEFAULT_RATE = 16000


def safe_name(connection_id: str, taken: Callable[[str], bool]) -> str:
    """A folder name for a connection id: no separators, no leading dots, no collisions."""
    name = re.sub(r"[^A-Za-z0-9._=-]", "_", connection_id).lstrip(".")[:120] or "session"
    candidate, number = name, 1
    while taken(candidate):
        number += 1
        candidate = f"{name}-{number}"
    return candidate


class SessionTape:
    """A connection's frames, written to a session folder once its rate is known.

    `add(kind, value)` takes `open` (url, headers), `send_text`, `send_audio`,
    `recv_text`, `close` (code, reason) or `error` (message), stamped as they come.
    """

    def __init__(
        self,
        folder: Path,
        endpoint: str,
        *,
        redactor: Redactor,
        report: Callable[[str], None],
        header: dict[str, Any],
    ) -> None:
        self.folder = folder
        self.endpoint = endpoint
        self.redactor = redactor
        self.report = report
        self.header = header
        self.started_ns = time.perf_counter_ns()
        self.writer: SessionLogWriter | None = None
        self.closed = False
        self.failed = False
        self._pending: list[tuple[str, Any, int]] = []
        self._decoder: WireAudioDecoder | None = None

    def add(self, kind: str, value: Any) -> None:
        """Record one thing that happened on the connection, now."""
        if self.closed or self.failed:
            return
        at = time.perf_counter_ns()
        try:
            if self.writer is None and kind == "send_text":
                self._rate_from(value)
            if self.writer is None and kind == "send_audio":
                self._open(DEFAULT_RATE)
            if self.writer is None:
                self._pending.append((kind, value, at))
            else:
                self._write(kind, value, at)
        except SessionLogError as error:
            self.fail(str(error))

    def fail(self, problem: str) -> None:
        """Stop recording, and say why."""
        self.failed = True
        self._pending.clear()
        self.report(f"{self.folder.name}: {problem}")

    def _rate_from(self, text: str) -> None:
        try:
            message = loads(text)
            if isinstance(message, dict) and message.get("type") == "start_request":
                request = StartRequest.from_json(message)
                encoding = request.encoding
                self._open(request.sample_rate_hertz or default_rate(encoding), encoding)
        except (ValueError, StartRequestError):
            return

    def _open(self, rate: int, encoding: str = "LINEAR16") -> None:
        header = dict(self.header)
        if encoding != "LINEAR16":
            self._decoder = WireAudioDecoder(encoding, rate)
            header["wire_encoding"] = encoding
        self.writer = SessionLogWriter(
            self.folder,
            endpoint=self.endpoint,
            sample_rate=rate,
            started_ns=self.started_ns,
            extra_header=header,
            redactor=self.redactor,
        )
        for kind, value, at in self._pending:
            self._write(kind, value, at)
        self._pending.clear()

    def _write(self, kind: str, value: Any, at: int) -> None:
        writer = self.writer
        assert writer is not None
        if kind == "open":
            writer.opened(value[0], headers=value[1], at=at)
        elif kind == "send_text":
            writer.sent_text(value, at=at)
        elif kind == "send_audio":
            self._audio(writer, value, at)
        elif kind == "recv_text":
            writer.received_text(value, at=at)
        elif kind == "close":
            self._flush(writer, at)
            writer.closed(value[0], value[1], at=at)
        else:
            writer.error(value, at=at)

    def _audio(self, writer: SessionLogWriter, frame: bytes, at: int) -> None:
        if self._decoder is None:
            writer.sent_audio(frame, at=at)
            return
        try:
            samples = self._decoder.decode(frame)
        except WireAudioError as error:
            writer.sent_audio(b"", at=at)
            writer.error(str(error), at=at)
            return
        writer.sent_audio(samples.astype("<i2").tobytes(), at=at)

    def _flush(self, writer: SessionLogWriter, at: int) -> None:
        """The samples a decoder held back (a FLAC parser's lookahead), as the last frame."""
        decoder, self._decoder = self._decoder, None
        if decoder is not None and decoder.failed is None:
            tail = decoder.flush()
            if tail.size:
                writer.sent_audio(tail.astype("<i2").tobytes(), at=at)

    def close(self) -> bool:
        """Write the footer; True when the folder holds the whole connection."""
        if self.closed or self.failed:
            self.closed = True
            return False
        self.closed = True
        try:
            if self.writer is None:
                self._open(DEFAULT_RATE)
            assert self.writer is not None
            self._flush(self.writer, time.perf_counter_ns())
            self.writer.close()
        except SessionLogError as error:
            self.fail(str(error))
            return False
        return True

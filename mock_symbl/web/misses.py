"""Recording on a miss: a connection no recording answered is saved as a new recording.

Every connection is taped into a hidden folder (`.incoming/`) under the recordings folder
as it happens (the audio decides only later whether it is a miss). When it ends, a miss
that a fallback engine answered moves into place and joins the library, so the same audio
matches it from then on; any other tape is deleted.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import WebSocket

from harness.conformance.check import write_conformance
from harness.session_folder.redact import Redactor
from harness.session_folder.tape import SessionTape, safe_name
from mock_symbl.engines.base import Verdict
from mock_symbl.engines.library import RecordingError, RecordingLibrary

log = logging.getLogger("mock_symbl")
INCOMING = ".incoming"


class MissRecorder:
    """Tapes connections, and keeps those that missed as new recordings."""

    def __init__(self, folder: Path, library: RecordingLibrary, expires_days: float | None) -> None:
        self.folder = folder
        self.library = library
        self.expires_days = expires_days

    def tape(self, socket: WebSocket, connection_id: str) -> SessionTape:
        """A tape for a connection that was just accepted (its secrets never written)."""
        redactor = Redactor()
        for name in ("access_token", "accessToken"):
            if socket.query_params.get(name):
                redactor.add(socket.query_params[name])
        for secret in (socket.headers.get("x-api-key"), *(socket.scope.get("subprotocols") or [])):
            if secret:
                redactor.add(secret)
        incoming = self.folder / INCOMING
        header: dict[str, object] = {"recorded_by": "mock", "connection_id": connection_id}
        if self.expires_days is not None:
            expires = datetime.now(UTC) + timedelta(days=self.expires_days)
            header["expires"] = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
        tape = SessionTape(
            incoming / safe_name(connection_id, lambda n: (incoming / n).exists()),
            str(socket.url),
            redactor=redactor,
            report=lambda line: log.warning("recording a miss: %s", line),
            header=header,
        )
        tape.add("open", (str(socket.url), list(socket.headers.items())))
        return tape

    def keep_if_missed(self, tape: SessionTape, verdict: Verdict | None) -> Path | None:
        """Move a finished miss's tape into place and learn it; drop any other tape.
        Returns the new recording's folder."""
        complete = tape.close()
        try:
            return self._keep(tape, verdict) if complete else None
        finally:
            shutil.rmtree(tape.folder, ignore_errors=True)
            # Gone once no other connection is being taped.
            with contextlib.suppress(OSError):
                tape.folder.parent.rmdir()

    def _keep(self, tape: SessionTape, verdict: Verdict | None) -> Path | None:
        if verdict is None or not verdict.fallback:
            return None
        name = safe_name(tape.folder.name, lambda n: (self.folder / n).exists())
        target = self.folder / name
        try:
            tape.folder.rename(target)
            write_conformance(target)
            self.library.add(target)
        except (OSError, RecordingError) as error:
            log.warning("recording a miss: %s was not kept: %s", tape.folder.name, error)
            return None
        log.warning("a connection matched no recording; recorded as %s", target)
        return target

"""Run the mock: in the foreground (the CLI) or in a background thread (Python and tests)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.access_log import logged
from harness.connection_guards import ConnectionLimits
from harness.serve import AbortError, RunningServer, running, serve
from mock_symbl.engines.select import EngineChoice
from mock_symbl.web.app import create_app
from mock_symbl.web.config import Answers, MockConfig
from mock_symbl.web.journal import JournalEntry
from mock_symbl.web.ws import StreamingEndpoint

GC_THRESHOLDS = (50_000, 20, 100)
JOURNAL_POLL_S = 0.02


@dataclass(frozen=True)
class RunningMock:
    """A mock answering on loopback: where it listens, and what it answers with."""

    server: RunningServer
    streaming: StreamingEndpoint

    @property
    def engines(self) -> EngineChoice:
        """How it picks an engine for each connection (and the recordings it answers from)."""
        return self.streaming.engines

    @property
    def host(self) -> str:
        """The loopback address it listens on."""
        return self.server.host

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server.port

    @property
    def base_url(self) -> str:
        """`http://host:port`, the REST base."""
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        """`ws://host:port`, the streaming base."""
        return self.server.ws_url

    def streaming_url(self, connection_id: str) -> str:
        """The streaming endpoint for one connection id."""
        return self.server.streaming_url(connection_id)

    def learn(self, folder: Path, connection_id: str | None = None) -> None:
        """Answer connections named `connection_id` (the folder's name by default) from the
        session folder: by its transcript.json, or else by replaying it."""
        self.engines.learn(folder, connection_id)

    def journal(self, settle_s: float = 0.0) -> list[JournalEntry]:
        """Every streaming connection served so far (the latest 1,000), oldest first: which
        recording answered it and how well its audio matched, its start request, its
        conformance findings and its REST calls.

        `settle_s`: wait up to this long for connections whose client has left to be
        closed in the journal (the server finishes a connection just after its socket
        closes: storing, recording a miss); connections still open are not waited for."""
        deadline = time.monotonic() + settle_s
        while True:
            journal = self.streaming.journal.to_json()
            entries = [JournalEntry.from_json(entry) for entry in journal["sessions"]]
            finishing = [e for e in entries if e.client_left and not e.closed]
            if not finishing or time.monotonic() >= deadline:
                return entries
            time.sleep(JOURNAL_POLL_S)

    def forget(self) -> None:
        """Clear the journal (between tests sharing one mock)."""
        self.streaming.journal.clear()

    def answer_from(self, recordings: Sequence[Path], answers: Answers | None = None) -> None:
        """Answer new connections from these recordings (replacing those loaded), and audio
        that matches none as `answers` says (by default: an error naming the closest)."""
        self.streaming.answer_from(recordings, answers or Answers())


def serve_mock(
    config: MockConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    announce: Callable[[RunningServer], None] = lambda _: None,
    quiet: bool = False,
    access: Callable[[str], None] | None = None,
) -> str | None:
    """Serve the mock in the foreground until SIGINT or SIGTERM; returns the signal's name.
    `quiet`: no line about one connection (its errors, its skimmed audio), errors only;
    `access`: where a line per request and WebSocket connection goes, if anywhere."""
    if quiet:
        logging.getLogger("mock_symbl").setLevel(logging.ERROR)
    app = logged(create_app(config), access)
    # Full collections over everything the sessions hold paused the event loop 80 ms with
    # 100 sessions open (measured): keep what start-up made out of them, and collect rarely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return serve(app, host, port, announce, ConnectionLimits(config.header_timeout_s), quiet)


@contextmanager
def running_mock(
    config: MockConfig | None = None, host: str = "127.0.0.1"
) -> Iterator[RunningMock]:
    """Start the mock on an ephemeral port in a background thread; stop it on exit (at
    once, and without a warning per connection it cuts short, on an AbortError)."""
    config = config or MockConfig()
    app = create_app(config)
    log = logging.getLogger("mock_symbl")
    level = log.level
    try:
        with running(app, host, ConnectionLimits(config.header_timeout_s)) as server:
            try:
                yield RunningMock(server, app.state.streaming)
            except AbortError:
                # Whoever aborts knows the connections are cut short.
                log.setLevel(logging.ERROR)
                raise
    finally:
        log.setLevel(level)

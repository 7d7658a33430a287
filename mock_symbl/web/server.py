"""Run the mock: in the foreground (the CLI) or in a background thread (Python and tests)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from harness.serve import RunningServer, running, serve
from mock_symbl.web.app import MockConfig, create_app

GC_THRESHOLDS = (50_000, 20, 100)


def serve_mock(
    config: MockConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    announce: Callable[[RunningServer], None] = lambda _: None,
) -> str | None:
    """Serve the mock in the foreground until SIGINT or SIGTERM; returns the signal's name."""
    app = create_app(config)
    # Full collections over everything the sessions hold paused the event loop 80 ms with
    # 100 sessions open (measured): keep what start-up made out of them, and collect rarely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return serve(app, host, port, announce)


@contextmanager
def running_mock(
    config: MockConfig | None = None, host: str = "127.0.0.1"
) -> Iterator[RunningServer]:
    """Start the mock on an ephemeral port in a background thread; stop it on exit."""
    with running(create_app(config or MockConfig()), host) as server:
        yield server

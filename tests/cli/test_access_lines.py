"""`mock` and `proxy` show a line per request and WebSocket connection on a terminal: who,
what, how it ended, secrets redacted; none with -q, none when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from helpers import token

# Only guards against a hang: a loaded machine may take long to start a server.
GUARD_S = 300
REFUSED_TOKEN = "not-a-token-but-secret-all-the-same"


class Terminal:
    """A pseudo-terminal a child writes to, read into `shown` by a thread until it closes."""

    def __init__(self) -> None:
        self.controller, self.child_end = pty.openpty()
        self.shown = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        """Close the parent's copy of the child's end (so that EOF comes) and start reading."""
        os.close(self.child_end)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO once the child has closed its end
            while select.select([self.controller], [], [])[0]:
                chunk = os.read(self.controller, 65536)
                if not chunk:
                    break
                self.shown += chunk

    def text(self) -> str:
        """What was shown so far, as text."""
        return bytes(self.shown).decode(errors="replace").replace("\r\n", "\n")

    def close(self) -> str:
        """Wait for the child's end to close; everything shown."""
        self._reader.join(timeout=GUARD_S)
        os.close(self.controller)
        return self.text()


def wait_until(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    """Return once `ready()`; fail if the process ends first (or after GUARD_S)."""
    deadline = time.monotonic() + GUARD_S
    while not ready():
        assert process.poll() is None, f"the server ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {GUARD_S} s"
        time.sleep(0.05)


def base_url(process: subprocess.Popen[bytes]) -> str:
    """Where the server answers, from its first line on stdout."""
    assert process.stdout is not None
    first = process.stdout.readline().decode()
    found = re.match(r"REST\s+(http://\S+)", first)
    assert found, first
    return found.group(1)


def use(base: str) -> str:
    """A REST call with an Authorization header, a socket opened with a token in its query
    and closed by the client, and one refused for its token; the token."""
    secret = token(base)
    reply = httpx.get(
        f"{base}/v1/conversations/access-log-test", headers={"Authorization": f"Bearer {secret}"}
    )
    assert reply.status_code == 404, reply.text
    ws = "ws" + base[4:]
    with connect(f"{ws}/v1/streaming/access-log-test?access_token={secret}&x=1") as socket:
        socket.close(code=1000)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{ws}/v1/streaming/refused-test?access_token={REFUSED_TOKEN}").close()
    assert refused.value.response.status_code == 401
    return secret


def run_server(args: list[str], on_a_terminal: bool) -> tuple[str, str]:
    """Start `symbl-harness ARGS` with stderr on a terminal (or a pipe), use it, stop it with
    Ctrl-C; what its stderr showed, and the token it was used with."""
    terminal = Terminal() if on_a_terminal else None
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal.child_end if terminal else subprocess.PIPE,
    )
    try:
        if terminal:
            terminal.start()
        secret = use(base_url(process))
        if terminal and "-q" not in args:
            # The socket's line is written once the server has finished with it.
            wait_until(process, lambda: "WS /v1/streaming/refused" in terminal.text(), "line")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=GUARD_S)
    finally:
        if process.poll() is None:
            process.kill()
    shown = terminal.close() if terminal else err.decode()
    assert process.returncode == 0, shown
    return shown, secret


def servers(tmp_path: Path) -> dict[str, list[str]]:
    return {
        "mock": ["mock", "--port", "0"],
        "proxy": ["proxy", "--mock", "--listen", "127.0.0.1:0", "--out", str(tmp_path / "out")],
    }


@pytest.mark.parametrize("server", ["mock", "proxy"])
def test_a_server_on_a_terminal_shows_a_line_per_connection_without_its_secrets(
    tmp_path: Path, server: str
) -> None:
    shown, secret = run_server(servers(tmp_path)[server], on_a_terminal=True)
    lines = shown.splitlines()
    rest = [line for line in lines if " GET /v1/conversations/access-log-test " in line]
    assert len(rest) == 1, shown
    assert re.search(r"^\d\d:\d\d:\d\d 127\.0\.0\.1:\d+ GET \S+ 404 \d+ ms$", rest[0]), rest
    ws = [line for line in lines if " WS /v1/streaming/access-log-test?" in line]
    assert len(ws) == 1, shown
    assert "?access_token=REDACTED&x=1 101 closed 1000 by client " in ws[0], ws
    refused = [line for line in lines if " WS /v1/streaming/refused-test?" in line]
    assert len(refused) == 1, shown
    assert "?access_token=REDACTED 401 refused " in refused[0], refused
    # Each line is written before the server says it stopped.
    assert lines.index(refused[0]) < next(
        i for i, line in enumerate(lines) if line.startswith("stopped by")
    )
    assert secret not in shown
    assert REFUSED_TOKEN not in shown


@pytest.mark.parametrize(
    ("server", "on_a_terminal"), [("mock", False), ("mock", True), ("proxy", True)]
)
def test_a_quiet_server_or_one_whose_stderr_is_no_terminal_shows_no_access_line(
    tmp_path: Path, server: str, on_a_terminal: bool
) -> None:
    args = servers(tmp_path)[server] + (["-q"] if on_a_terminal else [])
    shown, secret = run_server(args, on_a_terminal)
    # The server stops only once every connection has ended, so a line would be shown
    # before this one.
    assert shown.splitlines()[-1].startswith("stopped by SIGINT"), shown
    assert "/v1/streaming/" not in shown.replace("/v1/streaming/{connectionId}", "")
    assert "access-log-test" not in shown
    assert secret not in shown

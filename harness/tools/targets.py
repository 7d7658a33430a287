"""Where sessions go: the bundled mock, started in-process with throwaway credentials, or an
endpoint with the user's credentials. The one place that starts the bundled mock for a tool."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.client.auth import TokenSource
from harness.client.record import Destination
from harness.errors import HarnessError
from mock_symbl import MockConfig, RunningMock, running_mock

# Bundled reference sessions, present in a source checkout (`pip install -e .`).
BUNDLED_SESSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "sessions"


@dataclass(frozen=True)
class Target:
    """An endpoint to stream to, its tokens, and the bundled mock when it is one."""

    endpoint: str
    tokens: TokenSource
    mock: RunningMock | None = None
    # The bundled mock's throwaway appId and appSecret, for clients that generate tokens.
    app: tuple[str, str] | None = None

    def destination(self, connection_id: str) -> Destination:
        """Where one session goes, with a valid token and everything to redact."""
        token = self.tokens.token()
        return Destination(self.endpoint, token, connection_id, self.tokens.secrets)


@contextmanager
def bundled_mock(config: MockConfig | None = None) -> Iterator[Target]:
    """The bundled mock on a loopback port, with credentials that exist only for this run."""
    with running_mock(config) as mock:
        # The in-process mock accepts any pair of credentials.
        app = ("symbl-harness", secrets.token_hex(16))
        environ = {"SYMBL_APP_ID": app[0], "SYMBL_APP_SECRET": app[1]}
        yield Target(mock.ws_url, TokenSource(mock.ws_url, environ), mock, app)


@contextmanager
def target(endpoint: str | None, mock: MockConfig | None = None) -> Iterator[Target]:
    """`endpoint` with credentials from the environment, or the bundled mock when it is None."""
    if endpoint is None:
        with bundled_mock(mock) as bundled:
            yield bundled
        return
    yield endpoint_target(endpoint)


def endpoint_target(endpoint: str) -> Target:
    """`endpoint`, with credentials from the environment (AuthError when there are none)."""
    return Target(endpoint, TokenSource(endpoint))


def bundled_session(name: str) -> Path:
    """A bundled reference session by name, or any folder; HarnessError if neither exists."""
    folder = Path(name) if Path(name).is_dir() else BUNDLED_SESSIONS / name
    if not folder.is_dir():
        known = (
            sorted(p.name for p in BUNDLED_SESSIONS.iterdir()) if BUNDLED_SESSIONS.is_dir() else []
        )
        hint = (
            f"bundled: {', '.join(known)}"
            if known
            else "install from a source checkout: pip install -e ."
        )
        raise HarnessError(f"no fixture or folder named {name!r} ({hint})")
    return folder

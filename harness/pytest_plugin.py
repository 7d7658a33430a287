"""pytest plugin: regression suites that replay recorded sessions and compare them.

    def test_standup(symbl_replay):
        result = symbl_replay("fixtures/sessions/standup")
        assert result.matches_baseline()

Offline by default: the replay goes to a bundled mock (one per test session, so one per
xdist worker), which answers each session by its transcript.json, or else by replaying
the session itself. `--symbl-endpoint URL` replays against a real endpoint instead
(credentials from SYMBL_ACCESS_TOKEN or SYMBL_APP_ID/SYMBL_APP_SECRET).

A session's baseline is `<baselines>/<session name>/` when it exists, else the recording
itself. `--symbl-record-mode`, as VCR.py users know it: `none` never writes baselines,
`once` writes the missing ones, `new` also rewrites those older than their session, `all`
rewrites every one.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.client.auth import TokenSource
from harness.client.record import record
from harness.client.session import SessionError
from harness.serve import RunningServer, running
from harness.session_folder.log import EVENTS_FILE, read_session
from harness.tools.compare import Comparison, Tolerances, compare
from harness.tools.replay import plan_replay
from mock_symbl.engines.select import EngineChoice
from mock_symbl.web.app import MockConfig, create_app

MODES = ("none", "once", "new", "all")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("symbl", "symbl-harness regression suites")
    group.addoption("--symbl-endpoint", default=None, help="Replay against this endpoint.")
    group.addoption(
        "--symbl-record-mode",
        choices=MODES,
        default="none",
        help="When to write baselines: none (never), once (missing), new (missing or older "
        "than their session), all (always).",
    )
    group.addoption(
        "--symbl-baselines", default=None, help="Folder of baselines [ROOTDIR/symbl-baselines]."
    )
    group.addoption("--symbl-speed", default="max", help="Replay speed: 1, a factor N, or max.")
    group.addoption(
        "--symbl-tolerance",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A compare tolerance, e.g. wer=0.1 (repeatable).",
    )


@dataclass(frozen=True)
class ReplayResult:
    """A replay of one session, and how it compares with its baseline."""

    session: Path
    candidate: Path
    baseline: Path
    comparison: Comparison | None
    baseline_written: bool

    def matches_baseline(self) -> bool:
        """True when the replay matches its baseline (a baseline just written does).

        Otherwise raises AssertionError whose message is the semantic diff, so that
        `assert result.matches_baseline()` fails with the whole diff; for a plain boolean
        use `result.comparison.matches`.
        """
        if self.comparison is None or self.comparison.matches:
            return True
        lines = [f"{self.candidate} differs from {self.baseline}"]
        lines += [
            f"  {d.aspect}: {d.detail}" + (" (within tolerance)" if d.within else "")
            for d in self.comparison.differences
        ]
        lines += [f"  note: {note}" for note in self.comparison.notes]
        raise AssertionError("\n".join(lines))


@dataclass
class _Mock:
    server: RunningServer
    engines: EngineChoice


@pytest.fixture(scope="session")
def _symbl_mock() -> Iterator[_Mock]:
    app = create_app(MockConfig())
    with running(app) as server:
        yield _Mock(server, app.state.streaming.engines)


@pytest.fixture(scope="session")
def symbl_mock(_symbl_mock: _Mock) -> RunningServer:
    """A running bundled mock on an ephemeral loopback port (one per test session)."""
    return _symbl_mock.server


def _speed(value: str) -> float | None:
    return None if value == "max" else float(value)


def _write_baseline(mode: str, session: Path, baseline: Path) -> bool:
    if mode == "all":
        return True
    if mode in ("once", "new") and not (baseline / EVENTS_FILE).exists():
        return True
    if mode == "new":
        return (session / EVENTS_FILE).stat().st_mtime > (baseline / EVENTS_FILE).stat().st_mtime
    return False


@pytest.fixture
def symbl_replay(
    request: pytest.FixtureRequest, _symbl_mock: _Mock, tmp_path: Path
) -> Callable[[str | Path], ReplayResult]:
    """`symbl_replay(session_dir)`: replay a recorded session and compare it."""
    config = request.config
    endpoint = config.getoption("--symbl-endpoint")
    mode = config.getoption("--symbl-record-mode")
    root = Path(config.getoption("--symbl-baselines") or config.rootpath / "symbl-baselines")
    speed = _speed(config.getoption("--symbl-speed"))
    tolerances = Tolerances.parse(config.getoption("--symbl-tolerance"))

    def replay(session_dir: str | Path) -> ReplayResult:
        session = Path(session_dir)
        if not session.is_absolute():
            session = config.rootpath / session
        plan = plan_replay(session)
        if endpoint is None:
            _symbl_mock.engines.learn(session)
            target = _symbl_mock.server.ws_url
            environ = {"SYMBL_APP_ID": "symbl-harness-tests", "SYMBL_APP_SECRET": "offline"}
        else:
            target, environ = endpoint, None
        tokens = TokenSource(target, environ)
        candidate = tmp_path / f"replay-{session.name}"
        recording = asyncio.run(
            record(
                candidate,
                endpoint=target,
                connection_id=plan.connection_id,
                token=tokens.token(),
                start=plan.start,
                frames=plan.frames(),
                speed=speed,
                stop=asyncio.Event(),
                secrets=tokens.secrets,
                schedule=plan.schedule,
                header={"replay_of": str(session), "speed": "max" if speed is None else speed},
            )
        )
        if recording.result is None or recording.result.error:
            error = recording.result.error if recording.result else "no result"
            raise SessionError(f"replay of {session} failed: {error}")
        stored = root / session.name
        if _write_baseline(mode, session, stored):
            if stored.exists():
                shutil.rmtree(stored)
            shutil.copytree(candidate, stored)
            return ReplayResult(session, candidate, stored, None, baseline_written=True)
        baseline = stored if (stored / EVENTS_FILE).exists() else session
        comparison = compare(read_session(baseline), read_session(candidate), tolerances)
        return ReplayResult(session, candidate, baseline, comparison, baseline_written=False)

    return replay

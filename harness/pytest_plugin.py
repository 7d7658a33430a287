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
rewrites every one. The work lives in `harness.tools.regression`, imported only when a
test asks for a fixture, so the plugin costs other test suites nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.modes import RecordMode, parse_mode

if TYPE_CHECKING:
    from harness.tools.regression import ReplayResult
    from harness.tools.targets import Target
    from mock_symbl import RunningMock


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("symbl", "symbl-harness regression suites")
    group.addoption("--symbl-endpoint", default=None, help="Replay against this endpoint.")
    group.addoption(
        "--symbl-record-mode",
        choices=[mode.value for mode in RecordMode],
        default=RecordMode.NONE.value,
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


@pytest.fixture(scope="session")
def _symbl_bundled() -> Iterator[Target]:
    from harness.tools.targets import bundled_mock

    with bundled_mock() as bundled:
        yield bundled


@pytest.fixture(scope="session")
def symbl_mock(_symbl_bundled: Target) -> RunningMock:
    """A running bundled mock on an ephemeral loopback port (one per test session)."""
    assert _symbl_bundled.mock is not None
    return _symbl_bundled.mock


@pytest.fixture(scope="session")
def symbl_target(request: pytest.FixtureRequest) -> Target:
    """Where `symbl_replay` streams: `--symbl-endpoint`, or the bundled mock."""
    from harness.tools.targets import endpoint_target

    endpoint = request.config.getoption("--symbl-endpoint")
    if endpoint is None:
        bundled: Target = request.getfixturevalue("_symbl_bundled")
        return bundled
    return endpoint_target(endpoint)


@pytest.fixture
def symbl_replay(
    request: pytest.FixtureRequest, symbl_target: Target, tmp_path: Path
) -> Callable[[str | Path], ReplayResult]:
    """`symbl_replay(session_dir)`: replay a recorded session and compare it."""
    from harness.tools.compare import Tolerances
    from harness.tools.regression import Regression

    config = request.config
    speed = config.getoption("--symbl-speed")
    regression = Regression(
        symbl_target,
        baselines=Path(
            config.getoption("--symbl-baselines") or config.rootpath / "symbl-baselines"
        ),
        work=tmp_path,
        mode=parse_mode(RecordMode, config.getoption("--symbl-record-mode"), "record mode"),
        speed=None if speed == "max" else float(speed),
        tolerances=Tolerances.parse(config.getoption("--symbl-tolerance")),
    )

    def replay(session_dir: str | Path) -> ReplayResult:
        session = Path(session_dir)
        return regression.replay(session if session.is_absolute() else config.rootpath / session)

    return replay

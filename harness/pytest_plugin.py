"""pytest plugin: test your client against recordings, and replay sessions against baselines.

Your client, answered from recordings its audio matches:

    @pytest.mark.symbl(sessions=["recordings"])
    def test_my_page_shows_the_transcript(symbl_mock):
        run_my_client(symbl_mock.base_url, symbl_mock.app_id, symbl_mock.app_secret)
        entry = symbl_mock.connection()
        assert entry.matched and entry.recording.name == "standup"

`symbl_mock` loads the marker's folders of recordings (relative to the test file; by default
`recordings/<module name>/` beside it) into a bundled mock (one per test session, so one per
xdist worker) and hands the test its URLs and credentials and, afterwards, the journal of
what the client did. Audio that matches no recording is an error naming the closest one;
`--symbl-record-mode` says when such a miss is answered by the mock's engines and saved as
a new recording instead (VCR.py's modes: `none`, `once` while the test has none, `new`,
`all`, and `passed`: as `new`, kept only if the test passed); `--symbl-upstream URL` has
such misses answered by a real endpoint instead. `--symbl-expires-in DAYS`
and `--symbl-expiry warn|fail|record` age recordings out, as Polly.js does.

Regression suites, the harness replaying a session to an endpoint:

    def test_standup(symbl_replay):
        result = symbl_replay("fixtures/sessions/standup")
        assert result.matches_baseline()

Offline by default: the replay goes to the bundled mock, which answers each session by its
transcript.json, or else by replaying the session itself. `--symbl-endpoint URL` replays
against a real endpoint instead (credentials from SYMBL_ACCESS_TOKEN or
SYMBL_APP_ID/SYMBL_APP_SECRET). A session's baseline is `<baselines>/<its path from the
rootdir>/` when it exists, else the recording itself; the record mode says when baselines
are written (`new` also rewrites those older than their session). The work lives in
`harness.tools`, imported only when a test asks for a fixture, so the plugin costs other
test suites nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.modes import Expiry, RecordMode, parse_mode

if TYPE_CHECKING:
    from harness.tools.client_testing import SymblMock
    from harness.tools.regression import ReplayResult
    from harness.tools.targets import Target

_PASSED = pytest.StashKey[bool]()
_UPSTREAM = pytest.StashKey["Target"]()
MARKER = (
    "symbl(sessions=None, record_to=None, fallback=False, min_score=None, tolerance=None, "
    "expires_in=None, expiry=None): the recordings that answer this test's client (folders, "
    "relative to the test file), where its new recordings go, whether the mock's engines "
    "answer audio no recording matches, how well audio must match (0-1), compare tolerances "
    "for symbl_replay (NAME=VALUE or a dict), and recording expiry (days; warn, fail, record)."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("symbl", "symbl-harness regression suites")
    group.addoption("--symbl-endpoint", default=None, help="Replay against this endpoint.")
    group.addoption(
        "--symbl-record-mode",
        choices=[mode.value for mode in RecordMode],
        default=RecordMode.NONE.value,
        help="When to record: none (never; a client's unmatched audio is an error), once "
        "(missing baselines; a client's misses while the test has no recording), new (also "
        "baselines older than their session; every miss), all (everything again), passed "
        "(as new, kept only if the test passed).",
    )
    group.addoption(
        "--symbl-upstream",
        default=None,
        metavar="URL",
        help="Answer a client's unmatched audio, when the record mode or the marker's fallback "
        "has it answered, from this Symbl-compatible endpoint instead of the mock's engines "
        "(credentials from SYMBL_ACCESS_TOKEN or SYMBL_APP_ID/SYMBL_APP_SECRET).",
    )
    group.addoption(
        "--symbl-baselines", default=None, help="Folder of baselines [ROOTDIR/symbl-baselines]."
    )
    group.addoption("--symbl-speed", default="max", help="Replay speed: 1, a factor N, or max.")
    group.addoption(
        "--symbl-expires-in",
        type=float,
        default=None,
        metavar="DAYS",
        help="Recordings older than this many days have expired (see --symbl-expiry).",
    )
    group.addoption(
        "--symbl-expiry",
        choices=[strategy.value for strategy in Expiry],
        default=Expiry.WARN.value,
        help="An expired recording: warn (use it), fail the test, or record it anew.",
    )
    group.addoption(
        "--symbl-tolerance",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A compare tolerance, e.g. wer=0.1 (the normalised word error rate; repeatable).",
    )


@pytest.fixture(scope="session")
def _symbl_bundled() -> Iterator[Target]:
    from harness.tools.targets import bundled_mock

    with bundled_mock() as bundled:
        yield bundled


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker; an upstream without credentials, or a tolerance that
    is not one, stops the run with one usage error."""
    config.addinivalue_line("markers", MARKER)
    tolerances = config.getoption("--symbl-tolerance", None)
    if tolerances:
        from harness.tools.compare import Tolerances

        try:
            Tolerances.parse(tolerances)
        except ValueError as error:
            raise pytest.UsageError(f"--symbl-tolerance: {error}") from None
    upstream = config.getoption("--symbl-upstream", None)
    if upstream is not None:
        from harness.errors import HarnessError
        from harness.tools.targets import endpoint_target

        try:
            config.stash[_UPSTREAM] = endpoint_target(upstream)
        except HarnessError as error:
            raise pytest.UsageError(f"--symbl-upstream: {error}") from None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note whether the test itself passed (mode `passed` keeps recordings only then)."""
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


def _marker(request: pytest.FixtureRequest) -> Mapping[str, Any]:
    marker = request.node.get_closest_marker("symbl")
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError("@pytest.mark.symbl takes keyword arguments only")
    kwargs: Mapping[str, Any] = marker.kwargs
    return kwargs


def _tolerances(option: list[str], marked: object) -> list[str]:
    if isinstance(marked, Mapping):
        return [*option, *(f"{name}={value}" for name, value in marked.items())]
    if isinstance(marked, str):
        return [*option, marked]
    if isinstance(marked, list | tuple):
        return [*option, *map(str, marked)]
    return option


@pytest.fixture
def symbl_mock(
    request: pytest.FixtureRequest, _symbl_bundled: Target, tmp_path: Path
) -> Iterator[SymblMock]:
    """The bundled mock, answering this test's client from its recordings (see the marker).

    Gives the URLs (`base_url`, `ws_url`, `streaming_url(id)`), credentials (`app_id`,
    `app_secret`, `access_token`) and, after the client ran, `journal()`."""
    from harness.session_folder.tape import safe_name
    from harness.tools.client_testing import ClientTest, finish, start

    config = request.config
    marked = _marker(request)
    here = request.path.parent
    sessions = tuple(here / Path(folder) for folder in marked.get("sessions") or ())
    record_to = marked.get("record_to")
    default = here / "recordings" / request.path.stem
    test = ClientTest(
        sessions=sessions or (default,),
        record_to=here / Path(record_to) if record_to else (sessions[0] if sessions else default),
        mode=parse_mode(RecordMode, config.getoption("--symbl-record-mode"), "record mode"),
        fallback=bool(marked.get("fallback", False)),
        expires_in_days=marked.get("expires_in", config.getoption("--symbl-expires-in")),
        expiry=parse_mode(
            Expiry, marked.get("expiry") or config.getoption("--symbl-expiry"), "expiry"
        ),
        min_score=marked.get("min_score"),
        name=safe_name(request.node.name, lambda _: False),
        upstream=config.stash.get(_UPSTREAM, None),
    )
    symbl = start(test, _symbl_bundled, tmp_path / "symbl-new-recordings")
    yield symbl
    finish(symbl, passed=request.node.stash.get(_PASSED, False))


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
) -> Iterator[Callable[[str | Path], ReplayResult]]:
    """`symbl_replay(session_dir)`: replay a recorded session and compare it."""
    from harness.tools.compare import Tolerances
    from harness.tools.regression import Regression, keep_baseline

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
        tolerances=Tolerances.parse(
            _tolerances(config.getoption("--symbl-tolerance"), _marker(request).get("tolerance"))
        ),
        root=config.rootpath,
    )

    def replay(session_dir: str | Path) -> ReplayResult:
        session = Path(session_dir)
        return regression.replay(session if session.is_absolute() else config.rootpath / session)

    yield replay
    if request.node.stash.get(_PASSED, False):
        for candidate, stored in regression.pending:
            keep_baseline(candidate, stored)

"""Testing a user's client: the mock answers it from recordings its audio matches.

A test names folders of recordings (session folders made with the same client); the mock
loads them, and each connection the client opens is answered by the recording whose audio
its audio matches, whatever its connection id. Audio that matches none is an error naming
the closest recording, unless the record mode lets the mock answer it with its own
engines (or an upstream endpoint) and save it as a new recording (VCR.py's
`once`/`new`/`all`, and `passed`, which keeps what a test recorded only if the test
passed). A recording may expire (Polly.js): warn, fail, or record it anew.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from harness.errors import HarnessError
from harness.modes import Expiry, RecordMode
from harness.session_folder.log import SessionLogError, read_session, session_folders
from harness.session_folder.tape import safe_name
from harness.tools.targets import Target
from mock_symbl import Answers, JournalEntry, OnMiss, RunningMock

# How long a test waits for the mock to finish connections its client has closed.
SETTLE_S = 30.0


class RecordingExpiredWarning(UserWarning):
    """A recording older than its expiry was used (expiry strategy `warn`)."""


class RecordingExpiredError(HarnessError):
    """A recording is older than its expiry (expiry strategy `fail`)."""


@dataclass(frozen=True)
class ClientTest:
    """What one test asks of the mock: which recordings answer, and when to record."""

    sessions: tuple[Path, ...]
    record_to: Path
    mode: RecordMode = RecordMode.NONE
    # `engines`: a miss is answered by the mock's engines (asr) when the mode records nothing.
    fallback: bool = False
    expires_in_days: float | None = None
    expiry: Expiry = Expiry.WARN
    min_score: float | None = None
    name: str = "recording"
    # The endpoint that answers misses instead of the mock's engines (recording or fallback).
    upstream: Target | None = None


def recording_folders(paths: Sequence[Path]) -> list[Path]:
    """Every session folder at or below `paths` (missing paths hold none)."""
    return [folder for path in paths for folder in session_folders(path)]


def expires_at(folder: Path, expires_in_days: float | None) -> datetime | None:
    """When a recording expires: the `expires` of its header, or `created` + the days."""
    try:
        header = read_session(folder).header
    except SessionLogError:
        return None
    for key, days in (("expires", 0.0), ("created", expires_in_days)):
        value = header.get(key)
        if isinstance(value, str) and days is not None:
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return (when if when.tzinfo else when.replace(tzinfo=UTC)) + timedelta(days=days)
    return None


def recorded_by(test: ClientTest) -> list[Path]:
    """The recordings the test made: those in its folder named after it (`NAME`, `NAME-2`)."""
    return [
        folder
        for folder in recording_folders([test.record_to])
        if folder.name == test.name or folder.name.startswith(f"{test.name}-")
    ]


def _mode_records(test: ClientTest) -> bool:
    if test.mode is RecordMode.ONCE:
        # The test's own recordings, not the folder's: tests of one module share a folder.
        return not recorded_by(test)
    return test.mode in (RecordMode.NEW, RecordMode.ALL, RecordMode.PASSED)


@dataclass
class SymblMock:
    """The mock as one test sees it: where its client connects, with which credentials,
    and afterwards the journal of what it did."""

    mock: RunningMock
    app_id: str
    app_secret: str
    access_token: str
    test: ClientTest
    staging: Path
    recordings: list[Path]
    expired: list[Path] = field(default_factory=list)

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return self.mock.port

    @property
    def host(self) -> str:
        """`host:port` of the mock, for clients configured by host name."""
        return f"{self.mock.host}:{self.mock.port}"

    @property
    def base_url(self) -> str:
        """`http://host:port`: token generation and the Conversation API."""
        return self.mock.base_url

    @property
    def ws_url(self) -> str:
        """`ws://host:port`: the streaming API."""
        return self.mock.ws_url

    def streaming_url(self, connection_id: str) -> str:
        """The streaming URL of one connection, its token in the query as browsers send it."""
        token = quote(self.access_token, safe="")
        return f"{self.mock.streaming_url(connection_id)}?access_token={token}"

    def journal(self, settle_s: float = SETTLE_S) -> list[JournalEntry]:
        """Every connection this test's client opened, oldest first; waits (up to
        `settle_s`) for the ones the client has left to be closed."""
        return self.mock.journal(settle_s)

    def connection(self) -> JournalEntry:
        """The one connection the client opened (AssertionError naming them otherwise)."""
        entries = self.journal()
        if len(entries) != 1:
            ids = ", ".join(e.connection_id for e in entries) or "none"
            raise AssertionError(f"expected one connection, the journal has {len(entries)}: {ids}")
        return entries[0]


def start(test: ClientTest, target: Target, staging: Path) -> SymblMock:
    """Load the test's recordings into the running mock and set how it answers a miss."""
    assert target.mock is not None
    existing = recording_folders(test.sessions)
    expired = []
    now = datetime.now(UTC)
    for folder in existing:
        when = expires_at(folder, test.expires_in_days)
        if when is None or when > now:
            continue
        age = f"{folder} expired on {when.date().isoformat()}"
        if test.expiry is Expiry.FAIL:
            raise RecordingExpiredError(f"{age}; record it again (--symbl-record-mode new)")
        if test.expiry is Expiry.WARN:
            warnings.warn(f"{age}; it is still used", RecordingExpiredWarning, stacklevel=2)
        else:
            expired.append(folder)
    records = _mode_records(test) or bool(expired)
    loaded = [] if test.mode is RecordMode.ALL else [f for f in existing if f not in expired]
    staging.mkdir(parents=True, exist_ok=True)
    upstream = test.upstream.endpoint if test.upstream else None
    token = test.upstream.tokens.token if test.upstream else None
    if records:
        answers = Answers(
            OnMiss.RECORD,
            staging,
            test.expires_in_days,
            test.min_score,
            upstream=upstream,
            upstream_token=token,
        )
    elif test.fallback:
        answers = Answers(
            OnMiss.ENGINES, min_score=test.min_score, upstream=upstream, upstream_token=token
        )
    else:
        answers = Answers(OnMiss.ERROR, min_score=test.min_score)
    target.mock.answer_from(loaded, answers)
    target.mock.forget()
    app_id, app_secret = target.app or ("", "")
    return SymblMock(
        mock=target.mock,
        app_id=app_id,
        app_secret=app_secret,
        access_token=target.tokens.token(),
        test=test,
        staging=staging,
        recordings=loaded,
        expired=expired,
    )


def finish(symbl: SymblMock, passed: bool) -> list[Path]:
    """Keep what the test recorded (in mode `passed` only if it passed): move the new
    recordings into the test's folder, replacing the ones they re-record. Returns them."""
    test = symbl.test
    # A miss is saved just after its client has gone: wait for those the test did not.
    symbl.mock.journal(SETTLE_S)
    made = recording_folders([symbl.staging])
    symbl.mock.answer_from([])
    if not made or (test.mode is RecordMode.PASSED and not passed):
        shutil.rmtree(symbl.staging, ignore_errors=True)
        return []
    test.record_to.mkdir(parents=True, exist_ok=True)
    # A test replaces its own recordings only: the tests of a module share its folder.
    own = recorded_by(test)
    replaced = own if test.mode is RecordMode.ALL else [f for f in symbl.expired if f in own]
    for folder in replaced:
        shutil.rmtree(folder, ignore_errors=True)
    kept = []
    for folder in made:
        target = test.record_to / safe_name(test.name, lambda n: (test.record_to / n).exists())
        shutil.move(folder, target)
        kept.append(target)
    shutil.rmtree(symbl.staging, ignore_errors=True)
    return kept

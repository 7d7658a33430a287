"""Regression suites: replay a recorded session, compare it with its baseline, keep baselines.

A session's baseline is `<baselines>/<session path from the root>/` when it exists, else
the recording itself (so two sessions named `standup` in different folders keep two
baselines). Record modes, as VCR.py users know them: `none` never writes baselines,
`once` writes the missing ones, `new` also rewrites those older than their session, `all`
rewrites every one, `passed` writes as `new` does once the test has passed.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from harness.client.session import SessionError
from harness.modes import RecordMode
from harness.session_folder.log import EVENTS_FILE, read_session
from harness.tools.compare import Comparison, Tolerances, compare
from harness.tools.replay import plan_replay, replay
from harness.tools.targets import Target


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


def writes_baseline(mode: RecordMode, session: Path, baseline: Path) -> bool:
    """Whether `mode` (re)writes the baseline of `session` stored at `baseline`."""
    if mode is RecordMode.ALL:
        return True
    missing = not (baseline / EVENTS_FILE).exists()
    if mode in (RecordMode.ONCE, RecordMode.NEW, RecordMode.PASSED) and missing:
        return True
    if mode in (RecordMode.NEW, RecordMode.PASSED):
        return (session / EVENTS_FILE).stat().st_mtime > (baseline / EVENTS_FILE).stat().st_mtime
    return False


def baseline_of(baselines: Path, session: Path, root: Path | None) -> Path:
    """Where a session's baseline lives: under its path from `root` (its whole path when it
    lies outside), so sessions that share a name do not share a baseline."""
    session = session.resolve()
    if root is not None and session.is_relative_to(root.resolve()):
        return baselines / session.relative_to(root.resolve())
    return baselines / session.relative_to(session.anchor)


def keep_baseline(candidate: Path, stored: Path) -> None:
    """Make a replay the baseline it is compared with from now on."""
    if stored.exists():
        shutil.rmtree(stored)
    shutil.copytree(candidate, stored)


@dataclass(frozen=True)
class Regression:
    """Replays sessions to a target and judges them against their baselines."""

    where: Target
    baselines: Path
    work: Path
    mode: RecordMode = RecordMode.NONE
    speed: float | None = None
    tolerances: Tolerances = field(default_factory=Tolerances)
    root: Path | None = None
    # Mode `passed`: baselines to write once the test has passed (candidate, where).
    pending: list[tuple[Path, Path]] = field(default_factory=list)

    def replay(self, session: Path) -> ReplayResult:
        """Replay `session`, then write its baseline or compare with it."""
        plan = plan_replay(session)
        if self.where.mock is not None:
            self.where.mock.learn(session)
        candidate = self.work / f"replay-{session.name}"
        recording = asyncio.run(
            replay(plan, candidate, self.where.destination(plan.connection_id), self.speed)
        )
        if recording.result is None or recording.result.error:
            error = recording.result.error if recording.result else "no result"
            raise SessionError(f"replay of {session} failed: {error}")
        stored = baseline_of(self.baselines, session, self.root)
        writes = writes_baseline(self.mode, session, stored)
        if writes and self.mode is RecordMode.PASSED:
            self.pending.append((candidate, stored))
        elif writes:
            keep_baseline(candidate, stored)
            return ReplayResult(session, candidate, stored, None, baseline_written=True)
        baseline = stored if (stored / EVENTS_FILE).exists() else session
        comparison = compare(read_session(baseline), read_session(candidate), self.tolerances)
        return ReplayResult(session, candidate, baseline, comparison, baseline_written=False)

"""The project's own regression suite, through its own pytest plugin: every fixture replays
against the mock as it was recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.tools.regression import ReplayResult

from helpers import FIXTURES


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_fixture_replays_as_recorded(
    symbl_replay: Callable[[str | Path], ReplayResult], name: str
) -> None:
    result = symbl_replay(FIXTURES / name)
    assert result.matches_baseline()
    assert result.baseline == FIXTURES / name

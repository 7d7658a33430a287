"""Shared test settings: Hypothesis profiles and the policy for missing components."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from harness.serve import RunningServer
from mock_symbl import MockConfig, running_mock

from helpers import FIXTURES

pytest_plugins = ["pytester"]

# `ci` runs every property with 500 examples; `dev` keeps local runs quick.
settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev")
)

# In CI a missing component is a failure, never a skip.
REQUIRE_ALL = os.environ.get("SYMBL_HARNESS_REQUIRE_COMPONENTS") == "1" or (
    os.environ.get("CI") == "true"
)

Require = Callable[[str, bool, str], None]


def _require(component: str, available: bool, install: str) -> None:
    if available:
        return
    message = f"{component} is not available (install: {install})"
    if REQUIRE_ALL:
        pytest.fail(f"{message}; CI requires every component")
    pytest.skip(message)


@pytest.fixture(scope="session")
def require() -> Require:
    """`require(component, available, how_to_install)`: skip locally, fail in CI."""
    return _require


@pytest.fixture
def espeak_ng(require: Require) -> str:
    """The path of the espeak-ng synthesiser."""
    path = shutil.which("espeak-ng")
    require("espeak-ng", path is not None, "apt-get install espeak-ng")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def mock_server() -> Iterator[RunningServer]:
    """A mock on an ephemeral loopback port; fixtures' connection ids get their transcript."""
    transcripts = tuple(sorted(p for p in FIXTURES.iterdir() if p.is_dir()))
    with running_mock(MockConfig(transcripts=transcripts, seed=7)) as running:
        yield running

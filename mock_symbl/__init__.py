"""A Symbl-compatible streaming and conversation server that runs offline.

    from mock_symbl import MockConfig, running_mock

    with running_mock(MockConfig(recordings=(Path("tests/recordings"),))) as mock:
        ...  # point a client at mock.ws_url: the recording its audio matches answers it
        (entry,) = mock.journal()
        assert entry.matched

Names are imported on first use, so `import mock_symbl` costs nothing until one is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_symbl.engines.names import Engine, OnMiss
    from mock_symbl.engines.select import ENGINES, EngineUnavailableError
    from mock_symbl.session.backlog import Backlog
    from mock_symbl.session.faults import FaultError, Faults
    from mock_symbl.web.app import create_app
    from mock_symbl.web.config import Answers, MockConfig, MockConfigError
    from mock_symbl.web.journal import AudioMatch, JournalEntry
    from mock_symbl.web.server import RunningMock, running_mock, serve_mock

__all__ = [
    "ENGINES",
    "Answers",
    "AudioMatch",
    "Backlog",
    "Engine",
    "EngineUnavailableError",
    "FaultError",
    "Faults",
    "JournalEntry",
    "MockConfig",
    "MockConfigError",
    "OnMiss",
    "RunningMock",
    "create_app",
    "running_mock",
    "serve_mock",
]

_WHERE = {
    "ENGINES": "mock_symbl.engines.select",
    "Answers": "mock_symbl.web.config",
    "AudioMatch": "mock_symbl.web.journal",
    "Backlog": "mock_symbl.session.backlog",
    "Engine": "mock_symbl.engines.names",
    "EngineUnavailableError": "mock_symbl.engines.select",
    "FaultError": "mock_symbl.session.faults",
    "Faults": "mock_symbl.session.faults",
    "JournalEntry": "mock_symbl.web.journal",
    "MockConfig": "mock_symbl.web.config",
    "MockConfigError": "mock_symbl.web.config",
    "OnMiss": "mock_symbl.engines.names",
    "create_app": "mock_symbl.web.app",
    "RunningMock": "mock_symbl.web.server",
    "running_mock": "mock_symbl.web.server",
    "serve_mock": "mock_symbl.web.server",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mock_symbl' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

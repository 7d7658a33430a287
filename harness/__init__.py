"""Record, replay, compare and benchmark sessions of the Symbl.ai streaming API.

The library API, imported on first use (so `import harness` costs nothing until a name is
needed):

    from harness import bundled_mock, plan_replay, replay, read_session, compare, Tolerances

    with bundled_mock() as target:
        plan = plan_replay(Path("fixtures/sessions/standup"))
        target.mock.learn(plan.folder)
        asyncio.run(replay(plan, Path("/tmp/out"), target.destination(plan.connection_id), None))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
TOOL = f"symbl-harness {__version__}"

if TYPE_CHECKING:
    from harness.client.auth import AuthError, TokenSource
    from harness.client.conversation import ConversationApiError, ConversationClient
    from harness.client.record import Destination, Recording, record
    from harness.client.session import (
        Observers,
        SessionError,
        SessionResult,
        Stream,
        run_session,
    )
    from harness.conformance.check import check_log
    from harness.errors import EndpointError, HarnessError
    from harness.modes import Display, RecordMode
    from harness.protocol import Dispatcher, Event, StartRequest
    from harness.session_folder.log import (
        SessionLog,
        SessionLogError,
        SessionLogWriter,
        read_session,
    )
    from harness.session_folder.transcript import Transcript, read_transcript
    from harness.tools.bench import BenchReport, run_benchmark
    from harness.tools.compare import Comparison, Tolerances, compare
    from harness.tools.latency import SessionLatency, session_latency
    from harness.tools.regression import Regression, ReplayResult
    from harness.tools.replay import ReplayError, ReplayPlan, plan_replay, replay
    from harness.tools.targets import Target, bundled_mock, endpoint_target, target

_WHERE = {
    "AuthError": "harness.client.auth",
    "TokenSource": "harness.client.auth",
    "ConversationApiError": "harness.client.conversation",
    "ConversationClient": "harness.client.conversation",
    "Destination": "harness.client.record",
    "Observers": "harness.client.session",
    "Recording": "harness.client.record",
    "Stream": "harness.client.session",
    "record": "harness.client.record",
    "SessionError": "harness.client.session",
    "SessionResult": "harness.client.session",
    "run_session": "harness.client.session",
    "check_log": "harness.conformance.check",
    "EndpointError": "harness.errors",
    "HarnessError": "harness.errors",
    "Display": "harness.modes",
    "RecordMode": "harness.modes",
    "Dispatcher": "harness.protocol",
    "Event": "harness.protocol",
    "StartRequest": "harness.protocol",
    "SessionLog": "harness.session_folder.log",
    "SessionLogError": "harness.session_folder.log",
    "SessionLogWriter": "harness.session_folder.log",
    "read_session": "harness.session_folder.log",
    "Transcript": "harness.session_folder.transcript",
    "read_transcript": "harness.session_folder.transcript",
    "BenchReport": "harness.tools.bench",
    "run_benchmark": "harness.tools.bench",
    "Comparison": "harness.tools.compare",
    "Tolerances": "harness.tools.compare",
    "compare": "harness.tools.compare",
    "SessionLatency": "harness.tools.latency",
    "session_latency": "harness.tools.latency",
    "Regression": "harness.tools.regression",
    "ReplayResult": "harness.tools.regression",
    "ReplayError": "harness.tools.replay",
    "ReplayPlan": "harness.tools.replay",
    "plan_replay": "harness.tools.replay",
    "replay": "harness.tools.replay",
    "Target": "harness.tools.targets",
    "bundled_mock": "harness.tools.targets",
    "endpoint_target": "harness.tools.targets",
    "target": "harness.tools.targets",
}

__all__ = [
    "TOOL",
    "AuthError",
    "BenchReport",
    "Comparison",
    "ConversationApiError",
    "ConversationClient",
    "Destination",
    "Dispatcher",
    "Display",
    "EndpointError",
    "Event",
    "HarnessError",
    "Observers",
    "RecordMode",
    "Recording",
    "Regression",
    "ReplayError",
    "ReplayPlan",
    "ReplayResult",
    "SessionError",
    "SessionLatency",
    "SessionLog",
    "SessionLogError",
    "SessionLogWriter",
    "SessionResult",
    "StartRequest",
    "Stream",
    "Target",
    "TokenSource",
    "Tolerances",
    "Transcript",
    "__version__",
    "bundled_mock",
    "check_log",
    "compare",
    "endpoint_target",
    "plan_replay",
    "read_session",
    "read_transcript",
    "record",
    "replay",
    "run_benchmark",
    "run_session",
    "session_latency",
    "target",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

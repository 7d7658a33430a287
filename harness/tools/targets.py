"""Where a session goes: the bundled mock, started in-process with throwaway credentials, or
an endpoint with the user's credentials. The one place that starts the bundled mock."""

from __future__ import annotations

from pathlib import Path

# Bundled reference sessions, present in a source checkout (`pip install -e .`).
BUNDLED_SESSIONS = Path(__file__).resolve().parents[2] / "fixtures" / "sessions"

"""Load beyond one machine: a Locust `User` that streams reference sessions through
`harness.client.session` and reports the bench's latency metrics as Locust request events.

    locust -f harness/tools/locust_user.py --host ws://127.0.0.1:8080 --headless -u 20 -r 5 -t 2m
    locust -f harness/tools/locust_user.py --master …
    and on each machine: … --worker --master-host H

Settings come from the environment (Locust passes it to every worker):
`SYMBL_SESSIONS` (session folders, separated by commas; default: the bundled fixtures),
`SYMBL_SPEED` (1 = real time, the default), and `SYMBL_ACCESS_TOKEN` or `SYMBL_APP_ID` +
`SYMBL_APP_SECRET`. Each replay is one `session` request (its wall time; a failure if the
session failed), and every figure of it one request named as bench.json names it, without
`_ms`: the latencies (`first_partial`, `word_emission`, `finalisation`, `insight`, `topic`),
set-up and tear-down (`handshake`, `set_up`, `start_to_recognition`, `stop_to_completed`,
`stop_to_close`) and each frame's `pacing_lateness`, whose response time is the figure in
milliseconds, so Locust's percentiles are the bench's; and stability, as counts in place of
milliseconds: `flicker` once per phrase (its average is bench's `flicker_per_phrase`) and
`word_revisions` once per final word (its average is `revisions_per_word`). Connection ids
are `NAME--user-N-K`: the bundled mock answers them with the transcript or cassette of
session NAME.

Locust runs on gevent; a session runs on asyncio in a thread of gevent's pool, so users
stream concurrently. This module imports nothing that uses httpx (under gevent's
patching, httpcore fails to import when trio is installed).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import User, constant, task

from harness.client.session import SessionResult, run_session
from harness.session_folder.log import TRANSCRIPT_FILE, SessionLogWriter, read_session
from harness.session_folder.transcript import Transcript, read_transcript
from harness.tools.bench import LIFECYCLE, METRICS
from harness.tools.latency import session_latency
from harness.tools.replay import ReplayPlan, plan_replay, replay_stream
from harness.tools.targets import BUNDLED_SESSIONS as FIXTURES

REQUEST_TYPE = "symbl"
_counter = itertools.count()


def session_folders() -> list[Path]:
    """The sessions to replay: `SYMBL_SESSIONS`, or the bundled fixtures."""
    named = os.environ.get("SYMBL_SESSIONS", "")
    if named:
        return [Path(part.strip()) for part in named.split(",") if part.strip()]
    return sorted(p for p in FIXTURES.iterdir() if (p / "events.jsonl").is_file())


def access_token(host: str) -> str:
    """`SYMBL_ACCESS_TOKEN`, or one generated from `SYMBL_APP_ID` and `SYMBL_APP_SECRET`."""
    fixed = os.environ.get("SYMBL_ACCESS_TOKEN")
    if fixed:
        return fixed
    parts = urlsplit(host)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    body = {
        "type": "application",
        "appId": os.environ.get("SYMBL_APP_ID", ""),
        "appSecret": os.environ.get("SYMBL_APP_SECRET", ""),
    }
    request = urllib.request.Request(
        f"{scheme}://{parts.netloc}/oauth2/token:generate",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as reply:
        return str(json.load(reply)["accessToken"])


def stream_once(
    plan: ReplayPlan, url: str, speed: float, transcript: Transcript | None
) -> tuple[SessionResult, dict[str, list[float]]]:
    """Replay one session (in the calling thread's own event loop); its result and metrics."""
    folder = Path(tempfile.mkdtemp(prefix="symbl-locust-"))
    try:
        with SessionLogWriter(folder, endpoint=url, sample_rate=plan.rate) as log:
            result = asyncio.run(run_session(url, replay_stream(plan, speed), log=log))
        figures: dict[str, list[float]] = {
            "pacing_lateness": [ns / 1e6 for ns in result.lateness_ns]
        }
        if transcript is not None and result.error is None:
            latency = session_latency(read_session(folder), transcript)
            for name in METRICS:
                figures[name.removesuffix("_ms")] = list(getattr(latency, name))
            for name in LIFECYCLE:
                if (value := getattr(latency, name)) is not None:
                    figures[name.removesuffix("_ms")] = [value]
            figures["flicker"] = [float(n) for n in latency.phrase_flicker]
            figures["word_revisions"] = [float(n) for n in latency.word_revisions]
        return result, figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class SymblStreamingUser(User):
    """Streams one reference session after another, each through `harness.client.session`."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """Read the sessions to replay and get a token."""
        self.plans = [plan_replay(folder) for folder in session_folders()]
        self.transcripts = {
            plan.folder.name: read_transcript(plan.folder / TRANSCRIPT_FILE)
            if (plan.folder / TRANSCRIPT_FILE).is_file()
            else None
            for plan in self.plans
        }
        self.speed = float(os.environ.get("SYMBL_SPEED", "1"))
        self.token = access_token(self.host or "")
        self.user_number = next(_counter)
        self.sessions = 0

    @task
    def stream(self) -> None:
        """Replay one session and report its latency figures."""
        plan = random.choice(self.plans)
        self.sessions += 1
        connection_id = f"{plan.folder.name}--user-{self.user_number}-{self.sessions}"
        base = (self.host or "").rstrip("/")
        url = f"{base}/v1/streaming/{connection_id}?access_token={self.token}"
        started = time.perf_counter()
        error: Exception | None = None
        figures: dict[str, list[float]] = {}
        try:
            result, figures = gevent.get_hub().threadpool.apply(
                stream_once, (plan, url, self.speed, self.transcripts[plan.folder.name])
            )
            if result.error:
                error = RuntimeError(result.error)
        except Exception as failure:  # Locust counts every failure of a session
            error = failure
        self._fire("session", (time.perf_counter() - started) * 1000, error)
        for name, values in figures.items():
            for value in values:
                self._fire(name, value, None)

    def _fire(self, name: str, milliseconds: float, error: Exception | None) -> None:
        context: dict[str, Any] = {}
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=milliseconds,
            response_length=0,
            exception=error,
            context=context,
        )

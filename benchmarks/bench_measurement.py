"""How far the harness's receive stamps are from the server's true send times.

    python benchmarks/bench_measurement.py [--fixture standup] [--speed 1]

The mock runs with `stamp_send_times`: each frame carries the monotonic time it was written
(`x_mock_sent_ns`). A replay through `harness.client.session` logs when each frame was received;
the difference is what the measurement itself adds (loopback transport, the event loop,
parsing deferred until after the stamp). Baseline in the same run: half a loopback
WebSocket round trip, the transport alone. Target (a goal): error p99 <= 0.5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx

from harness.client.session import run_session
from harness.session_folder.log import SessionLogWriter, read_session
from harness.tools.bench import loopback_floor
from harness.tools.latency import percentiles
from harness.tools.replay import plan_replay, replay_stream
from mock_symbl import MockConfig, running_mock
from mock_symbl.web.outbox import SENT_STAMP

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"


def main(fixture: str, speed: float | None) -> None:
    plan = plan_replay(FIXTURES / fixture)
    floor = asyncio.run(loopback_floor())
    config = MockConfig(transcripts=(FIXTURES / fixture,), stamp_send_times=True)
    with running_mock(config) as mock, tempfile.TemporaryDirectory() as tmp:
        reply = httpx.post(
            f"{mock.base_url}/oauth2/token:generate", json={"appId": "bench", "appSecret": "bench"}
        )
        url = f"{mock.streaming_url(fixture)}?access_token={reply.json()['accessToken']}"
        folder = Path(tmp) / "s"
        with SessionLogWriter(folder, endpoint=url, sample_rate=plan.rate) as log:
            asyncio.run(run_session(url, replay_stream(plan, speed), log=log))
        session = read_session(folder)
    origin = int(session.header["clock_origin_ns"])
    errors = [
        (origin + frame.t * 1e9 - frame.data[SENT_STAMP]) / 1e6
        for frame in session.received()
        if SENT_STAMP in frame.data
    ]
    error = percentiles(errors, digits=4)
    one_way = {k: v / 2 for k, v in floor.items() if k != "n"}
    pace = "max speed" if speed is None else f"{speed:g}x"
    print(f"{fixture} at {pace}: {len(errors)} events; milliseconds")
    print(f"{'':<38} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    print(
        f"{'half a loopback round trip (baseline)':<38} "
        + " ".join(f"{one_way[q]:>8.4f}" for q in ("p50", "p90", "p99", "max"))
    )
    print(
        f"{'receive stamp - server send time':<38} "
        + " ".join(f"{error[q]:>8.4f}" for q in ("p50", "p90", "p99", "max"))
    )
    print(f"ratio at p50: {error['p50'] / one_way['p50']:.2f}x the transport alone")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default="standup")
    parser.add_argument("--speed", default="1")
    arguments = parser.parse_args()
    main(arguments.fixture, None if arguments.speed == "max" else float(arguments.speed))

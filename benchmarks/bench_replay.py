"""Replay throughput and pacing, each against a baseline measured in the same run.

    python benchmarks/bench_replay.py [--fixture support-call] [--repeat 3]

1. Max-speed replay (harness.client.session with a session log, as `replay --speed max` runs)
   against a raw loopback WebSocket send of the same frames with no log, both to the
   same local server that discards audio: audio seconds per wall second, and the ratio.
   Also the replay against the bundled mock, for reference (its recognition costs CPU).
2. Pacing at 1x: lateness of each frame against its deadline, the harness's
   absolute-deadline pacing against plain `asyncio.sleep(frame duration)` pacing.
Targets (goals, not test assertions): replay >= 0.3x raw loopback; pacing p99 <= 0.25 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from websockets.asyncio.server import ServerConnection, serve

from harness.client.session import run_session
from harness.serve import running
from harness.session_folder.log import SessionLogWriter
from harness.tools.latency import lateness_ms
from harness.tools.replay import ReplayPlan, plan_replay, replay_stream
from mock_symbl import MockConfig, create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"


async def discard(connection: ServerConnection) -> None:
    """Take audio, answer nothing, close on the stop request."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async for message in connection:
            if isinstance(message, str) and "stop_request" in message:
                await connection.close(1000, "stopped")
                return


async def raw_send(url: str, plan: ReplayPlan) -> float:
    """Seconds to send the plan's frames over a bare websockets connection."""
    payloads = [frame.astype("<i2").tobytes() for frame in plan.audio]
    async with websockets.connect(url, max_size=None) as socket:
        started = time.perf_counter()
        await socket.send(plan.start.encode())
        for payload in payloads:
            await socket.send(payload)
        await socket.send('{"type":"stop_request"}')
        with contextlib.suppress(websockets.ConnectionClosed):
            await socket.recv()
        return time.perf_counter() - started


async def harness_replay(
    url: str, plan: ReplayPlan, speed: float | None
) -> tuple[float, list[int]]:
    """Seconds for a logged replay through harness.client.session, and its pacing lateness."""
    with tempfile.TemporaryDirectory() as tmp:
        log = SessionLogWriter(Path(tmp) / "s", endpoint=url, sample_rate=plan.rate)
        with log:
            started = time.perf_counter()
            result = await run_session(url, replay_stream(plan, speed), log=log)
            return time.perf_counter() - started, result.lateness_ns


async def sleep_paced(url: str, plan: ReplayPlan) -> list[int]:
    """Lateness of plain relative `asyncio.sleep(frame duration)` pacing."""
    lateness = []
    async with websockets.connect(url, max_size=None) as socket:
        await socket.send(plan.start.encode())
        t0 = time.perf_counter_ns()
        sent = 0
        for frame in plan.audio:
            lateness.append(time.perf_counter_ns() - (t0 + int(sent / plan.rate * 1e9)))
            await socket.send(frame.astype("<i2").tobytes())
            sent += frame.size
            await asyncio.sleep(frame.size / plan.rate)
        await socket.send('{"type":"stop_request"}')
    return lateness


def mock_token(base_url: str) -> str:
    reply = httpx.post(
        f"{base_url}/oauth2/token:generate",
        json={"type": "application", "appId": "bench", "appSecret": "bench-secret"},
    )
    return str(reply.json()["accessToken"])


def row(name: str, seconds: float, plan: ReplayPlan, raw: float) -> str:
    return f"{name:<40} {seconds:>8.3f} {plan.seconds / seconds:>10.0f} {raw / seconds:>7.2f}"


async def main(fixture: str, repeat: int) -> None:
    plan = plan_replay(FIXTURES / fixture)
    short = plan_replay(FIXTURES / "hot")
    async with serve(discard, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/v1/streaming/bench"
        raw = min([await raw_send(url, plan) for _ in range(repeat)])
        replay = min([(await harness_replay(url, plan, None))[0] for _ in range(repeat)])
        _, paced = await harness_replay(url, short, 1.0)
        plain = await sleep_paced(url, short)
    with running(create_app(MockConfig(transcripts=(FIXTURES / fixture,)))) as mock:
        mock_url = f"{mock.streaming_url(fixture)}?access_token={mock_token(mock.base_url)}"
        against_mock = min([(await harness_replay(mock_url, plan, None))[0] for _ in range(repeat)])
    print(f"{fixture}: {plan.seconds:.1f} s of audio in {len(plan.audio)} frames, best of {repeat}")
    print(f"{'max-speed send':<40} {'wall s':>8} {'audio s/s':>10} {'x raw':>7}")
    print(row("raw websockets send (baseline)", raw, plan, raw))
    print(row("harness replay, logged", replay, plan, raw))
    print(row("harness replay to the mock (reference)", against_mock, plan, raw))
    print(f"\npacing at 1x over {short.seconds:.1f} s ({len(short.audio)} frames), lateness in ms")
    print(f"{'pacing':<40} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    for name, values in (
        ("asyncio.sleep per frame (baseline)", plain),
        ("harness absolute deadlines", paced),
    ):
        f = lateness_ms(values)
        print(f"{name:<40} {f['p50']:>8.3f} {f['p90']:>8.3f} {f['p99']:>8.3f} {f['max']:>8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default="support-call")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.fixture, arguments.repeat))

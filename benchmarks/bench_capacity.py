"""Mock capacity: concurrent real-time cassette sessions until events run late or frames are lost.

    python benchmarks/bench_capacity.py [--fixture feedback] [--seconds 8] [--max 800]

Each level opens N sessions at once against the mock (a separate process, `--engine
cassette` on a 44.1 kHz fixture), and every session sends 1024-sample frames in real time
(the N sessions start spread evenly over two seconds). An event's delay is its
arrival (stamped at the socket) minus the send time of the frame that released it (the
cassette releases each recorded event at its recorded audio position). A level holds
while p99 event delay stays within 50 ms and every session sends all its frames and ends
with a normal close. Baseline in the same run: the same load against a bare `websockets`
server (another process) that releases the same events at the same positions.
Target (a goal, not a test assertion): >= 500 sessions on 2 cores with no frame lost.
The load generator shares the machine: its own pacing lateness is printed with each level,
and when it falls behind by more than a frame period, the level is its limit, not the server's;
the server's CPU use (share of one core over the level) tells how many sessions a core carries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import websockets
from websockets.asyncio.server import ServerConnection, serve

from harness.client.session import StampedConnection
from harness.protocol import StartRequest
from harness.session_folder.log import read_session
from harness.tools.latency import event_kind
from mock_symbl.engines.cassette import LIFECYCLE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"
FRAME = 1024
BOUND_MS = 50.0
SPREAD_S = 2.0
LEVELS = (25, 50, 100, 200, 300, 400, 500, 600, 800, 1000)


@dataclass
class Cassette:
    """What a session sends and which events come back at which audio positions."""

    rate: int
    payloads: list[bytes]
    events: list[tuple[int, str]]

    @classmethod
    def load(cls, folder: Path, seconds: float) -> Cassette:
        log = read_session(folder)
        samples = log.audio[: int(seconds * log.sample_rate)].astype("<i2")
        payloads = [samples[i : i + FRAME].tobytes() for i in range(0, samples.size, FRAME)]
        events = [
            (frame.position, json.dumps(frame.data))
            for frame in log.received()
            if event_kind(frame.data) not in LIFECYCLE and frame.position <= samples.size
        ]
        return cls(log.sample_rate, payloads, events)

    def releasing_frame(self, position: int) -> int:
        """The index of the frame whose arrival releases an event recorded at `position`."""
        return max(0, math.ceil(position / FRAME) - 1)


async def bare_server(cassette: Cassette, port_file: Path) -> None:
    """The baseline: release the cassette's events at their positions, nothing more."""

    async def handle(connection: ServerConnection) -> None:
        samples = released = 0
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in connection:
                if isinstance(message, bytes):
                    samples += len(message) // 2
                    while released < len(cassette.events) and (
                        cassette.events[released][0] <= samples
                    ):
                        await connection.send(cassette.events[released][1])
                        released += 1
                elif "stop_request" in message:
                    await connection.close(1000, "stopped")

    async with serve(handle, "127.0.0.1", 0, max_size=None) as server:
        port_file.write_text(str(server.sockets[0].getsockname()[1]))
        await asyncio.Future()


@dataclass
class Level:
    """What one level of load measured."""

    sessions: int
    delays_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def p99(self) -> float:
        return float(np.percentile(self.delays_ms, 99)) if self.delays_ms else math.inf

    def holds(self) -> bool:
        return not self.failed and self.p99() <= BOUND_MS


async def one_session(url: str, cassette: Cassette, start: str, t0: float, level: Level) -> None:
    period = FRAME / cassette.rate
    sent: list[int] = []
    arrivals: list[int] = []
    try:
        async with websockets.connect(
            url, max_size=None, ping_interval=None, create_connection=StampedConnection
        ) as socket:
            assert isinstance(socket, StampedConnection)

            async def read() -> None:
                async for message in socket:
                    at = socket.arrival()
                    if isinstance(message, str) and event_kind(json.loads(message)) not in (
                        LIFECYCLE
                    ):
                        arrivals.append(at)

            reader = asyncio.create_task(read())
            await socket.send(start)
            loop = asyncio.get_running_loop()
            for index, payload in enumerate(cassette.payloads):
                due = t0 + index * period
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                level.lateness_ms.append(max(0.0, loop.time() - due) * 1000)
                sent.append(time.perf_counter_ns())
                await socket.send(payload)
            await socket.send('{"type":"stop_request"}')
            await asyncio.wait_for(reader, 60)
            if socket.close_code != 1000:
                level.failed.append(f"closed with {socket.close_code}")
    except (OSError, websockets.WebSocketException, TimeoutError) as error:
        level.failed.append(f"{type(error).__name__}: {error}")
        return
    if len(sent) < len(cassette.payloads):
        level.failed.append(f"sent {len(sent)} of {len(cassette.payloads)} frames")
    for (position, _), at in zip(cassette.events, arrivals, strict=False):
        level.delays_ms.append((at - sent[cassette.releasing_frame(position)]) / 1e6)


async def run_level(url: str, cassette: Cassette, sessions: int) -> Level:
    level = Level(sessions)
    start = StartRequest(sample_rate_hertz=cassette.rate).encode()
    loop = asyncio.get_running_loop()
    # Connections open first; then the sessions start spread evenly over SPREAD_S, as
    # independent users would (in lockstep, every phrase would end at the same moment).
    t0 = loop.time() + 1.0 + sessions / 500
    await asyncio.gather(
        *(
            # Each its own connection id: sessions sharing one would join one conversation.
            one_session(
                url.format(id=f"s{i}"), cassette, start, t0 + SPREAD_S * i / sessions, level
            )
            for i in range(sessions)
        )
    )
    return level


def start_server(command: list[str], pattern: str) -> tuple[subprocess.Popen[str], str]:
    """Start a server process; return it and the first stdout line's match of `pattern`."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if found := re.search(pattern, line):
            return process, found.group(1)
    raise RuntimeError(f"{command[0]} ended before it said where it listens")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ramp(url: str, cassette: Cassette, limit: int, label: str, server: int) -> int:
    """Run rising levels until one breaks; print each; return the last that held."""
    held = 0
    for sessions in (n for n in LEVELS if n <= limit):
        cpu, wall = cpu_seconds(server), time.monotonic()
        level = asyncio.run(run_level(url, cassette, sessions))
        busy = (cpu_seconds(server) - cpu) / (time.monotonic() - wall)
        lateness = np.percentile(level.lateness_ms, 99) if level.lateness_ms else 0.0
        print(
            f"{label:<8} {sessions:>6} {np.percentile(level.delays_ms or [0], 50):>9.2f} "
            f"{level.p99():>9.2f} {max(level.delays_ms or [0]):>9.2f} {len(level.failed):>7} "
            f"{lateness:>14.2f} {busy:>11.0%}",
            flush=True,
        )
        if not level.holds():
            if level.failed:
                print(f"{'':<8} first failure: {level.failed[0]}")
            break
        held = sessions
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", default="feedback")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max", type=int, default=1000, help="highest level to try")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = FIXTURES / args.fixture
    cassette = Cassette.load(folder, args.seconds)
    if args.serve_bare:
        asyncio.run(bare_server(cassette, args.serve_bare))
        return
    print(
        f"{args.fixture}: {cassette.rate} Hz, {len(cassette.payloads)} frames of {FRAME} samples "
        f"({args.seconds:g} s) and {len(cassette.events)} events per session; "
        f"starts spread over {SPREAD_S:g} s; a level holds while p99 event delay <= "
        f"{BOUND_MS:g} ms and no frame is lost"
    )
    print(
        f"{'server':<8} {'at once':>6} {'delay p50':>9} {'p99':>9} {'max':>9} {'failed':>7} "
        f"{'sender late p99':>14} {'server CPU':>11}"
    )
    port_file = Path(f"/tmp/bench-capacity-{os.getpid()}.port")
    bare = subprocess.Popen(
        [sys.executable, __file__, "--fixture", args.fixture, "--seconds", str(args.seconds),
         "--serve-bare", str(port_file)]
    )  # fmt: skip
    mock, base = start_server(
        [sys.executable, "-m", "harness.cli", "mock", "--port", "0", "--engine", "cassette",
         "--cassette", str(folder)],
        r"REST\s+(http://\S+)",
    )  # fmt: skip
    try:
        while not port_file.exists():
            if bare.poll() is not None:
                raise RuntimeError(f"the baseline server ended with {bare.returncode}")
            time.sleep(0.05)
        bare_url = f"ws://127.0.0.1:{port_file.read_text()}/{{id}}"
        bare_held = ramp(bare_url, cassette, args.max, "bare", bare.pid)
        token = httpx.post(
            f"{base}/oauth2/token:generate",
            json={"type": "application", "appId": "bench", "appSecret": "capacity"},
        ).json()["accessToken"]
        url = f"{base.replace('http', 'ws', 1)}/v1/streaming/{{id}}?access_token={token}"
        mock_held = ramp(url, cassette, args.max, "mock", mock.pid)
    finally:
        for process in (bare, mock):
            process.terminate()
            process.wait()
        port_file.unlink(missing_ok=True)
    print(
        f"capacity: mock {mock_held} sessions, bare websockets {bare_held} (baseline) = "
        f"{mock_held / bare_held if bare_held else 0:.2f}x; target >= 500"
    )


if __name__ == "__main__":
    main()

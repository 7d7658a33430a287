"""The same failure reads the same in every command: one line, `error: ...`, one exit code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from click.testing import CliRunner

from harness.cli import HarnessGroup, main
from harness.serve import RunningServer, running
from harness.tools.proxy import create_proxy

from helpers import FIXTURES

HOT = str(FIXTURES / "hot")
TUTORIAL = FIXTURES.parent / "browser" / "tutorial.html"
Require = Callable[[str, bool, str], None]


@pytest.mark.parametrize(
    "args",
    [
        ["proxy", "--mock", "--listen", "127.0.0.1:0", "--out", "/proc/x"],
        ["bench", HOT, "--mock", "--out", "/proc/x"],
        ["replay", HOT, "--mock", "--out", "/proc/x"],
        ["browser", "page.html", "--audio", "a.wav", "--mock", "--out", "/proc/x"],
    ],
    ids=lambda args: args[0],
)
def test_an_out_folder_that_cannot_be_made_is_one_line_naming_it_and_why(
    args: list[str],
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.stderr == "error: cannot make the folder /proc/x: No such file or directory\n"
    assert result.exit_code == 2


@pytest.mark.parametrize("value", ["wer=-1", "timing_ms=nan", "timing_ms=inf", "extra_insights=-2"])
def test_a_tolerance_that_bounds_nothing_is_a_usage_error_naming_it(value: str) -> None:
    result = CliRunner().invoke(main, ["compare", HOT, HOT, "--tolerance", value])
    assert result.exit_code == 2
    name = value.partition("=")[0]
    assert result.stderr.startswith(f"error: --tolerance: tolerance {name} needs a finite number")
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_bad_symbl_tolerance_is_one_usage_error_not_an_error_per_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_one(symbl_replay):
            pass

        def test_two(symbl_replay):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--symbl-tolerance=wer=nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "--symbl-tolerance" in line]
    assert errors == [
        "ERROR: --symbl-tolerance: tolerance wer needs a finite number >= 0, got 'nan'"
    ]
    assert "test_one" not in result.stdout.str()


FAKE_TOKEN = "fake-token-7f3e9a1c-do-not-print"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listening, while the test runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["http", "https", "ws"])
def test_an_unreachable_endpoint_is_one_line_exit_1_and_never_shows_the_token(
    tmp_path: Path, scheme: str, closed_port: int
) -> None:
    endpoint = f"{scheme}://127.0.0.1:{closed_port}"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "record", str(tmp_path / "take"), "--file",
         str(FIXTURES / "hot" / "audio.wav"), "--endpoint", endpoint, "--as-fast-as-possible"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "SYMBL_ACCESS_TOKEN": FAKE_TOKEN},
        timeout=120,
    )  # fmt: skip
    assert FAKE_TOKEN not in result.stdout + result.stderr
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    ws = {"http": "ws", "https": "wss", "ws": "ws"}[scheme]
    assert line.startswith(f"error: cannot connect to {ws}://127.0.0.1:")


def test_an_http_endpoint_is_streamed_to_over_ws(
    tmp_path: Path, mock_server: RunningServer
) -> None:
    env = {**os.environ, "SYMBL_APP_ID": "app", "SYMBL_APP_SECRET": "app-secret-not-shown"}
    env.pop("SYMBL_ACCESS_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "record", str(tmp_path / "hot"), "--file",
         str(FIXTURES / "hot" / "audio.wav"), "--endpoint", mock_server.base_url,
         "--as-fast-as-possible", "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"recorded {tmp_path / 'hot'}: ")
    assert "app-secret-not-shown" not in result.stdout + result.stderr


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`symbl-harness ARGS` in a subprocess with the given credentials only."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SYMBL_")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=180,
    )


@pytest.mark.parametrize("command", ["record", "replay", "bench", "browser"])
def test_an_unreachable_endpoint_reads_the_same_in_every_command(
    tmp_path: Path, closed_port: int, command: str, require: Require
) -> None:
    if command == "browser":
        require("chromium", shutil.which("chromium") is not None, "apt-get install chromium")
    endpoint = ["--endpoint", f"http://127.0.0.1:{closed_port}"]
    out = str(tmp_path / "out")
    args = {
        "record": [out, "--file", str(FIXTURES / "hot" / "audio.wav"), "--as-fast-as-possible"],
        "replay": [HOT, "--out", out, "--speed", "max"],
        "bench": [HOT, "--out", out, "--speed", "max"],
        "browser": [str(TUTORIAL), "--audio", str(FIXTURES / "hot" / "audio.wav"), "--out", out],
    }[command]
    result = run_cli(command, *args, *endpoint, env={"SYMBL_ACCESS_TOKEN": FAKE_TOKEN})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert f"cannot connect to ws://127.0.0.1:{closed_port}/v1/" in errors[0]
    assert "Traceback" not in result.stderr
    assert FAKE_TOKEN not in result.stdout + result.stderr


def test_a_dead_upstream_is_unavailable_not_a_refusal_of_the_credentials(
    tmp_path: Path, closed_port: int
) -> None:
    # A gateway (here the recording proxy) whose upstream is gone answers 502.
    with running(create_proxy(f"http://127.0.0.1:{closed_port}", tmp_path / "proxied")) as gate:
        result = run_cli(
            "replay",
            HOT,
            "--endpoint",
            gate.base_url,
            "--out",
            str(tmp_path / "out"),
            env={"SYMBL_APP_ID": "app", "SYMBL_APP_SECRET": FAKE_TOKEN},
        )
    assert result.stderr.splitlines() == [
        f"error: {gate.base_url}/oauth2/token:generate is unavailable (HTTP 502)"
    ]
    assert result.returncode == 1


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another server listens on while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["mock", "proxy"])
def test_a_busy_port_is_one_line_naming_the_address(
    command: str, busy_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{busy_port}"
    args = {
        "mock": ["mock", "--port", str(busy_port)],
        "proxy": ["proxy", "--mock", "--listen", address, "--out", str(tmp_path)],
    }[command]
    result = CliRunner().invoke(main, args)
    assert result.stderr == (
        f"error: {address} is in use (another server listens there: choose another port)\n"
    )
    assert result.exit_code == 2


def served_one_connection(args: list[str], send: bytes) -> str:
    """Run the server `args`, open one streaming connection that sends `send` as a text
    frame, stop the server with Ctrl-C and return what it said on stderr."""
    with subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        rest = process.stdout.readline().split()[1]
        streaming = process.stdout.readline().split()[1]
        token = httpx.post(
            f"{rest}/oauth2/token:generate",
            json={"type": "application", "appId": "app", "appSecret": "secret"},
        )
        url = streaming.replace("{connectionId}", "one")
        if token.status_code == 200:
            url += f"?access_token={token.json()['accessToken']}"

        async def connect() -> None:
            with contextlib.suppress(websockets.WebSocketException):
                async with websockets.connect(url) as socket:
                    await socket.send(send, text=True)
                    await asyncio.wait_for(socket.recv(), 60)

        asyncio.run(connect())
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    return err


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["default", "quiet"])
def test_the_mock_says_a_line_per_troubled_connection_unless_quiet(quiet: list[str]) -> None:
    # A text frame that is not UTF-8: the mock closes the socket, and says why.
    err = served_one_connection(["mock", "--port", "0", *quiet], b"\xff")
    said = [line for line in err.splitlines() if "not UTF-8" in line]
    assert len(said) == (0 if quiet else 1), err


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["default", "quiet"])
def test_the_proxy_says_a_line_per_troubled_connection_unless_quiet(
    quiet: list[str], closed_port: int, tmp_path: Path
) -> None:
    upstream = f"ws://127.0.0.1:{closed_port}"
    args = ["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0", "--out", str(tmp_path)]
    err = served_one_connection([*args, *quiet], b"{}")
    said = [line for line in err.splitlines() if line.startswith("proxy: cannot connect")]
    assert len(said) == (0 if quiet else 1), err


def test_a_file_a_command_cannot_write_is_one_line_naming_it() -> None:
    group = HarnessGroup()

    @group.command()
    def go() -> None:
        Path("/proc/x/bench.json").write_text("{}")

    result = CliRunner().invoke(group, ["go"])
    assert result.stderr == "error: /proc/x/bench.json: No such file or directory\n"
    assert result.exit_code == 2

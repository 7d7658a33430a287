"""Errors and Ctrl-C: one line on stderr, the error's exit code, 130 for an interrupt, and the
clean stops of the commands that stop on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli import INTERRUPTED, HarnessGroup
from harness.cli.options import UsageProblem
from harness.errors import EndpointError, HarnessError

from helpers import FIXTURES

# Modules the commands import when they run, never when the command line loads.
LAZY = (
    "harness.session_folder",
    "harness.tools",
    "harness.client",
    "mock_symbl.web",
    "mock_symbl.session",
    "numpy",
)


def failing(error: BaseException) -> click.Group:
    """A group like `symbl-harness` with one command, `go`, that raises `error`."""
    group = HarnessGroup()

    @group.command()
    def go() -> None:
        raise error

    return group


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (HarnessError("the folder has no events.jsonl"), 2),
        (EndpointError("the endpoint refused the credentials"), 1),
        (UsageProblem("no fixture or folder named 'x'"), 2),
        (KeyboardInterrupt(), INTERRUPTED),
    ],
)
def test_an_error_ends_the_command_with_one_line_and_its_exit_code(
    error: BaseException, code: int
) -> None:
    result = CliRunner().invoke(failing(error), ["go"])
    assert result.exit_code == code
    assert result.stdout == ""
    message = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
    assert result.stderr == f"error: {message}\n"


def stderr_lines(process: subprocess.Popen[str]) -> Iterator[str]:
    assert process.stderr is not None
    yield from iter(process.stderr.readline, "")


def interrupted_while_importing(after: tuple[str, ...], *args: str) -> tuple[int, list[str]]:
    """Run `symbl-harness ARGS` and press Ctrl-C as soon as a module named in `after` (or
    under one) is imported; return the exit code and stderr without the import timings."""
    command = [sys.executable, "-X", "importtime", "-m", "harness.cli", *args]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        said = []
        for line in stderr_lines(process):
            said.append(line)
            module = line.rpartition("|")[2].strip()
            if line.startswith("import time:") and module.startswith(after):
                process.send_signal(signal.SIGINT)
                break
        said.extend(stderr_lines(process))
        code = process.wait(timeout=60)
    return code, [line.rstrip("\n") for line in said if not line.startswith("import time:")]


@pytest.mark.parametrize(
    "args",
    [
        ["mock", "--port", "0"],
        ["proxy", "--mock", "--listen", "127.0.0.1:0", "--out", "{tmp}/proxied"],
        ["replay", str(FIXTURES / "hot"), "--mock", "--out", "{tmp}/replayed"],
        ["record", "{tmp}/recorded", "--file", str(FIXTURES / "hot" / "audio.wav"), "--mock"],
        ["demo", "--fixture", "hot", "--out", "{tmp}/demo"],
        ["bench", str(FIXTURES / "hot"), "--mock", "--out", "{tmp}/bench"],
    ],
    ids=lambda args: args[0],
)
def test_ctrl_c_while_a_command_is_still_importing_exits_130_in_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    code, said = interrupted_while_importing(LAZY, *(a.format(tmp=tmp_path) for a in args))
    assert said == ["error: interrupted"]
    assert code == INTERRUPTED


def test_ctrl_c_while_the_command_line_itself_loads_exits_130_in_one_line() -> None:
    # `click` is imported first; the command modules and the command's own imports follow.
    code, said = interrupted_while_importing(("click",), "mock", "--port", "0")
    assert said == ["error: interrupted"]
    assert code == INTERRUPTED


def wait_until_serving(url: str) -> None:
    """Return once `url` answers: the server is serving and handles Ctrl-C itself."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url):
                return
        except urllib.error.URLError:
            # Announced once bound; it accepts connections a moment later.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_ctrl_c_stops_a_serving_mock_cleanly() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "mock", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        wait_until_serving(process.stdout.readline().split()[1])
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert err.splitlines() == [
        "engine     auto; database in memory",
        "stopped by SIGINT; open sessions were stored",
    ]


def test_a_first_ctrl_c_stops_a_replay_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "replayed"
    with subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "replay", str(FIXTURES / "standup"), "--mock",
         "--json", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert '"type"' in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    lines = err.splitlines()
    assert lines[0] == "stopping: stop_request sent (Ctrl-C again to abort)"
    assert lines[1].startswith(f"replayed into {out}: ")
    assert "Traceback" not in err

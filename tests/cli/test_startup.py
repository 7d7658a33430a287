"""`--help` stays instant: the group and every command's help import click and no heavy module."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from harness.cli import main
from harness.cli.clients import DEVICE_RATE, OPEN_TIMEOUT_S
from harness.cli.compare import TOLERANCES

HEAVY = (
    "numpy",
    "matplotlib",
    "fastapi",
    "starlette",
    "uvicorn",
    "websockets",
    "httpx",
    "soundfile",
    "playwright",
    "pocketsphinx",
    "jiwer",
    "sounddevice",
    "asyncio",
    "rich",
    "mock_symbl.web",
    "mock_symbl.session",
    "harness.tools",
    "harness.client",
    "harness.audio",
    "harness.session_folder",
    "harness.conformance",
)

# Invokes the group as the entry point does, then prints every module the process holds.
HELP_THEN_MODULES = """
import sys
from harness.cli import main
code = main(sys.argv[1:], standalone_mode=False)
print("--- exit", code)
print("\\n".join(sorted(sys.modules)))
"""


def modules_after(*args: str) -> list[str]:
    """The modules a fresh interpreter holds after `symbl-harness ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_THEN_MODULES, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    help_text, _, listing = done.stdout.partition("--- exit 0\n")
    assert "Usage: " in help_text, done.stdout
    return listing.split()


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("command", ["", *sorted(main.commands)])
def test_help_imports_no_heavy_module(command: str) -> None:
    modules = modules_after(*(command.split()), "--help")
    assert "click" in modules
    assert heavy(modules) == []


def test_the_spelled_out_tolerances_are_the_comparisons() -> None:
    from harness.tools.compare import Tolerances

    assert ", ".join(f"{f.name} [{f.default}]" for f in fields(Tolerances)) == TOLERANCES


def test_the_spelled_out_browser_defaults_are_the_drivers() -> None:
    from harness.tools import browser

    assert (DEVICE_RATE, OPEN_TIMEOUT_S) == (browser.DEVICE_RATE, browser.OPEN_TIMEOUT_S)

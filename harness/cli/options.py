"""What the `symbl-harness` commands share: the exit status of bad input and common options."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness.tools.targets import BUNDLED_SESSIONS as FIXTURES
from mock_symbl.session.faults import FaultError, Faults


class UsageProblem(click.ClickException):
    """Unusable input: a one-line error on stderr and exit status 2."""

    exit_code = 2


def endpoint_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--endpoint URL` or `--mock`, for the commands that stream to one of them."""
    command = click.option(
        "--mock", "use_mock", is_flag=True, help="Use the bundled mock, in-process."
    )(command)
    return click.option(
        "--endpoint", help="Symbl-compatible base URL (ws://, wss://); credentials from env."
    )(command)


def fault_option(name: str, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`NAME KEY=VALUE`, repeatable: a fault plan (the keys of POST /v1/mock/faults)."""

    def plan(_: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Faults:
        pairs = {}
        for value in values:
            key, sep, setting = value.partition("=")
            if not sep:
                raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param=param)
            pairs[key] = setting
        try:
            return Faults.from_json(pairs)
        except FaultError as error:
            raise click.BadParameter(str(error), param=param) from None

    return click.option(
        name,
        "faults",
        multiple=True,
        metavar="KEY=VALUE",
        callback=plan,
        help=f"{what.capitalize()}, e.g. delay_ms=200 or drop_after_frames=50; repeatable.",
    )


def out_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--out DIR`: where the command writes `what`, a new temporary folder by default."""
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Folder for {what} [a new temporary folder].",
    )


def one_endpoint(endpoint: str | None, use_mock: bool) -> None:
    if bool(endpoint) == use_mock:
        raise click.UsageError("give exactly one of --endpoint URL or --mock")


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def display(as_json: bool) -> str:
    """JSON lines when asked or when stdout is not a terminal; the live view otherwise."""
    return "json" if as_json or not sys.stdout.isatty() else "live"


def speed_option_value(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise click.BadParameter(f"expected 1, a factor N > 0, or max; got {value!r}")
    return speed


def fixture_folder(name: str) -> Path:
    """A bundled fixture by name, or any folder."""
    folder = Path(name) if Path(name).is_dir() else FIXTURES / name
    if not folder.is_dir():
        known = ", ".join(sorted(p.name for p in FIXTURES.iterdir())) if FIXTURES.is_dir() else ""
        hint = f"bundled: {known}" if known else "install from a source checkout: pip install -e ."
        raise UsageProblem(f"no fixture or folder named {name!r} ({hint})")
    return folder

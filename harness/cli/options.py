"""What the `symbl-harness` commands share: the one-line usage error and the common options."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from harness.modes import Display

if TYPE_CHECKING:
    from harness.tools.compare import Tolerances
    from mock_symbl import Faults


class UsageProblem(click.ClickException):
    """Unusable input the command line finds itself: `error: MESSAGE` on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """Print `error: MESSAGE` on stderr (or on `file`)."""
        click.echo(f"error: {self.format_message()}", file=file, err=True)


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
        from mock_symbl import FaultError, Faults

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


def tolerance_option(
    listed: str, of: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--tolerance NAME=VALUE`, repeatable, handed to the command as Tolerances; a bad one
    (unknown, not a number, negative, infinite or nan) is a one-line usage error naming it.
    `listed` names the tolerances and their defaults for `--help`, `of` what they judge."""

    def parsed(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> Tolerances:
        from harness.tools.compare import Tolerances

        try:
            return Tolerances.parse(list(values))
        except ValueError as error:
            raise UsageProblem(f"--tolerance: {error}") from None

    return click.option(
        "--tolerance",
        "tolerances",
        multiple=True,
        metavar="NAME=VALUE",
        callback=parsed,
        help=f"Loosen or tighten one tolerance{of}: {listed}",
    )


def out_option(
    what: str, required: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--out DIR`: where the command writes `what`, a new temporary folder by default; made
    before the command starts, so that a folder it cannot write stops it at once."""

    def made(_: click.Context, __: click.Parameter, value: Path | None) -> Path | None:
        return None if value is None else writable_folder(value)

    default = "" if required else " [a new temporary folder]"
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        required=required,
        callback=made,
        help=f"Folder for {what}{default}.",
    )


def writable_folder(folder: Path) -> Path:
    """`folder`, made if need be; UsageProblem naming it and the reason if it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageProblem(f"cannot make the folder {folder}: {error.strerror}") from None
    return folder


def new_folder(prefix: str) -> Path:
    """A new temporary folder, where a command writes when `--out` is not given."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix))


def stop_options(after: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--stop-timeout S` (how long the final events may take `after` ...) and `--json`."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--json", "as_json", is_flag=True, help="One JSON object per event on stdout."
        )(command)
        return click.option(
            "--stop-timeout",
            type=float,
            default=30.0,
            show_default=True,
            help=f"Seconds to wait for the final events{after}.",
        )(command)

    return decorate


def one_endpoint(endpoint: str | None, use_mock: bool) -> None:
    """Refuse both or neither of `--endpoint` and `--mock`."""
    if bool(endpoint) == use_mock:
        raise click.UsageError("give exactly one of --endpoint URL or --mock")


def print_json(value: Any) -> None:
    """`value` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def display(as_json: bool) -> Display:
    """JSON lines when asked or when stdout is not a terminal; the live view otherwise."""
    return Display.JSON if as_json or not sys.stdout.isatty() else Display.LIVE


def speed_option_value(value: str) -> float | None:
    """`--speed`: a factor above 0, or None for `max`."""
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise click.BadParameter(f"expected 1, a factor N > 0, or max; got {value!r}")
    return speed


def fixture_option(
    default: str, purpose: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--fixture NAME|DIR`: a bundled reference session by name, or any folder, as a Path."""

    def folder(_: click.Context, __: click.Parameter, value: str) -> Path:
        from harness.tools.targets import bundled_session

        return bundled_session(value)

    return click.option(
        "--fixture",
        "folder",
        default=default,
        show_default=True,
        callback=folder,
        help=f"Bundled reference session {purpose} (a name under fixtures/sessions), or a folder.",
    )

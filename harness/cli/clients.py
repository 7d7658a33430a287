"""The commands that judge clients: `check` a recorded session, run a `browser` page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.options import (
    endpoint_options,
    new_folder,
    one_endpoint,
    out_option,
    print_json,
)

if TYPE_CHECKING:
    from rich.console import Console

# harness.tools.browser's DEVICE_RATE and OPEN_TIMEOUT_S, spelled out so that `--help` need not
# import the browser driver; tests/cli holds them together.
DEVICE_RATE = 48000
OPEN_TIMEOUT_S = 15.0


@click.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(session_dir: Path, as_json: bool) -> None:
    """Report what the client of a recorded session does wrong: protocol, sample rate,
    Float32-to-Int16 conversion, level, timing. Exit 1 if anything was found.

    Example: symbl-harness check recordings/browser-session
    """
    from rich.console import Console

    from harness.conformance.check import check_log
    from harness.session_folder.log import read_session

    report = check_log(read_session(session_dir))
    if as_json:
        print_json(report)
    else:
        show_conformance(Console(soft_wrap=True), report)
    sys.exit(1 if report["findings"] else 0)


def show_conformance(console: Console, report: dict[str, Any]) -> None:
    """A conformance report for people: one line per finding, then its evidence."""
    declared = report.get("declared") or {}
    console.print(
        f"{report['frames']} frames, {report['audio_seconds']} s of audio over "
        f"{report['wall_seconds']} s; declared {declared.get('encoding', '?')} "
        f"{declared.get('sample_rate', '?')} Hz; arrival rate {report['arrival_rate_hz']} Hz; "
        f"level {report['level_dbfs']} dBFS"
    )
    if not report["findings"]:
        console.print("[green]no findings[/]")
    for finding in report["findings"]:
        console.print(f"[red]{finding['code']}[/]: {finding['explanation']}")
        evidence = ", ".join(f"{k}={v}" for k, v in finding["evidence"].items())
        console.print(f"  [dim]{evidence}[/]")


@click.command()
@click.argument("page", type=click.Path(path_type=Path))
@click.option(
    "--audio",
    required=True,
    type=click.Path(path_type=Path),
    help="A WAV the page hears as its microphone.",
)
@endpoint_options
@out_option("the session, console.log and browser.json")
@click.option(
    "--device-rate",
    default=str(DEVICE_RATE),
    show_default=True,
    help="The audio device's rate, which AudioContexts take; 'native' for Chromium's own.",
)
@click.option(
    "--no-stop",
    is_flag=True,
    help="Do not send the page's stop_request when the audio ends (the tutorial's manual step).",
)
@click.option("--chromium", help="The Chromium executable [chromium on PATH].")
@click.option(
    "--open-timeout",
    type=click.FloatRange(1, 600),
    default=OPEN_TIMEOUT_S,
    show_default=True,
    help="Seconds the page has to open its WebSocket.",
)
@click.option("--json", "as_json", is_flag=True, help="Print browser.json to stdout.")
def browser(
    page: Path,
    audio: Path,
    endpoint: str | None,
    use_mock: bool,
    out: Path | None,
    device_rate: str,
    no_stop: bool,
    chromium: str | None,
    open_timeout: float,
    as_json: bool,
) -> None:
    """Run a web client in headless Chromium with a WAV as its microphone, record its
    session through the proxy, and report what it does wrong. Exit 1 on any finding.

    \b
    Example:
      symbl-harness browser fixtures/browser/tutorial.html \\
        --audio fixtures/sessions/hot/audio.wav --mock
    """
    import asyncio

    from rich.console import Console

    from harness.session_folder.log import TRANSCRIPT_FILE
    from harness.tools.browser import BrowserOptions, find_chromium, run_browser
    from harness.tools.targets import target
    from mock_symbl import MockConfig

    one_endpoint(endpoint, use_mock)
    rate = None if device_rate == "native" else _device_rate(device_rate)
    folder = out or new_folder("symbl-browser-")
    path = find_chromium(chromium)
    transcript = audio.parent / TRANSCRIPT_FILE
    config = (
        MockConfig(engine="transcript", transcripts=(transcript,))
        if use_mock and transcript.is_file()
        else MockConfig()
    )
    options = BrowserOptions(path, rate, stop=not no_stop, open_timeout_s=open_timeout)
    with target(None if use_mock else endpoint, config) as where:
        click.echo(f"running {page} in headless Chromium, hearing {audio}…", err=True)
        run = asyncio.run(run_browser(page, audio, where, folder, options))
    if as_json:
        print_json(run.to_json())
    else:
        console = Console(soft_wrap=True)
        console.print(f"{len(run.console)} console lines; session {run.session}")
        for line in run.page_errors:
            console.print(f"[red]page error[/] {line}")
        if run.conformance is not None:
            show_conformance(console, run.conformance)
    click.echo(f"session, console.log and browser.json in {folder}", err=True)
    findings = run.conformance["findings"] if run.conformance else ["no report"]
    sys.exit(1 if findings or run.page_errors else 0)


def _device_rate(value: str) -> int:
    """`--device-rate` in Hz."""
    try:
        rate = int(value)
    except ValueError:
        rate = 0
    if not 8000 <= rate <= 192000:
        raise click.BadParameter(f"expected a rate in Hz (8000-192000) or native; got {value!r}")
    return rate

"""The `symbl-harness` command line: thin wrappers that parse options and call the modules."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness import __version__
from harness.conversion_audit import ConversionAudit, audit_seed_conversion
from harness.pcm import int16_to_float32, level
from harness.sessionlog import SessionLogError, read_session
from harness.summary import summarise
from harness.transcript import TranscriptError, read_transcript
from harness.wavfile import WavError, read_pcm16
from mock_symbl.app import MockConfig
from mock_symbl.engines.select import ENGINES
from mock_symbl.server import RunningMock, serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sessions"


class UsageProblem(click.ClickException):
    """Unusable input: a one-line error on stderr and exit status 2."""

    exit_code = 2


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symbl-harness")
def main() -> None:
    """Record, replay, compare and benchmark Symbl streaming sessions, offline."""


@main.command()
@click.option(
    "--fixture",
    default="feedback",
    show_default=True,
    help="Bundled reference session to use (a name under fixtures/sessions), or a folder.",
)
@click.option(
    "--gain-db",
    type=float,
    default=6.0,
    show_default=True,
    help="Gain before conversion, as a hot microphone or a gain node would add.",
)
@click.option(
    "--frame-samples",
    type=click.IntRange(1, 16384),
    default=1024,
    show_default=True,
    help="Samples per frame, as the browser's ScriptProcessorNode delivers them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def demo(fixture: str, gain_db: float, frame_samples: int, as_json: bool) -> None:
    """Show, measured on a bundled recording, what the seed tutorial's audio loop does.

    The tutorial converts each Float32 frame to Int16 with a loop that never writes
    sample 0 and does not clamp below -1, so loud negative peaks wrap to positive.

    Example: symbl-harness demo --fixture standup --gain-db 9
    """
    folder = Path(fixture) if Path(fixture).is_dir() else FIXTURES / fixture
    if not folder.is_dir():
        known = ", ".join(sorted(p.name for p in FIXTURES.iterdir())) if FIXTURES.is_dir() else ""
        hint = f"bundled: {known}" if known else "install from a source checkout: pip install -e ."
        raise UsageProblem(f"no fixture or folder named {fixture!r} ({hint})")
    try:
        audio = read_pcm16(folder / "audio.wav")
        transcript = read_transcript(folder / "transcript.json")
    except (WavError, TranscriptError) as error:
        raise UsageProblem(str(error)) from None
    signal = int16_to_float32(audio.samples) * 10 ** (gain_db / 20)
    audit = audit_seed_conversion(signal, frame_samples)
    figures = {
        "fixture": folder.name,
        "sample_rate": audio.sample_rate,
        "seconds": round(audio.samples.size / audio.sample_rate, 3),
        "gain_db": gain_db,
        "peak_dbfs": round(level(signal).peak_dbfs, 2),
        "words": len(transcript.words),
        **audit.to_json(),
    }
    if as_json:
        _print_json(figures)
        return
    _show_audit(figures, audit, transcript.text)


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f} dB"


def _show_audit(figures: dict[str, Any], audit: ConversionAudit, text: str) -> None:
    console = Console()
    console.print(
        f"[bold]{figures['fixture']}[/]: {figures['sample_rate']} Hz, {figures['seconds']} s, "
        f"{figures['words']} words, "
        f"peak {figures['peak_dbfs']} dBFS after {figures['gain_db']:+} dB"
    )
    console.print(f"[dim]{text[:160]}{'…' if len(text) > 160 else ''}[/]")
    table = Table(title="Seed tutorial conversion vs a correct one", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"frames of {audit.frame_samples} samples", f"{audit.frames:,}")
    table.add_row("frames whose first sample the loop zeroes", f"{audit.first_sample_zeroed:,}")
    table.add_row("negative samples wrapped to positive", f"{audit.wrapped_samples:,}")
    table.add_row("samples beyond full scale", f"{audit.beyond_full_scale:,}")
    table.add_row("worst error (LSB)", f"{audit.worst_error_lsb:,}")
    table.add_row("signal-to-error, seed loop", _db(audit.seed_snr_db))
    table.add_row("signal-to-error, correct conversion", _db(audit.correct_snr_db))
    console.print(table)


@main.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect(session_dir: Path, as_json: bool) -> None:
    """Summarise a session folder: audio, records, events, transcript and problems.

    Example: symbl-harness inspect recordings/standup --json
    """
    try:
        log = read_session(session_dir)
    except SessionLogError as error:
        raise UsageProblem(str(error)) from None
    summary = summarise(log)
    if as_json:
        _print_json(summary)
        return
    console = Console()
    state = "complete" if summary["complete"] else "[yellow]interrupted[/]"
    console.print(f"[bold]{summary['folder']}[/] ({state}), recorded {summary['created']}")
    console.print(f"endpoint      {summary['endpoint']}")
    console.print(
        f"audio         {summary['sample_rate']} Hz {summary['encoding']}, "
        f"{summary['audio_seconds']} s in {summary['audio_frames']} frames"
    )
    console.print("records       " + ", ".join(f"{v} {k}" for k, v in summary["records"].items()))
    console.print("events        " + ", ".join(f"{v} {k}" for k, v in summary["events"].items()))
    console.print(f"conversation  {summary['conversation_id']}")
    for label, key in (("transcript", "final_transcripts"), ("insight", "insights")):
        for line in summary[key]:
            console.print(f"{label:<13} {line}")
    for line in summary["errors"]:
        console.print(f"[red]error[/]         {line}")
    for line in summary["problems"]:
        console.print(f"[yellow]problem[/]       {line}")


def _app_pair(value: str) -> tuple[str, str]:
    app_id, sep, secret = value.partition(":")
    if not sep or not app_id or not secret:
        raise click.BadParameter(f"expected ID:SECRET, got {value!r}")
    return app_id, secret


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="auto",
    show_default=True,
    help="Recognition engine (auto: cassette or transcript named by the connection id, else asr).",
)
@click.option(
    "--cassette",
    "cassettes",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A recorded session folder to replay to connections of the same name.",
)
@click.option(
    "--transcript",
    "transcripts",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A transcript.json (or a folder holding one) for the transcript engine.",
)
@click.option("--app", "apps", multiple=True, help="Accept only these credentials (ID:SECRET).")
@click.option("--seed", type=int, help="Seed the ids the server hands out (reproducible runs).")
@click.option(
    "--rate-limit",
    type=click.IntRange(1),
    help="REST requests per minute per app; more get 429 with Retry-After.",
)
@click.option("--max-streams", type=click.IntRange(1), help="Concurrent streams per app.")
def mock(
    host: str,
    port: int,
    db: Path | None,
    engine: str,
    cassettes: tuple[Path, ...],
    transcripts: tuple[Path, ...],
    apps: tuple[str, ...],
    seed: int | None,
    rate_limit: int | None,
    max_streams: int | None,
) -> None:
    """Run the bundled Symbl-compatible server in the foreground (Ctrl-C stops it).

    Example: symbl-harness mock --engine transcript --transcript fixtures/sessions/standup
    """
    try:
        pairs = dict(_app_pair(value) for value in apps)
        config = MockConfig(
            db=db,
            engine=engine,
            cassettes=cassettes,
            transcripts=transcripts,
            apps=pairs or None,
            seed=seed,
            requests_per_minute=rate_limit,
            max_streams=max_streams,
        )

        def announce(running: RunningMock) -> None:
            click.echo(f"REST       {running.base_url}")
            click.echo(f"streaming  {running.ws_url}/v1/streaming/{{connectionId}}")
            click.echo(f"engine     {engine}; database {db or 'in memory'}", err=True)

        stopped_by = serve(config, host, port, announce)
        click.echo(f"stopped by {stopped_by or 'shutdown'}; open sessions were stored", err=True)
    except (OSError, ValueError, TranscriptError) as error:
        raise UsageProblem(str(error)) from None


if __name__ == "__main__":
    sys.exit(main())

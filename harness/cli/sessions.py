"""The commands that make and read session folders: record, replay, demo, inspect, devices."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.compare import show_comparison
from harness.cli.options import (
    UsageProblem,
    display,
    endpoint_options,
    fixture_option,
    new_folder,
    one_endpoint,
    out_option,
    print_json,
    speed_option_value,
    stop_options,
)
from harness.modes import Display

if TYPE_CHECKING:
    from harness.tools.recorder import Source


@click.command()
@fixture_option("standup", "to replay")
@out_option("the new session")
@click.option("--speed", default="1", show_default=True, help="1, a factor N, or max.")
def demo(folder: Path, out: Path | None, speed: str) -> None:
    """Replay a bundled session through the bundled mock and check it against its baseline.

    Shows live captions, insights and each message's sentiment as the mock answers, writes
    the new session folder, compares it with the fixture's, and sums up with latency
    figures. Needs no network.

    Example: symbl-harness demo --fixture feedback
    """
    from harness.session_folder.log import TRANSCRIPT_FILE, read_session
    from harness.session_folder.transcript import read_transcript
    from harness.tools.compare import Tolerances
    from harness.tools.compare import compare as compare_sessions
    from harness.tools.latency import finalisation_latency_ms, percentiles
    from harness.tools.recorder import ABORTED, RecordTake, run_take
    from harness.tools.replay import plan_replay
    from mock_symbl import MockConfig

    pace = speed_option_value(speed)
    plan = plan_replay(folder)
    transcript = read_transcript(folder / TRANSCRIPT_FILE)
    target = out or new_folder("symbl-demo-") / folder.name
    take = RecordTake.replaying(
        plan, target, pace, Display.LIVE if sys.stdout.isatty() else Display.QUIET
    )
    click.echo(
        f"Replaying {folder.name} ({plan.seconds:.1f} s of speech, {transcript.about}) "
        "through the bundled mock…",
        err=True,
    )
    outcome = run_take(take, None, MockConfig(transcripts=(folder / TRANSCRIPT_FILE,)))
    click.echo(outcome.message, err=True)
    if outcome.code != 0:
        sys.exit(outcome.code)
    if outcome.interrupted:
        # A replay cut short differs from its baseline by being short: no regression.
        click.echo("stopped by Ctrl-C; not compared with the baseline", err=True)
        sys.exit(ABORTED)
    replayed = read_session(target)
    comparison = compare_sessions(read_session(folder), replayed, Tolerances())
    show_comparison(comparison, folder, target)
    latency = percentiles(finalisation_latency_ms(replayed, transcript))
    if latency and pace is not None:
        click.echo(
            f"finalisation latency (message after the phrase's last word was sent): "
            f"p50 {latency['p50']:.0f} ms, max {latency['max']:.0f} ms over {latency['n']:.0f} "
            "messages; the mock ends a phrase after 600 ms of silence"
        )
    sys.exit(0 if comparison.matches else 1)


@click.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect(session_dir: Path, as_json: bool) -> None:
    """Summarise a session folder: audio, records, events, transcript and problems.

    Example: symbl-harness inspect recordings/standup --json
    """
    from rich.console import Console

    from harness.session_folder.log import read_session
    from harness.tools.summary import summarise

    summary = summarise(read_session(session_dir))
    if as_json:
        print_json(summary)
        return
    console = Console(soft_wrap=True)
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the devices as JSON.")
def devices(as_json: bool) -> None:
    """List the audio input devices `record --mic DEVICE` can use (name or index).

    Example: symbl-harness devices --json
    """
    from harness.audio.sources import input_devices

    found = input_devices()
    if as_json:
        print_json(found)
        return
    if not found:
        raise UsageProblem("no audio input devices found")
    for device in found:
        mark = "*" if device["default"] else " "
        click.echo(
            f"{mark} {device['index']:>3}  {device['name']}  "
            f"({device['channels']} ch, {device['default_rate']} Hz)"
        )


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--mic",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DEVICE]",
    help="Capture a microphone: the default input, or a DEVICE name or index.",
)
@click.option(
    "--file",
    "wav",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Stream a WAV/FLAC file as if it were a microphone.",
)
@endpoint_options
@click.option(
    "--rate", type=click.IntRange(8000, 48000), help="Sample rate to send [file's; mic 16000]."
)
@click.option("--frame-samples", type=click.IntRange(1, 4096), default=1024, show_default=True)
@click.option(
    "--insight-types",
    default="question,action_item,follow_up",
    show_default=True,
    help="Comma-separated insight types to ask for.",
)
@click.option("--title", help="Meeting title.")
@click.option("--speaker-name", help="Speaker's name.")
@click.option("--speaker-id", help="Speaker's user id (an email).")
@click.option("--connection-id", help="Connection id [OUT_DIR's name].")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after S seconds."
)
@click.option(
    "--realtime/--as-fast-as-possible",
    default=True,
    show_default=True,
    help="Pace a file in real time, or send it as fast as the socket takes it.",
)
@stop_options("")
def record(
    out_dir: Path,
    mic: str | None,
    wav: Path | None,
    endpoint: str | None,
    use_mock: bool,
    rate: int | None,
    frame_samples: int,
    insight_types: str,
    title: str | None,
    speaker_name: str | None,
    speaker_id: str | None,
    connection_id: str | None,
    duration: float | None,
    realtime: bool,
    stop_timeout: float,
    as_json: bool,
) -> None:
    """Record a session from a microphone or a file into OUT_DIR (audio.wav, events.jsonl).

    Ctrl-C stops cleanly (a stop_request, then the final events); a second Ctrl-C aborts.
    Afterwards the conversation's messages (with sentiment), topics and insights are saved
    as OUT_DIR/conversation.json.

    \b
    Examples:
      symbl-harness record takes/standup --file fixtures/sessions/standup/audio.wav --mock
      SYMBL_APP_ID=… SYMBL_APP_SECRET=… symbl-harness record takes/live --mic --endpoint wss://host
    """
    from harness.protocol import Speaker, StartRequest
    from harness.tools.recorder import RecordTake, run_take

    if (mic is None) == (wav is None):
        raise click.UsageError("give exactly one of --mic [DEVICE] or --file WAV")
    one_endpoint(endpoint, use_mock)
    source = _source(mic, wav, rate, frame_samples)
    request = StartRequest(
        sample_rate_hertz=source.rate,
        meeting_title=title,
        insight_types=tuple(t for t in insight_types.split(",") if t),
        sentiment=True,
        speaker=Speaker(user_id=speaker_id, name=speaker_name)
        if speaker_id or speaker_name
        else None,
    )
    take = RecordTake(
        folder=out_dir,
        source=source,
        start=request,
        connection_id=connection_id or out_dir.name,
        speed=1.0 if (realtime and wav is not None) else None,
        duration_s=duration,
        stop_timeout_s=stop_timeout,
        display=display(as_json),
    )
    outcome = run_take(take, endpoint)
    click.echo(outcome.message, err=True)
    sys.exit(outcome.code)


@click.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@endpoint_options
@click.option(
    "--speed",
    default="1",
    show_default=True,
    help="1 (the recorded pace), N (N times faster) or max (as fast as the socket takes it).",
)
@out_option("the new session")
@stop_options(" after the last frame")
def replay(
    session_dir: Path,
    endpoint: str | None,
    use_mock: bool,
    speed: str,
    out: Path | None,
    stop_timeout: float,
    as_json: bool,
) -> None:
    """Replay a recorded session: its start request and audio, at its recorded pace.

    The replay is recorded as a new session folder, ready for `symbl-harness compare`.
    Against `--mock`, a session with a transcript.json is recognised by it.

    \b
    Examples:
      symbl-harness replay fixtures/sessions/standup --mock --out /tmp/standup-replay
      symbl-harness replay takes/live --endpoint wss://host --speed max
    """
    from harness.session_folder.log import TRANSCRIPT_FILE
    from harness.tools.recorder import RecordTake, run_take
    from harness.tools.replay import plan_replay
    from mock_symbl import MockConfig

    one_endpoint(endpoint, use_mock)
    pace = speed_option_value(speed)
    plan = plan_replay(session_dir)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    folder = out or new_folder("symbl-replay-") / session_dir.name
    transcript = session_dir / TRANSCRIPT_FILE
    mock = MockConfig(transcripts=(transcript,) if transcript.is_file() else ())
    take = RecordTake.replaying(plan, folder, pace, display(as_json), stop_timeout)
    outcome = run_take(take, endpoint, mock)
    click.echo(outcome.message, err=True)
    sys.exit(outcome.code)


def _source(mic: str | None, wav: Path | None, rate: int | None, frame_samples: int) -> Source:
    """The file, or the microphone named by index or name (the default one when empty)."""
    from harness.audio.sources import FileSource, MicSource

    if wav is not None:
        return FileSource(wav, rate, frame_samples)
    device: str | int | None = None if not mic else int(mic) if mic.isdigit() else mic
    return MicSource(device, rate or 16000, frame_samples)

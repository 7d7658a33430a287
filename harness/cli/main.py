"""The `symbl-harness` command line: thin wrappers that parse options and call the modules."""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness import __version__
from harness.audio.audit import ConversionAudit, audit_seed_conversion
from harness.audio.pcm import int16_to_float32, level
from harness.audio.sources import AudioSourceError, FileSource, MicSource, input_devices
from harness.cli.bench import bench
from harness.cli.clients import browser, check
from harness.cli.options import (
    UsageProblem,
    display,
    endpoint_options,
    fault_option,
    one_endpoint,
    out_option,
    print_json,
    speed_option_value,
)
from harness.client.auth import AuthError, http_base
from harness.modes import Display
from harness.protocol import Speaker, StartRequest, StartRequestError
from harness.serve import RunningServer, serve
from harness.session_folder.log import TRANSCRIPT_FILE, SessionLogError, read_session
from harness.session_folder.transcript import TranscriptError, read_transcript
from harness.session_folder.wavfile import WavError, read_pcm16
from harness.tools.compare import Comparison, Tolerances
from harness.tools.compare import compare as compare_sessions
from harness.tools.latency import finalisation_latency_ms, percentiles
from harness.tools.proxy import create_proxy
from harness.tools.recorder import RecordTake, Source, run_take
from harness.tools.replay import ReplayError, plan_replay
from harness.tools.summary import summarise
from harness.tools.targets import BUNDLED_SESSIONS as FIXTURES
from mock_symbl.engines.select import ENGINES
from mock_symbl.session.faults import Faults
from mock_symbl.web.app import MockConfig
from mock_symbl.web.server import running_mock, serve_mock


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symbl-harness")
def main() -> None:
    """Record, replay, compare and benchmark Symbl streaming sessions, offline."""


@main.command("seed-audit")
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
def seed_audit(fixture: str, gain_db: float, frame_samples: int, as_json: bool) -> None:
    """Show, measured on a bundled recording, what the seed tutorial's audio loop does.

    The tutorial converts each Float32 frame to Int16 with a loop that never writes
    sample 0 and does not clamp below -1, so loud negative peaks wrap to positive.

    Example: symbl-harness seed-audit --fixture standup --gain-db 9
    """
    folder = _fixture(fixture)
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
        print_json(figures)
        return
    _show_audit(figures, audit, transcript.text)


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f} dB"


def _show_audit(figures: dict[str, Any], audit: ConversionAudit, text: str) -> None:
    console = Console(soft_wrap=True)
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
@click.option(
    "--fixture",
    default="standup",
    show_default=True,
    help="Bundled reference session to replay (a name under fixtures/sessions), or a folder.",
)
@out_option("the new session")
@click.option("--speed", default="1", show_default=True, help="1, a factor N, or max.")
def demo(fixture: str, out: Path | None, speed: str) -> None:
    """Replay a bundled session through the bundled mock and check it against its baseline.

    Shows live captions, insights and each message's sentiment as the mock answers, writes
    the new session folder, compares it with the fixture's, and sums up with latency
    figures. Needs no network.

    Example: symbl-harness demo --fixture feedback
    """
    folder = _fixture(fixture)
    pace = speed_option_value(speed)
    try:
        plan = plan_replay(folder)
        transcript = read_transcript(folder / TRANSCRIPT_FILE)
    except (ReplayError, TranscriptError) as error:
        raise UsageProblem(str(error)) from None
    target = out or Path(tempfile.mkdtemp(prefix="symbl-demo-")) / folder.name
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
    replayed = read_session(target)
    comparison = compare_sessions(read_session(folder), replayed, Tolerances())
    _show_comparison(comparison, folder, target)
    latency = percentiles(finalisation_latency_ms(replayed, transcript))
    if latency and pace is not None:
        click.echo(
            f"finalisation latency (message after the phrase's last word was sent): "
            f"p50 {latency['p50']:.0f} ms, max {latency['max']:.0f} ms over {latency['n']:.0f} "
            "messages; the mock ends a phrase after 600 ms of silence"
        )
    sys.exit(0 if comparison.matches else 1)


def _fixture(name: str) -> Path:
    """A bundled fixture by name, or any folder."""
    folder = Path(name) if Path(name).is_dir() else FIXTURES / name
    if not folder.is_dir():
        known = ", ".join(sorted(p.name for p in FIXTURES.iterdir())) if FIXTURES.is_dir() else ""
        hint = f"bundled: {known}" if known else "install from a source checkout: pip install -e ."
        raise UsageProblem(f"no fixture or folder named {name!r} ({hint})")
    return folder


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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the devices as JSON.")
def devices(as_json: bool) -> None:
    """List the audio input devices `record --mic DEVICE` can use (name or index).

    Example: symbl-harness devices --json
    """
    try:
        found = input_devices()
    except AudioSourceError as error:
        raise UsageProblem(str(error)) from None
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


@main.command()
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
@click.option(
    "--stop-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the final events.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout.")
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
    if (mic is None) == (wav is None):
        raise click.UsageError("give exactly one of --mic [DEVICE] or --file WAV")
    one_endpoint(endpoint, use_mock)
    try:
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
    except (AudioSourceError, StartRequestError) as error:
        raise UsageProblem(str(error)) from None
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


@main.command()
@click.option("--upstream", help="The endpoint to forward to (ws://, wss://, http(s)://).")
@click.option("--mock", "use_mock", is_flag=True, help="Forward to the bundled mock, in-process.")
@click.option(
    "--listen",
    default="127.0.0.1:8081",
    show_default=True,
    help="Address and port the clients connect to.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the recorded sessions (one subfolder per streaming connection).",
)
def proxy(upstream: str | None, use_mock: bool, listen: str, out: Path) -> None:
    """Record any client's sessions: it talks to the proxy as it would to the endpoint.

    Streaming connections are forwarded unchanged in both directions and written to
    OUT/<connection id>/; REST calls about a recorded conversation go to its rest.jsonl.

    \b
    Example:
      symbl-harness proxy --mock --listen 127.0.0.1:8081 --out recordings
      # then point the client at ws://127.0.0.1:8081 instead of wss://api.symbl.ai
    """
    if bool(upstream) == use_mock:
        raise click.UsageError("give exactly one of --upstream URL or --mock")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {listen!r}", param_hint="--listen")
    with contextlib.ExitStack() as stack:
        if use_mock:
            upstream = stack.enter_context(running_mock(MockConfig())).base_url
        assert upstream is not None
        try:
            http_base(upstream)
        except AuthError as error:
            raise UsageProblem(str(error)) from None
        out.mkdir(parents=True, exist_ok=True)

        def announce(running: RunningServer) -> None:
            click.echo(f"REST       {running.base_url} -> {upstream}")
            click.echo(f"streaming  {running.ws_url}/v1/streaming/{{connectionId}}")
            click.echo(f"recording  into {out}", err=True)

        try:
            stopped_by = serve(create_proxy(upstream, out), host.strip("[]"), int(port), announce)
        except OSError as error:
            raise UsageProblem(f"cannot listen on {listen}: {error.strerror}") from None
        click.echo(f"stopped by {stopped_by or 'shutdown'}; sessions are in {out}", err=True)


@main.command()
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="NAME=VALUE",
    help="Loosen or tighten one tolerance: "
    + ", ".join(f"{f.name} [{f.default}]" for f in fields(Tolerances)),
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(baseline: Path, candidate: Path, tolerances: tuple[str, ...], as_json: bool) -> None:
    """Compare two sessions by meaning: exit 0 within tolerances, 1 if not, 2 on bad input.

    \b
    Example:
      symbl-harness compare fixtures/sessions/standup /tmp/standup-replay --tolerance wer=0.1
    """
    try:
        limits = Tolerances.parse(list(tolerances))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--tolerance") from None
    try:
        outcome = compare_sessions(read_session(baseline), read_session(candidate), limits)
    except SessionLogError as error:
        raise UsageProblem(str(error)) from None
    if as_json:
        print_json(outcome.to_json())
    else:
        _show_comparison(outcome, baseline, candidate)
    sys.exit(0 if outcome.matches else 1)


def _show_comparison(outcome: Comparison, baseline: Path, candidate: Path) -> None:
    console = Console(soft_wrap=True)
    verdict = "[green]matches[/]" if outcome.matches else "[red]differs from[/]"
    console.print(f"{candidate} {verdict} {baseline}")
    figures = outcome.figures
    console.print(
        f"word error rate {figures['wer']:.3f}; messages {figures['messages']['baseline']} -> "
        f"{figures['messages']['candidate']}; insights {figures['insights']['baseline']} -> "
        f"{figures['insights']['candidate']}; topics {figures['topics']['baseline']} -> "
        f"{figures['topics']['candidate']}; sentiment flips {figures['sentiment_flips']}"
    )
    if "timing_ms" in figures:
        timing = figures["timing_ms"]
        console.print(
            f"message timing vs baseline: mean {timing['mean']:+.0f} ms, "
            f"from {timing['earliest']:+.0f} to {timing['latest']:+.0f} ms"
        )
    for difference in outcome.differences:
        style = "yellow" if difference.within else "red"
        within = " (within tolerance)" if difference.within else ""
        console.print(f"[{style}]{difference.aspect:<10}[/] {difference.detail}{within}")
    for note in outcome.notes:
        console.print(f"[dim]note: {note}[/]")


@main.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@endpoint_options
@click.option(
    "--speed",
    default="1",
    show_default=True,
    help="1 (the recorded pace), N (N times faster) or max (as fast as the socket takes it).",
)
@out_option("the new session")
@click.option(
    "--stop-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the final events after the last frame.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout.")
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
    one_endpoint(endpoint, use_mock)
    pace = speed_option_value(speed)
    try:
        plan = plan_replay(session_dir)
    except ReplayError as error:
        raise UsageProblem(str(error)) from None
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    folder = out or Path(tempfile.mkdtemp(prefix="symbl-replay-")) / session_dir.name
    transcript = session_dir / TRANSCRIPT_FILE
    mock = MockConfig(transcripts=(transcript,) if transcript.is_file() else ())
    take = RecordTake.replaying(plan, folder, pace, display(as_json), stop_timeout)
    outcome = run_take(take, endpoint, mock)
    click.echo(outcome.message, err=True)
    sys.exit(outcome.code)


def _source(mic: str | None, wav: Path | None, rate: int | None, frame_samples: int) -> Source:
    if wav is not None:
        return FileSource(wav, rate, frame_samples)
    device: str | int | None = None if not mic else int(mic) if mic.isdigit() else mic
    return MicSource(device, rate or 16000, frame_samples)


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
@click.option(
    "--stamp-send-times",
    is_flag=True,
    help="Add x_mock_sent_ns (monotonic send time) to every JSON frame, to measure measurers.",
)
@fault_option("--fault", "inject this fault in every session (the control route can change it)")
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
    stamp_send_times: bool,
    faults: Faults,
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
            stamp_send_times=stamp_send_times,
            faults=faults,
        )

        def announce(running: RunningServer) -> None:
            click.echo(f"REST       {running.base_url}")
            click.echo(f"streaming  {running.ws_url}/v1/streaming/{{connectionId}}")
            click.echo(f"engine     {engine}; database {db or 'in memory'}", err=True)

        stopped_by = serve_mock(config, host, port, announce)
        click.echo(f"stopped by {stopped_by or 'shutdown'}; open sessions were stored", err=True)
    except (OSError, ValueError, TranscriptError) as error:
        raise UsageProblem(str(error)) from None


main.add_command(check)
main.add_command(browser)
main.add_command(bench)


if __name__ == "__main__":
    sys.exit(main())

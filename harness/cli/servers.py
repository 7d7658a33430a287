"""The servers: the bundled `mock`, and the recording `proxy` in front of any endpoint."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import fault_option, out_option, writable_folder
from mock_symbl import Engine, OnMiss

if TYPE_CHECKING:
    from harness.serve import RunningServer
    from mock_symbl import Faults


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file.")
@click.option(
    "--engine",
    type=click.Choice([engine.value for engine in Engine]),
    default=Engine.AUTO.value,
    show_default=True,
    help="Recognition engine (auto: a recording the audio matches, a transcript named by the "
    "connection id, else whisper with the `whisper` extra installed, or asr).",
)
@click.option(
    "--recordings",
    "--cassette",
    "recordings",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A recorded session folder, or a folder of them, to answer the clients whose audio "
    "matches (or whose connection id names one). Repeatable.",
)
@click.option(
    "--on-miss",
    type=click.Choice([policy.value for policy in OnMiss]),
    default=OnMiss.ERROR.value,
    show_default=True,
    help="Audio that matches no recording: error (tell the client the closest), engines "
    "(answer with asr, or --upstream), record (answer so and save it as a new recording).",
)
@click.option(
    "--upstream",
    metavar="URL",
    help="Answer misses from this Symbl-compatible endpoint instead of asr (with --on-miss "
    "engines or record); credentials from SYMBL_ACCESS_TOKEN, or SYMBL_APP_ID and "
    "SYMBL_APP_SECRET.",
)
@click.option(
    "--record-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --on-miss record saves new recordings (also loaded as recordings).",
)
@click.option(
    "--record-expires-in",
    type=click.FloatRange(0, min_open=True),
    metavar="DAYS",
    help="New recordings say they expire this many days after they were made.",
)
@click.option(
    "--transcript",
    "transcripts",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A transcript.json (or a folder holding one) for the transcript engine.",
)
@click.option(
    "--whisper-model",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="A CTranslate2 Whisper model folder for the whisper engine, instead of the one the "
    "`whisper` extra installs (whose hash is checked; a folder of your own is not).",
)
@click.option(
    "--phone",
    "phones",
    multiple=True,
    metavar="NUMBER=FOLDER",
    help="Telephony: calls to NUMBER (a phone number, or a SIP URI's user part) are answered "
    "by the recording in FOLDER. Without one, a number names a recording or transcript folder.",
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
@click.option(
    "--max-lag",
    type=click.FloatRange(0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds recognition may fall behind a client's audio before it skims (lets audio "
    "pass unrecognised) to catch up; from 2 s behind it drops partials and decodes cheaply.",
)
@click.option(
    "--stop-within",
    type=click.FloatRange(0, min_open=True),
    default=15.0,
    show_default=True,
    help="Seconds a stop request waits for recognition of the audio before it; the rest is "
    "skimmed.",
)
@click.option(
    "--patient",
    is_flag=True,
    help="Recognise every frame fully however late (the same words on any machine; no bound "
    "on a stop's wait or on memory).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=1 << 20,
    show_default=True,
    help="Largest request body; a larger one gets 413.",
)
@click.option(
    "--token-failures",
    type=click.IntRange(0),
    default=30,
    show_default=True,
    help="Failed token requests per minute per address and per appId before 429 (0: any).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a complete request head.",
)
@click.option(
    "--max-id-length",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Longest streaming connection id; a longer one is refused (400).",
)
@click.option(
    "--open-control",
    is_flag=True,
    help="Serve /v1/mock/* without a token, for every app at once (local use only).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No line per connection (the access log a terminal shows, warnings about one "
    "connection): the addresses and errors only.",
)
@fault_option("--fault", "inject this fault in every session (the control route can change it)")
def mock(
    host: str,
    port: int,
    db: Path | None,
    engine: str,
    recordings: tuple[Path, ...],
    on_miss: str,
    upstream: str | None,
    record_to: Path | None,
    record_expires_in: float | None,
    transcripts: tuple[Path, ...],
    whisper_model: Path | None,
    phones: tuple[str, ...],
    apps: tuple[str, ...],
    seed: int | None,
    rate_limit: int | None,
    max_streams: int | None,
    stamp_send_times: bool,
    max_lag: float,
    stop_within: float,
    patient: bool,
    max_body_bytes: int,
    token_failures: int,
    header_timeout: float,
    max_id_length: int,
    open_control: bool,
    faults: Faults,
    quiet: bool,
) -> None:
    """Run the bundled Symbl-compatible server in the foreground (Ctrl-C stops it).

    Example: symbl-harness mock --recordings tests/recordings --on-miss record --record-to
    tests/recordings
    """
    from harness.session_folder.redact import without_userinfo
    from mock_symbl import Answers, Backlog, MockConfig, serve_mock

    if on_miss == OnMiss.RECORD and record_to is None:
        raise click.UsageError("--on-miss record needs --record-to DIR (where to save misses)")
    upstream_token = None
    if upstream is not None:
        if on_miss == OnMiss.ERROR:
            raise click.UsageError("--upstream answers misses: add --on-miss engines or record")
        from harness.client.auth import TokenSource, http_base

        upstream_token = TokenSource(upstream).token
        # Only the endpoint's address is shown: a URL may carry a query with a secret.
        upstream = http_base(upstream)
    if record_to is not None:
        recordings = (*recordings, writable_folder(record_to))
    pairs = dict(_app_pair(value) for value in apps)
    config = MockConfig(
        db=db,
        engine=engine,
        recordings=recordings,
        answers=Answers(
            on_miss,
            record_to,
            record_expires_in,
            upstream=upstream,
            upstream_token=upstream_token,
        ),
        transcripts=transcripts,
        whisper_model=whisper_model,
        phones=dict(_phone(value) for value in phones),
        apps=pairs or None,
        seed=seed,
        requests_per_minute=rate_limit,
        max_streams=max_streams,
        stamp_send_times=stamp_send_times,
        backlog=Backlog.patient()
        if patient
        else Backlog(max_lag_s=max_lag, stop_within_s=stop_within),
        faults=faults,
        max_body_bytes=max_body_bytes,
        token_failures_per_minute=token_failures or None,
        header_timeout_s=header_timeout,
        max_connection_id_chars=max_id_length,
        open_control=open_control,
    )

    def announce(running: RunningServer) -> None:
        click.echo(f"REST       {running.base_url}")
        click.echo(f"streaming  {running.ws_url}/v1/streaming/{{connectionId}}")
        click.echo(f"engine     {engine}; database {db or 'in memory'}", err=True)
        if upstream is not None:
            click.echo(f"misses     answered by {without_userinfo(upstream)}", err=True)

    stopped_by = serve_mock(config, host, port, announce, quiet, _access_log(quiet))
    click.echo(f"stopped by {stopped_by or 'shutdown'}; open sessions were stored", err=True)


@click.command()
@click.option("--upstream", help="The endpoint to forward to (ws://, wss://, http(s)://).")
@click.option("--mock", "use_mock", is_flag=True, help="Forward to the bundled mock, in-process.")
@click.option(
    "--listen",
    default="127.0.0.1:8081",
    show_default=True,
    help="Address and port the clients connect to.",
)
@out_option("the recorded sessions (one subfolder per streaming connection)", required=True)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No line per connection (the access log a terminal shows, warnings about one "
    "connection): the addresses and errors only.",
)
def proxy(upstream: str | None, use_mock: bool, listen: str, out: Path, quiet: bool) -> None:
    """Record any client's sessions: it talks to the proxy as it would to the endpoint.

    Streaming connections are forwarded unchanged in both directions and written to
    OUT/<connection id>/; REST calls about a recorded conversation go to its rest.jsonl.

    \b
    Example:
      symbl-harness proxy --mock --listen 127.0.0.1:8081 --out recordings
      # then point the client at ws://127.0.0.1:8081 instead of wss://api.symbl.ai
    """
    from harness.access_log import logged
    from harness.client.auth import http_base
    from harness.serve import serve
    from harness.tools.proxy import create_proxy
    from harness.tools.targets import bundled_mock

    if bool(upstream) == use_mock:
        raise click.UsageError("give exactly one of --upstream URL or --mock")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {listen!r}", param_hint="--listen")
    with contextlib.ExitStack() as stack:
        if use_mock:
            upstream = stack.enter_context(bundled_mock()).endpoint
        assert upstream is not None
        http_base(upstream)

        def announce(running: RunningServer) -> None:
            click.echo(f"REST       {running.base_url} -> {upstream}")
            click.echo(f"streaming  {running.ws_url}/v1/streaming/{{connectionId}}")
            click.echo(f"recording  into {out}", err=True)

        proxy_app = create_proxy(upstream, out, _ignore) if quiet else create_proxy(upstream, out)
        app = logged(proxy_app, _access_log(quiet))
        stopped_by = serve(app, host.strip("[]"), int(port), announce, quiet=quiet)
        click.echo(f"stopped by {stopped_by or 'shutdown'}; sessions are in {out}", err=True)


def _access_log(quiet: bool) -> Callable[[str], None] | None:
    """Where the line per connection goes: stderr when a person watches it, unless --quiet."""
    return None if quiet or not sys.stderr.isatty() else _to_stderr


def _to_stderr(line: str) -> None:
    click.echo(line, err=True)


def _ignore(_: str) -> None:
    """No line about one proxied connection (`--quiet`)."""


def _app_pair(value: str) -> tuple[str, str]:
    """`--app ID:SECRET` as a pair."""
    app_id, sep, secret = value.partition(":")
    if not sep or not app_id or not secret:
        raise click.BadParameter(f"expected ID:SECRET, got {value!r}")
    return app_id, secret


def _phone(value: str) -> tuple[str, Path]:
    """`--phone NUMBER=FOLDER` as a pair; the folder must hold the recording's audio.wav."""
    number, sep, folder = value.partition("=")
    number = number.strip().lstrip("+")
    if not sep or not number or not folder:
        raise click.BadParameter(f"expected NUMBER=FOLDER, got {value!r}", param_hint="--phone")
    path = Path(folder)
    if not (path / "audio.wav").is_file():
        raise click.BadParameter(
            f"{folder} holds no audio.wav to answer calls with", param_hint="--phone"
        )
    return number, path.resolve()

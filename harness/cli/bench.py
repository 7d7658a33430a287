"""The `bench` command: latency per concurrency level, a capacity ramp, plots."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.options import (
    endpoint_options,
    fault_option,
    new_folder,
    one_endpoint,
    out_option,
    print_json,
    speed_option_value,
)

if TYPE_CHECKING:
    from mock_symbl import Faults


@click.command()
@click.argument("sessions", nargs=-1, required=True, type=click.Path(path_type=Path))
@endpoint_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Sessions at once; levels 1 and N are both run, to show how latency grows.",
)
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--speed", default="1", show_default=True, help="1 (real time), N, or max.")
@out_option("the replays, bench.json and the plots")
@click.option(
    "--ramp",
    is_flag=True,
    help="Double the concurrency from --concurrency until a --bound or an error breaks; "
    "report the capacity.",
)
@click.option(
    "--ramp-max", type=click.IntRange(1), default=1024, show_default=True, help="Stop there."
)
@click.option(
    "--bound",
    "bounds",
    multiple=True,
    metavar="METRIC:Q=MS",
    help="A ramp's latency bound [word_emission:p99=1000]; repeatable.",
)
@fault_option("--mock-fault", "with --mock: inject this fault in every session")
@click.option("--json", "as_json", is_flag=True, help="Print bench.json to stdout.")
def bench(
    sessions: tuple[Path, ...],
    endpoint: str | None,
    use_mock: bool,
    concurrency: int,
    repeat: int,
    speed: str,
    ramp: bool,
    ramp_max: int,
    bounds: tuple[str, ...],
    faults: Faults,
    out: Path | None,
    as_json: bool,
) -> None:
    """Measure streaming latency by replaying sessions: first partial, word emission,
    finalisation, insight and topic latency, stability, set-up; with the machine's floor.

    \b
    Example:
      symbl-harness bench fixtures/sessions/standup --mock --concurrency 4
      symbl-harness bench fixtures/sessions/hot --mock --ramp --bound finalisation:p99=900
      symbl-harness bench fixtures/sessions/hot --mock --mock-fault delay_ms=200
    """
    from harness.session_folder.log import TRANSCRIPT_FILE
    from harness.session_folder.transcript import read_transcript
    from harness.tools.bench import DEFAULT_BOUND, Bound, Load, Ramp, run_benchmark
    from harness.tools.bench_plots import latency_cdfs, timeline
    from harness.tools.replay import plan_replay
    from mock_symbl import MockConfig

    one_endpoint(endpoint, use_mock)
    if faults.active and not use_mock:
        raise click.UsageError("--mock-fault needs --mock (an endpoint chooses its own faults)")
    pace = speed_option_value(speed)
    try:
        levels: list[int] | Ramp = (
            Ramp(concurrency, ramp_max, tuple(Bound.parse(b) for b in bounds) or (DEFAULT_BOUND,))
            if ramp
            else sorted({1, concurrency})
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--bound") from None
    folder = out or new_folder("symbl-bench-")
    for session in sessions:
        plan_replay(session)
    report = run_benchmark(
        list(sessions),
        Load(levels, repeat, pace),
        endpoint=endpoint,
        out=folder,
        mock=MockConfig(faults=faults),
    )
    summary = report.to_json()
    (folder / "bench.json").write_text(json.dumps(summary, indent=1) + "\n")
    plots = [latency_cdfs(report, folder / "latency-cdf.png")]
    first = next((r for r in report.runs if r.metrics is not None), None)
    if first is not None:
        transcript = read_transcript(first.source / TRANSCRIPT_FILE)
        plots.append(timeline(first.folder, transcript, folder / "timeline.png"))
    if as_json:
        print_json(summary)
    else:
        _show_bench(summary)
    click.echo(f"bench.json and {', '.join(p.name for p in plots)} in {folder}", err=True)
    failed = [error for level in summary["levels"].values() for error in level["errors"]]
    # A ramp is meant to break: its errors are its finding, not a failure of the run.
    if failed and not ramp:
        runs = sum(level["sessions"] for level in summary["levels"].values())
        click.echo(
            f"error: {len(failed)} of {runs} sessions failed; the first: {failed[0]}", err=True
        )
        sys.exit(1)


def _show_bench(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.tools.bench import METRICS

    console = Console(soft_wrap=True)
    floor = summary["floor"]
    rtt = floor["loopback_round_trip_ms"]
    pacing = floor.get("pacing_lateness_ms") or {}
    console.print(
        f"floor: loopback round trip p50 {rtt['p50']:.3f} ms, p99 {rtt['p99']:.3f} ms; "
        f"pacing lateness p99 {pacing.get('p99', 0):.3f} ms"
    )
    if summary["label"]:
        console.print(f"[yellow]{summary['label']}[/]")
    table = Table(title="latency (ms)", title_justify="left")
    for column in ("metric", "at once", "n", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for at_once, figures in summary["levels"].items():
        for name in METRICS:
            f = figures[name]
            if f:
                table.add_row(
                    name.removesuffix("_ms"),
                    at_once,
                    f"{f['n']:.0f}",
                    *(f"{f[q]:.1f}" for q in ("p50", "p90", "p99", "max")),
                )
    console.print(table)
    capacity = summary.get("capacity")
    if capacity is not None:
        held = capacity["held"]
        said = (
            f"capacity: {held} sessions at once" if held else "capacity: not even the first level"
        )
        if capacity["broke_at"]:
            said += f"; {capacity['broke_at']} broke it ({capacity['why']})"
        else:
            said += " (no level broke a bound; raise --ramp-max)"
        console.print(said)

"""The `bench` command: latency per concurrency level, a capacity ramp, plots."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.options import (
    UsageProblem,
    endpoint_options,
    fault_option,
    new_folder,
    one_endpoint,
    out_option,
    print_json,
    speed_option_value,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from mock_symbl import Faults


def _share(_: click.Context, __: click.Parameter, value: str) -> float:
    """`--floor-share`: a finite fraction above 0 and at most 1."""
    try:
        share = float(value)
    except ValueError:
        share = math.nan
    if not (math.isfinite(share) and 0 < share <= 1):
        raise UsageProblem(
            f"--floor-share needs a finite number above 0 and at most 1, got {value!r}"
        )
    return share


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
@click.option(
    "--floor-share",
    default="0.1",
    show_default=True,
    metavar="FRACTION",
    callback=_share,
    help="Warn that the figures cannot be trusted when the machine's floor (p99) is over "
    "this share of the lowest finalisation p50.",
)
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
    floor_share: float,
    out: Path | None,
    as_json: bool,
) -> None:
    """Measure streaming latency by replaying sessions: first partial, word emission,
    finalisation, insight and topic latency, stability (flicker, revisions per word),
    set-up and tear-down; with the machine's floor, and a warning when the floor is too
    close to the figures to trust them. On a terminal, progress is shown on stderr.

    \b
    Example:
      symbl-harness bench fixtures/sessions/standup --mock --concurrency 4
      symbl-harness bench fixtures/sessions/hot --mock --ramp --bound finalisation:p99=900
      symbl-harness bench fixtures/sessions/hot --mock --mock-fault delay_ms=200
    """
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
    with _progress() as progress:
        report = run_benchmark(
            list(sessions),
            Load(levels, repeat, pace),
            endpoint=endpoint,
            out=folder,
            mock=MockConfig(faults=faults),
            progress=progress,
        )
        progress.plotting()
        summary = report.to_json(floor_share)
        (folder / "bench.json").write_text(json.dumps(summary, indent=1) + "\n")
        plots = [
            latency_cdfs(report, folder / "latency-cdf.png"),
            timeline(report, folder / "timeline.png"),
        ]
    if as_json:
        print_json(summary)
    else:
        _show_bench(summary)
    # The table ends with the warning: said again on stderr unless stderr shows that table.
    if summary["warning"] and (as_json or not _same_file(sys.stdout, sys.stderr)):
        click.echo(f"warning: {summary['warning']}", err=True)
    click.echo(f"bench.json and {', '.join(p.name for p in plots)} in {folder}", err=True)
    failed = [error for level in summary["levels"].values() for error in level["errors"]]
    # A ramp is meant to break: its errors are its finding, not a failure of the run.
    if failed and not ramp:
        runs = sum(level["sessions"] for level in summary["levels"].values())
        click.echo(
            f"error: {len(failed)} of {runs} sessions failed; the first: {failed[0]}", err=True
        )
        sys.exit(1)


def _same_file(one: Any, other: Any) -> bool:
    """Whether two streams write to one file (a terminal, or `2>&1`)."""
    try:
        return os.path.samestat(os.fstat(one.fileno()), os.fstat(other.fileno()))
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _progress() -> Iterator[_Progress]:
    """Progress on stderr while a terminal watches it, erased when done; silent otherwise."""
    from rich.console import Console

    console = Console(stderr=True)
    display = _Progress(console if console.is_terminal else None)
    try:
        yield display
    finally:
        display.stop()


class _Progress:
    """A `BenchProgress` drawn with rich: a line for the level (replays done of all), one per
    replay running, each with its time so far."""

    def __init__(self, console: Console | None) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if console is not None
            else None
        )
        self.task: TaskID | None = None
        self.replays: dict[str, TaskID] = {}
        self.done = self.total = self.at_once = 0
        if self.bar is not None:
            self.bar.start()

    def _show(self, description: str) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(description)
        else:
            self.bar.update(self.task, description=description)
        self.bar.refresh()

    def _count(self) -> None:
        self._show(f"level {self.at_once} at once: {self.done} of {self.total} replays done")

    def floor(self) -> None:
        self._show("measuring the floor (loopback round trip)")

    def level(self, level: int, replays: int) -> None:
        self.at_once, self.done, self.total = level, 0, replays
        self._count()

    def started(self, name: str) -> None:
        if self.bar is not None:
            self.replays[name] = self.bar.add_task(f"  replaying {name}")
            self.bar.refresh()

    def finished(self, name: str, error: str | None) -> None:
        if self.bar is None:
            return
        self.bar.remove_task(self.replays.pop(name))
        self.done += 1
        if error:
            self.bar.console.print(f"{name}: {error}")
        self._count()

    def plotting(self) -> None:
        self._show("writing bench.json and the plots")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _figures(f: dict[str, float]) -> list[str]:
    """A row's count and percentiles."""
    from harness.tools.bench import milliseconds

    return [f"{f['n']:.0f}", *(milliseconds(f[q]) for q in ("p50", "p90", "p99", "max"))]


def _show_bench(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.tools.bench import FLOOR_PARTS, LIFECYCLE, METRICS, milliseconds

    console = Console(soft_wrap=True)
    if summary["label"]:
        console.print(f"[yellow]{summary['label']}[/]")
    table = Table(title="latency (ms)", title_justify="left")
    for column in ("metric", "at once", "n", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for at_once, figures in summary["levels"].items():
        for name in (*METRICS, *LIFECYCLE):
            if f := figures[name]:
                table.add_row(name.removesuffix("_ms"), at_once, *_figures(f))
    if table.row_count:
        console.print(table)
    else:
        console.print("latency: no session completed, no figures")
    floor = summary["floor_p99"]
    if floor is not None:
        parts = Table(
            title=f"floor: {floor['of']} p99 {milliseconds(floor['ms'])} ms",
            title_justify="left",
        )
        for column in ("part", "n", "p50", "p90", "p99", "max"):
            parts.add_column(column, justify="left" if column == "part" else "right")
        for name, what in FLOOR_PARTS.items():
            if f := summary["floor"].get(name):
                parts.add_row(what, *_figures(f))
        console.print(parts)
    stability = Table(title="stability of the partials", title_justify="left")
    columns = {
        "at once": None,
        "phrases": "phrases",
        "flicker": "flicker",
        "flicker / phrase": "flicker_per_phrase",
        "final words": "words",
        "revisions / word": "revisions_per_word",
        "words revised": "changed_word_share",
    }
    for column in columns:
        stability.add_column(column, justify="right")
    for at_once, figures in summary["levels"].items():
        s = figures["stability"]
        if s["phrases"]:
            stability.add_row(at_once, *(f"{s[key]:g}" for key in list(columns.values())[1:]))
    if stability.row_count:
        console.print(stability)
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
    if summary["warning"]:
        console.print(f"[yellow]warning: {summary['warning']}[/]")

"""The `report` command: one HTML page a person opens to see a session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.compare import TOLERANCES
from harness.cli.options import UsageProblem, tolerance_option

if TYPE_CHECKING:
    from harness.tools.compare import Tolerances


@click.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.option(
    "--vs",
    "baseline",
    type=click.Path(path_type=Path),
    help="A baseline session to compare with: adds the semantic diff (as `compare` gives it).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write [SESSION_DIR/report.html].",
)
@tolerance_option(TOLERANCES, " of the comparison with --vs")
def report(
    session_dir: Path, baseline: Path | None, out: Path | None, tolerances: Tolerances
) -> None:
    """Write one self-contained HTML page about a session and print its path.

    The page shows the audio's waveform with, on one time axis, the phrases, partials and
    finals (with their sentiment and latency), insights, topics and tracker hits where they
    arrived (a replay's latency from the transcript of the session it replayed); the
    client's conformance findings with their evidence; and, with --vs, the differences from
    a baseline, judged within the tolerances as `compare` judges it (each tolerance is shown
    with its figure). It loads nothing from anywhere: open it offline, attach it to a ticket.

    \b
    Examples:
      symbl-harness report fixtures/sessions/standup --vs /tmp/standup-replay --out r.html
      symbl-harness report /tmp/standup-replay --vs fixtures/sessions/standup --tolerance wer=0.1
    """
    from harness.tools.report_html import write_report

    given = click.get_current_context().get_parameter_source("tolerances")
    if baseline is None and given is not click.core.ParameterSource.DEFAULT:
        raise UsageProblem("--tolerance judges a comparison: give --vs BASELINE too")
    click.echo(str(write_report(session_dir, baseline, out, tolerances)))

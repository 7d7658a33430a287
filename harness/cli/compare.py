"""The `compare` command: two sessions by meaning, within tolerances."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import print_json, tolerance_option

if TYPE_CHECKING:
    from harness.tools.compare import Comparison, Tolerances

# harness.tools.compare.Tolerances and its defaults, spelled out so that `--help` need not
# import the comparison; tests/cli holds the two together.
TOLERANCES = (
    "wer [0.0], timing_ms [500.0], insight_similarity [0.8], missing_insights [0], "
    "extra_insights [0], missing_topics [0], sentiment_flips [0]"
)


@click.command()
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("candidate", type=click.Path(path_type=Path))
@tolerance_option(TOLERANCES)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(baseline: Path, candidate: Path, tolerances: Tolerances, as_json: bool) -> None:
    """Compare two sessions by meaning: exit 0 within tolerances, 1 if not, 2 on bad input.

    The word error rate is given on the transcripts as written (raw) and normalised (case,
    punctuation, contractions and numbers folded to one form: "It's 2:30" reads as "it is two
    thirty"); the `wer` tolerance, and the JSON's `figures.wer`, are the normalised one, as
    speech benchmarks report; `figures.wer_raw` is the other.

    \b
    Example:
      symbl-harness compare fixtures/sessions/standup /tmp/standup-replay --tolerance wer=0.1
    """
    from harness.session_folder.log import read_session
    from harness.tools.compare import compare as compare_sessions

    outcome = compare_sessions(read_session(baseline), read_session(candidate), tolerances)
    if as_json:
        print_json(outcome.to_json())
    else:
        show_comparison(outcome, baseline, candidate)
    sys.exit(0 if outcome.matches else 1)


def show_comparison(outcome: Comparison, baseline: Path, candidate: Path) -> None:
    """A comparison for people: the verdict, the headline figures, then each difference."""
    from rich.console import Console

    console = Console(soft_wrap=True)
    verdict = "[green]matches[/]" if outcome.matches else "[red]differs from[/]"
    console.print(f"{candidate} {verdict} {baseline}")
    figures = outcome.figures
    console.print(
        f"word error rate {figures['wer']:.3f} normalised, {figures['wer_raw']:.3f} raw; "
        f"messages {figures['messages']['baseline']} -> {figures['messages']['candidate']}; "
        f"insights {figures['insights']['baseline']} -> "
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

"""The `report` command: one HTML page a person opens to see a session."""

from __future__ import annotations

from pathlib import Path

import click


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
def report(session_dir: Path, baseline: Path | None, out: Path | None) -> None:
    """Write one self-contained HTML page about a session and print its path.

    The page shows the audio's waveform with, on one time axis, the phrases, partials and
    finals (with their sentiment and latency), insights and topics where they arrived; the
    client's conformance findings with their evidence; and, with --vs, the differences from
    a baseline. It loads nothing from anywhere: open it offline, attach it to a ticket.

    \b
    Example:
      symbl-harness report fixtures/sessions/standup --vs /tmp/standup-replay --out r.html
    """
    from harness.tools.report_html import write_report

    click.echo(str(write_report(session_dir, baseline, out)))

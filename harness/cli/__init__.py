"""The `symbl-harness` command line: the group and its commands, one module per group.

Every command imports what it needs when it runs, so `symbl-harness --help` and each
command's `--help` import click and little else. A HarnessError, or Ctrl-C outside the
commands that stop on it cleanly, ends the command with one line, `error: MESSAGE`, on
stderr and the error's exit code (130 for Ctrl-C).
"""

from __future__ import annotations

from typing import Any

import click

from harness import __version__
from harness.cli.audit import seed_audit
from harness.cli.bench import bench
from harness.cli.clients import browser, check
from harness.cli.compare import compare
from harness.cli.servers import mock, proxy
from harness.cli.sessions import demo, devices, inspect, record, replay
from harness.errors import HarnessError

__all__ = ["main"]

# As a shell reports a process that SIGINT ended: 128 + 2.
INTERRUPTED = 130


class HarnessGroup(click.Group):
    """A group that ends every HarnessError and Ctrl-C with one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a HarnessError or Ctrl-C becomes `error: MESSAGE` and its code."""
        try:
            return super().invoke(ctx)
        except HarnessError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(INTERRUPTED)


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="symbl-harness")
def main() -> None:
    """Record, replay, compare and benchmark Symbl streaming sessions, offline."""


for command in (
    record,
    replay,
    demo,
    inspect,
    devices,
    compare,
    mock,
    proxy,
    seed_audit,
    check,
    browser,
    bench,
):
    main.add_command(command)

"""The `symbl-harness` command line: the group and its commands, one module per group.

Every command imports what it needs when it runs, so `symbl-harness --help` and each
command's `--help` import click and little else. A HarnessError, a file the command cannot
read or write, or Ctrl-C outside the commands that stop on it cleanly, ends the command with
one line, `error: MESSAGE`, on stderr and the error's exit code (2 for a file, 130 for
Ctrl-C); harness.errors has the table.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# As a shell reports a process that SIGINT ended: 128 + 2.
INTERRUPTED = 130
# Input the command cannot use, as Click's own usage errors and HarnessError.
UNUSABLE = 2

try:
    import click

    from harness import __version__
    from harness.cli.audit import seed_audit
    from harness.cli.bench import bench
    from harness.cli.clients import browser, check
    from harness.cli.compare import compare
    from harness.cli.report import report
    from harness.cli.servers import mock, proxy
    from harness.cli.sessions import demo, devices, inspect, record, replay
    from harness.errors import HarnessError
except KeyboardInterrupt:
    # Ctrl-C while the command line itself loads, before click can report anything.
    sys.stderr.write("error: interrupted\n")
    raise SystemExit(INTERRUPTED) from None

__all__ = ["INTERRUPTED", "HarnessGroup", "main"]


@contextmanager
def reported() -> Iterator[None]:
    """End a HarnessError or Ctrl-C with `error: MESSAGE` on stderr and its exit code."""
    try:
        yield
    except HarnessError as error:
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(error.exit_code) from None
    except OSError as error:
        # A file or folder the command cannot read or write (the network's errors are
        # EndpointErrors by now); anything else is a bug, and its traceback is wanted.
        if error.filename is None:
            raise
        click.echo(f"error: {error.filename}: {error.strerror}", err=True)
        raise click.exceptions.Exit(UNUSABLE) from None
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        raise click.exceptions.Exit(INTERRUPTED) from None


class HarnessGroup(click.Group):
    """A group that ends every HarnessError and Ctrl-C with one line and an exit code."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the group's own options; Ctrl-C meanwhile is reported as in a command."""
        with reported():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a HarnessError or Ctrl-C becomes `error: MESSAGE` and its code."""
        with reported():
            return super().invoke(ctx)


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
    report,
    mock,
    proxy,
    seed_audit,
    check,
    browser,
    bench,
):
    main.add_command(command)

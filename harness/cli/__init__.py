"""The `symbl-harness` command line: the group and its commands, one module per group."""

from __future__ import annotations

import click

from harness import __version__
from harness.cli.audit import seed_audit
from harness.cli.bench import bench
from harness.cli.clients import browser, check
from harness.cli.compare import compare
from harness.cli.servers import mock, proxy
from harness.cli.sessions import demo, devices, inspect, record, replay

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

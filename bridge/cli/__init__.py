"""The ``rjs-bridge`` command line: one command a module, thin over the library."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from bridge import __version__
from bridge.errors import BridgeError


class _Group(click.Group):
    """Turns every BridgeError into ``Error: ...`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="rjs-bridge")
@click.option("-v", "--verbose", is_flag=True, help="Print details of the work.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
def cli(verbose: bool, quiet: bool) -> None:
    """Turn Lua Torch7 char-rnn checkpoints into models a web browser runs."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(message)s", stream=sys.stderr, force=True
    )


def main() -> None:
    cli(prog_name="rjs-bridge")


from bridge.cli import export, inspect, sample, to_cpu, verify  # noqa: E402

cli.add_command(export.export)
cli.add_command(inspect.inspect)
cli.add_command(to_cpu.to_cpu)
cli.add_command(sample.sample)
cli.add_command(verify.verify)

from bridge.cli import page, serve  # noqa: E402

cli.add_command(page.page)
cli.add_command(serve.serve)

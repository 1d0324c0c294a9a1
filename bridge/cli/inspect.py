"""``rjs-bridge inspect``: print what a checkpoint holds."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.cli.options import reader_options
from bridge.inspect import describe
from bridge.output import standard_output
from bridge.t7.backends import ReaderChoice


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="How many levels of the tree to show.",
)
@reader_options
def inspect(model: Path, depth: int, reader: ReaderChoice) -> None:
    """Print the object tree of MODEL.t7: classes, tensor shapes and dtypes,
    training options and vocabulary size. Needs no Torch."""
    standard_output()  # before the work: a closed one would lose the result
    checkpoint = reader.load(model)
    for line in describe(checkpoint, depth=depth):
        click.echo(line)

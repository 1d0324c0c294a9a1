"""``rjs-bridge inspect``: print what a checkpoint holds."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.inspect import describe
from bridge.t7.reader import read_checkpoint


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--depth", default=3, show_default=True, help="How many levels of the tree to show."
)
def inspect(model: Path, depth: int) -> None:
    """Print the object tree of MODEL.t7: classes, tensor shapes and dtypes,
    training options and vocabulary size. Needs no Torch."""
    checkpoint = read_checkpoint(model)
    for line in describe(checkpoint, depth=depth):
        click.echo(line)

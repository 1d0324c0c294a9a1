"""Options shared by the commands that read a checkpoint."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bridge.t7.backends import BACKENDS, Backend, ReaderChoice

_OPTIONS = (
    click.option(
        "--long-size",
        type=click.Choice(["4", "8"]),
        help="Width of C longs in a binary checkpoint: 8 as Linux and macOS "
        "write, 4 as Windows and 32-bit ARM do. Detected when not given.",
    ),
    click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default="auto",
        show_default=True,
        help="Who reads the checkpoint. torch: your Lua Torch7 install, with "
        "Torch's own torch.load. embedded: rjs-bridge's own reader, which needs "
        "no Torch. auto: Torch when one is found, else the embedded reader.",
    ),
    click.option(
        "--torch-prefix",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        help="The Torch install tree to use (the folder holding "
        "share/lua/5.1/torch). Default: $TORCH_PREFIX, $TORCH_INSTALL, the tree "
        "of a th on PATH, then ~/torch/install.",
    ),
    click.option(
        "--trust-checkpoint-code",
        is_flag=True,
        help="Let Torch load a checkpoint that holds serialized Lua functions, "
        "which it turns into live code. Off by default: only for files from a "
        "source you trust.",
    ),
)


def reader_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --long-size, --backend, --torch-prefix and --trust-checkpoint-code
    to a command.

    Put it under ``@click.command()``. The command receives the three as one
    keyword argument, ``reader``, a :class:`ReaderChoice` whose ``load`` reads
    a checkpoint as the user asked.
    """

    @functools.wraps(command)
    def with_reader(
        *args: Any,
        long_size: str | None,
        backend: Backend,
        torch_prefix: Path | None,
        trust_checkpoint_code: bool,
        **kwargs: Any,
    ) -> Any:
        reader = ReaderChoice(
            backend,
            torch_prefix,
            trust_checkpoint_code,
            int(long_size) if long_size else None,
        )
        return command(*args, reader=reader, **kwargs)

    decorated: Callable[..., Any] = with_reader
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated


def finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A click callback refusing NaN, which slips through FloatRange."""
    if value != value:
        raise click.BadParameter("must be a number, not nan")
    return value

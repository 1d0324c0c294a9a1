"""``rjs-bridge to-cpu``: a GPU-typed checkpoint rewritten with CPU classes."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bridge.t7.cpu import describe_renames, to_cpu_file

log = logging.getLogger(__name__)


@click.command("to-cpu")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, readable=False),
    help="Where to write the CPU checkpoint. Default: MODEL_cpu.t7 beside MODEL.",
)
@click.option(
    "--type",
    "float_type",
    type=click.Choice(["float", "double"]),
    default="float",
    show_default=True,
    help="float: GPU tensors become the CPU class of the same width "
    "(CudaTensor -> FloatTensor). double: every floating-point tensor becomes "
    "a DoubleTensor, values widened exactly.",
)
@click.option(
    "--long-size",
    type=click.Choice(["4", "8"]),
    help="Width of C longs in the file; detected when not given. The output "
    "keeps the input's width.",
)
def to_cpu(
    model: Path, output: Path | None, float_type: str, long_size: str | None
) -> None:
    """Rewrite MODEL.t7's cutorch and cltorch tensors (torch.CudaTensor,
    torch.ClTensor, ...) as CPU tensors, so that a Torch without CUDA or
    OpenCL loads it. Needs no Torch.

    Class names change, and each module's _type field; with --type double the
    floating-point values are also widened. Shared storages, views, serialized
    functions and object order stay as they are. The output is in Torch's
    binary format, even for an ASCII input.
    """
    if output is None:
        output = model.with_name(f"{model.stem}_cpu.t7")
    report = to_cpu_file(
        model,
        output,
        float_type="double" if float_type == "double" else "float",
        long_size=int(long_size) if long_size else None,
    )
    log.info("%s: %s", report.output, describe_renames(report.copy))

"""``rjs-bridge export``: a checkpoint to RecurrentJS JSON or rjs-bridge's format."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import click

from bridge.cli.options import reader_options
from bridge.export import default_output
from bridge.export import export as export_model
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, NO_BOUNDARY, Boundary
from bridge.t7.backends import ReaderChoice

log = logging.getLogger(__name__)

_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\\\": "\\", "\\0": "\0"}


def _boundary(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    text = _ESCAPES.get(value, value)
    if len(text) == 4 and text.startswith("\\x"):
        with contextlib.suppress(ValueError):
            text = chr(int(text[2:], 16))
    if len(text) != 1:
        raise click.BadParameter(
            f"{value!r} is not one character; use a character such as '.', "
            "or an escape such as '\\n' or '\\x0a'"
        )
    return text


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True, readable=False),
    help="Where to write the JSON; '-' for stdout. Default: MODEL with .json.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(["rjs", "bridge"]),
    default="rjs",
    show_default=True,
    help="rjs: RecurrentJS's model JSON (LSTMs only). bridge: rjs-bridge's own "
    "format, which holds every kind exactly (docs/bridge-format.md).",
)
@click.option(
    "--encoding",
    type=click.Choice(["numbers", "float32"]),
    default="numbers",
    show_default=True,
    help="numbers: weights as exact JSON numbers. float32: weight matrices as "
    "little-endian float32 in base64, about a quarter of the size; exact when "
    "Torch held them as float32 (after GPU training, torch-rnn) and no batch "
    "normalization was folded into them, else rounded (probabilities move by "
    "about 1e-7). --format bridge only.",
)
@click.option("--pretty", is_flag=True, help="Indent the JSON for reading.")
@click.option(
    "--boundary",
    metavar="CHAR",
    callback=_boundary,
    help="The character that plays RecurrentJS's START/END token 0 "
    "(default: the newline, when the vocabulary has one). Escapes: \\n, \\t, \\xHH.",
)
@click.option(
    "--no-boundary",
    is_flag=True,
    help="Make token 0 inert: a zero input that is never predicted.",
)
@reader_options
def export(
    model: Path,
    output: Path | None,
    format_: str,
    encoding: str,
    pretty: bool,
    boundary: str | None,
    no_boundary: bool,
    reader: ReaderChoice,
) -> None:
    """Convert a char-rnn or torch-rnn checkpoint (CPU- or GPU-trained) to the
    JSON that Karpathy's RecurrentJS character demo loads (LSTMs), or to
    rjs-bridge's own format (--format bridge: LSTM, GRU and RNN).

    Needs neither Torch nor CUDA. The JSON holds the weights' exact values (unless
    --encoding float32 rounds them) and samples the same text distribution as
    the checkpoint does in Torch; rjs-bridge verify checks that it does.
    """
    if boundary is not None and no_boundary:
        raise click.UsageError("--boundary and --no-boundary exclude each other")
    if format_ == "rjs" and encoding != "numbers":
        raise click.UsageError(
            "--encoding float32 needs --format bridge; RecurrentJS's format holds "
            "plain numbers only"
        )
    if format_ == "bridge" and (boundary is not None or no_boundary):
        raise click.UsageError(
            "--boundary and --no-boundary choose RecurrentJS's token 0; "
            "--format bridge has no token 0 to choose"
        )
    choice = AUTO_BOUNDARY
    if no_boundary:
        choice = NO_BOUNDARY
    elif boundary is not None:
        choice = Boundary(boundary)

    if output is None:
        output = default_output(model)
    target = None if str(output) == "-" else output
    result = export_model(
        model,
        target,
        format="bridge" if format_ == "bridge" else "rjs",
        encoding="float32" if encoding == "float32" else "numbers",
        boundary=choice,
        pretty=pretty,
        reader=reader,
    )
    log.info("%s", result.summary())

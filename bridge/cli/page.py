"""``rjs-bridge page``: a model as one web page that runs it offline."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bridge.cli.options import reader_options
from bridge.t7.backends import ReaderChoice
from bridge.web.page import (
    PAGE_ENCODINGS,
    TINY_MODEL,
    PageEncoding,
    default_output,
    write_page,
)

log = logging.getLogger(__name__)

_ENCODING_HELP = (
    "How the weights are embedded: exact JSON numbers, or base64 float32 "
    "(under a third of the size; exact for weights Torch held as float32, as "
    "after GPU training, unless batch normalization was folded into them). "
    f"Default: numbers for models under {TINY_MODEL:,} parameters, float32 "
    "for larger ones; a JSON export as it is."
)

# --encoding, shared with serve.
encoding_option = click.option(
    "--encoding",
    type=click.Choice(PAGE_ENCODINGS),
    default="auto",
    show_default=True,
    help=_ENCODING_HELP,
)


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True, readable=False),
    help="Where to write the page; '-' for stdout. Default: MODEL with .html.",
)
@encoding_option
@reader_options
def page(
    model: Path,
    output: Path | None,
    encoding: PageEncoding,
    reader: ReaderChoice,
) -> None:
    """Write one self-contained HTML page that runs MODEL in a web browser.

    MODEL is a Torch checkpoint (char-rnn or torch-rnn) or a JSON export of
    either format, rjs-bridge's or RecurrentJS's. The page holds the model
    and rjs-bridge's JavaScript runtime: open it from disk, offline, on any
    device, type a beginning and watch the model continue it. It makes no
    network requests.
    """
    if output is None:
        output = default_output(model)
    target = None if str(output) == "-" else output
    result = write_page(
        model,
        target,
        encoding=encoding,
        reader=reader,
    )
    log.info("%s", result.summary())

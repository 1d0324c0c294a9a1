"""``rjs-bridge sample``: generate text from a checkpoint or an export."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.cli.options import finite, reader_options
from bridge.errors import UnsupportedError
from bridge.modelfile import read_model
from bridge.output import standard_output, write_all
from bridge.sample import DEFAULT_LENGTH
from bridge.sample import sample as sample_text
from bridge.t7.backends import ReaderChoice


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-n",
    "--length",
    type=click.IntRange(min=0),
    default=DEFAULT_LENGTH,
    show_default=True,
    help="How many tokens to generate.",
)
@click.option(
    "-t",
    "--temperature",
    type=click.FloatRange(min=1e-6, max=1e6),
    callback=finite,
    default=1.0,
    show_default=True,
    help="Divides the logits: below 1 is more conservative, above 1 more varied.",
)
@click.option(
    "--primetext",
    default="",
    help="Text fed to the model first, from a zero state; it is not printed. "
    "Taken literally: in bash, $'fox.\\n' ends in a newline.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The random seed.")
@click.option(
    "--argmax", is_flag=True, help="Take the most probable token at every step."
)
@reader_options
def sample(
    model: Path,
    length: int,
    temperature: float,
    primetext: str,
    seed: int,
    argmax: bool,
    reader: ReaderChoice,
) -> None:
    """Generate text from MODEL: a char-rnn or torch-rnn checkpoint (.t7), or
    its export in either format. Needs no Torch.

    Prints the continuation only, not the priming text: raw bytes for a
    char-rnn (byte) vocabulary, so that UTF-8 text comes out whole, and UTF-8
    for a torch-rnn (character) one. Without --primetext the first token is
    drawn uniformly from the vocabulary, as char-rnn and torch-rnn do. The
    sampler is defined in docs/bridge-format.md: the same seed gives the same
    text from a checkpoint, from its exports and in the browser.
    """
    loaded = read_model(model, reader=reader)
    pieces = sample_text(
        loaded.model,
        primetext=primetext,
        length=length,
        temperature=temperature,
        seed=seed,
        greedy=argmax,
    )
    out = standard_output()
    try:
        for piece in pieces:
            write_all(out, piece)
    except UnsupportedError as e:
        # Scores that overflow show only once generating: name the file here.
        raise UnsupportedError(f"{model}: {e}") from None
    finally:
        out.flush()

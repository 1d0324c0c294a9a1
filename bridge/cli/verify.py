"""``rjs-bridge verify``: does an export compute what its checkpoint does?"""

from __future__ import annotations

from pathlib import Path

import click

from bridge.cli.options import finite, reader_options
from bridge.modelfile import ModelFile, read_model, sha256_file
from bridge.output import standard_output
from bridge.t7.backends import ReaderChoice
from bridge.verify import (
    DEFAULT_TOLERANCE,
    FLOAT32_TOLERANCE,
    Verification,
    describe_token,
)
from bridge.verify import verify as verify_export

_FORMATS = {
    "t7": "Torch7 checkpoint",
    "rjs": "RecurrentJS format",
    "bridge": "rjs-bridge format",
}


@click.command()
@click.argument("checkpoint", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("exported", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--text",
    help="The text to feed both models. Default: a fixed text of many kinds of "
    "characters (those the vocabulary lacks are left out, and listed), then "
    "every token of the vocabulary once.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, max=1),
    callback=finite,
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="The largest probability difference that passes. A float32-encoded "
    f"export of float64 weights needs about {FLOAT32_TOLERANCE:g}.",
)
@reader_options
def verify(
    checkpoint: Path,
    exported: Path,
    text: str | None,
    tolerance: float,
    reader: ReaderChoice,
) -> None:
    """Run CHECKPOINT (.t7) and EXPORTED (its JSON, either format) on the same
    text, from a zero state, and compare their next-token probabilities at
    every step. Needs no Torch.

    Prints the largest difference and PASS or FAIL; the exit status is 0 on
    PASS and 1 on FAIL.
    """
    if text == "":
        # Comparing nothing would pass whatever the files hold.
        raise click.BadParameter(
            "is empty; give text to feed, or leave it out", param_hint="'--text'"
        )
    standard_output()  # before the work: a closed one would lose the verdict
    reference = read_model(checkpoint, reader=reader)
    other = read_model(exported)
    result = verify_export(reference, other, text=text, tolerance=tolerance)

    for line in _report(checkpoint, reference, exported, other, text, result):
        click.echo(line)
    if not result.passed:
        raise click.exceptions.Exit(1)


def _report(
    checkpoint: Path,
    reference: ModelFile,
    exported: Path,
    other: ModelFile,
    text: str | None,
    result: Verification,
) -> list[str]:
    model = reference.model
    sizes = ", ".join(str(n) for n in model.hidden_sizes)
    layers = "layer" if len(model.hidden_sizes) == 1 else "layers"
    lines = [
        f"checkpoint: {checkpoint} ({_FORMATS[reference.format]}, "
        f"{model.kind.upper()}, {len(model.hidden_sizes)} {layers} of {sizes}, "
        f"{len(model.tokens)} tokens)",
        f"export: {exported} ({_FORMATS[other.format]}"
        + (", float32 weights)" if other.float32 else ")"),
    ]
    if other.source_sha256 is not None and reference.format == "t7":
        actual = sha256_file(checkpoint)
        if actual != other.source_sha256:
            lines.append(
                "note: the export was made from another file (SHA-256 "
                f"{other.source_sha256[:16]}...) than this checkpoint "
                f"({actual[:16]}...)"
            )
    if result.mismatch is not None:
        lines.append(f"FAIL: {result.mismatch}")
        return lines

    if text is None:
        fed = "the default text"
        if result.skipped:
            fed += f" without {''.join(result.skipped)!r} (not in the vocabulary)"
        fed += f", then each of the {len(model.tokens)} tokens"
    else:
        fed = "the given text"
    step, token = result.worst
    worst = f"largest probability difference: {result.difference:.3g}"
    if result.difference > 0:
        worst += f" (step {step + 1}, token {describe_token(model, token)})"
    lines += [f"fed {result.steps} tokens: {fed}", worst]
    if result.passed:
        lines.append(f"PASS: within the tolerance {result.tolerance:g}")
        return lines
    lines.append(f"FAIL: above the tolerance {result.tolerance:g}")
    if other.float32:
        lines.append(
            "the export's weights are float32-encoded, which rounds float64 "
            "weights: such an export needs a looser tolerance, such as "
            f"--tolerance {FLOAT32_TOLERANCE:g}"
        )
    return lines

"""Check an export against its checkpoint: the ``verify`` job.

Both models are run by the same NumPy runtime on the same tokens from a zero
state, and their next-token probabilities compared at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.modelfile import ModelFile
from bridge.models.types import RecurrentModel
from bridge.runtime import Network, encode_text, softmax

# What verify feeds by default: many kinds of characters (those a vocabulary
# lacks are left out and reported), then every token of the vocabulary once,
# so that every input weight takes part.
DEFAULT_TEXT = (
    "The quick brown fox jumps over the lazy dog.\n"
    "PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS!\n"
    "0123456789 (and) [so] on: \"quoted\", 'single'; a-b & c/d? $5 * 3 = 15%\n"
)

DEFAULT_TOLERANCE = 1e-9

# What a float32-encoded export of float64 weights differs by, at most, in
# practice; verify suggests it when such an export fails.
FLOAT32_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Verification:
    """How an export's probabilities compare with its checkpoint's.

    ``difference`` is the largest absolute difference of a probability over
    all ``steps``; ``worst`` the (step, token index) where it is. ``mismatch``
    says why the two could not be compared at all (then nothing was run).
    """

    tolerance: float
    steps: int
    difference: float
    worst: tuple[int, int]
    skipped: list[str]
    mismatch: str | None = None

    @property
    def passed(self) -> bool:
        return self.mismatch is None and self.difference <= self.tolerance


def verify(
    checkpoint: ModelFile,
    exported: ModelFile,
    *,
    text: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Verification:
    """Run both models on ``text`` and compare their probabilities.

    Without ``text``, :data:`DEFAULT_TEXT` (less the characters the
    vocabulary lacks, which are listed in ``skipped``) followed by every
    token of the vocabulary once. A given ``text`` must be in the vocabulary
    (TextError otherwise).
    """
    reference, other = checkpoint.model, exported.model
    mismatch = _mismatch(reference, other)
    if mismatch is not None:
        return Verification(tolerance, 0, float("inf"), (0, 0), [], mismatch)

    if text is None:
        encoded = encode_text(reference, DEFAULT_TEXT, skip_missing=True)
        tokens = encoded.tokens + list(range(len(reference.tokens)))
        skipped = encoded.skipped
    else:
        tokens = encode_text(reference, text, what="text").tokens
        skipped = []

    ours, theirs = Network(reference), Network(other)
    worst = (0, 0)
    difference = 0.0
    for step, token in enumerate(tokens):
        p = np.array(softmax(ours.feed(token)))
        q = np.array(softmax(theirs.feed(token)))
        gaps = np.abs(p - q)
        at = int(np.argmax(gaps))
        # NaN never compares greater, so a broken export must not pass.
        if not gaps[at] <= difference:
            difference = float(gaps[at])
            worst = (step, at)
    return Verification(tolerance, len(tokens), difference, worst, skipped)


def describe_token(model: RecurrentModel, index: int) -> str:
    """A token as the report names it: ``'e'``, ``'\\n'``, ``0xc3``."""
    token = model.tokens[index]
    if isinstance(token, bytes):
        return repr(token.decode("ascii")) if token[0] < 0x80 else f"0x{token[0]:02x}"
    return repr(token)


def _mismatch(a: RecurrentModel, b: RecurrentModel) -> str | None:
    if a.kind != b.kind:
        return f"the checkpoint is a {a.kind.upper()}, the export a {b.kind.upper()}"
    if a.hidden_sizes != b.hidden_sizes:
        return (
            f"the checkpoint's layers are {a.hidden_sizes}, the export's "
            f"{b.hidden_sizes}"
        )
    if a.token_unit != b.token_unit:
        return (
            f"the checkpoint's tokens are {a.token_unit}s, the export's {b.token_unit}s"
        )
    if list(a.tokens) != list(b.tokens):
        if len(a.tokens) != len(b.tokens):
            return (
                f"the checkpoint has {len(a.tokens)} tokens, the export {len(b.tokens)}"
            )
        first = next(
            i for i, (x, y) in enumerate(zip(a.tokens, b.tokens, strict=True)) if x != y
        )
        return (
            f"the vocabularies differ: token {first} is {a.tokens[first]!r} in the "
            f"checkpoint and {b.tokens[first]!r} in the export"
        )
    return None

"""The sampler shared with the browser runtime, defined to the bit.

docs/bridge-format.md ("Sampling") is the specification; every step here is
plain float64 or 32-bit integer arithmetic in a fixed order, so that a
JavaScript port draws the same tokens for the same seed:

- probabilities: ``p = softmax(logits / T)`` with the maximum subtracted,
  the exponentials summed in index order;
- argmax: the first index of the largest logit (the temperature is ignored);
- random numbers: mulberry32, seeded with ``seed mod 2**32``;
- a draw walks the tokens in index order and takes the first whose running
  sum of probabilities exceeds the random number ``u``, or the last token of
  nonzero probability when rounding leaves the sum at or below ``u``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from bridge.errors import UnsupportedError
from bridge.runtime.network import Network

_MASK = 0xFFFFFFFF


class Mulberry32:
    """Tommy Ettinger's mulberry32 generator: 32 bits of state, one uniform
    float64 in [0, 1) per draw, with a multiple of 2**-32."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> float:
        """The next number in [0, 1)."""
        self.state = (self.state + 0x6D2B79F5) & _MASK
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _MASK
        return (t ^ (t >> 14)) / 4294967296.0


def _imul(a: int, b: int) -> int:
    # JavaScript's Math.imul, on unsigned values: the low 32 bits of a * b.
    return (a * b) & _MASK


def softmax(
    logits: Sequence[float] | np.ndarray, temperature: float = 1.0
) -> list[float]:
    """``softmax(logits / temperature)`` in float64, the sampler's way."""
    if not temperature > 0:
        raise ValueError(f"temperature {temperature} is not positive")
    scaled = [float(v) / temperature for v in logits]
    top = max(scaled)
    weights = [math.exp(v - top) for v in scaled]
    total = 0.0
    for w in weights:
        total += w
    return [w / total for w in weights]


def argmax(logits: Sequence[float] | np.ndarray) -> int:
    """The first index of the largest value."""
    best = 0
    for i in range(1, len(logits)):
        if logits[i] > logits[best]:
            best = i
    return best


def draw(probabilities: Sequence[float], u: float) -> int:
    """The token a random number ``u`` in [0, 1) picks from ``probabilities``."""
    running = 0.0
    last = 0
    for i, p in enumerate(probabilities):
        running += p
        if running > u:
            return i
        if p > 0:
            last = i
    return last


def _check_scores(logits: np.ndarray, fed: int) -> None:
    """Refuse to draw from scores that are not all finite: there is no
    distribution in them, and a draw would be arbitrary."""
    if np.isfinite(logits).all():
        return
    found = []
    if np.isnan(logits).any():
        found.append("NaN")
    if np.isinf(logits).any():
        found.append("infinity")
    tokens = "token" if fed == 1 else "tokens"
    raise UnsupportedError(
        f"after {fed} {tokens} the model's scores include {' and '.join(found)}: "
        "its weights are too large for float64 arithmetic, so there is no "
        "distribution to sample from"
    )


def generate(
    network: Network,
    prime: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    greedy: bool = False,
) -> Iterator[int]:
    """The ``length`` tokens that follow ``prime``, one at a time.

    The state starts at zero and every priming token is fed once. Without
    priming tokens the first distribution is uniform over the vocabulary, as
    in char-rnn's and torch-rnn's samplers. ``greedy`` takes the argmax at
    every step and draws no random numbers.
    """
    if not temperature > 0:
        raise ValueError(f"temperature {temperature} is not positive")
    network.reset()
    random = Mulberry32(seed)
    logits: np.ndarray | None = None
    for token in prime:
        logits = network.feed(token)
    if logits is None:
        logits = np.zeros(network.vocabulary_size)

    for step in range(length):
        _check_scores(logits, len(prime) + step)
        if greedy:
            token = argmax(logits)
        else:
            token = draw(softmax(logits, temperature), random.next())
        yield token
        if step + 1 < length:
            logits = network.feed(token)

"""Generate text from a model without Torch: the ``sample`` job.

char-rnn's and torch-rnn's sample.lua, with the sampler of
docs/bridge-format.md ("Sampling") so that the browser runtime writes the
same text for the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator

from bridge.models.types import RecurrentModel
from bridge.runtime import Network, encode_text, generate, token_bytes

DEFAULT_LENGTH = 2000


def sample(
    model: RecurrentModel,
    *,
    primetext: str = "",
    length: int = DEFAULT_LENGTH,
    temperature: float = 1.0,
    seed: int = 0,
    greedy: bool = False,
) -> Iterator[bytes]:
    """The continuation of ``primetext``, token by token, as the bytes to
    write: a byte vocabulary's raw bytes, a character vocabulary's UTF-8.

    Every character of ``primetext`` must be in the vocabulary (TextError
    otherwise, before anything is generated).
    """
    if length < 0:
        raise ValueError(f"length {length} is negative")
    prime = encode_text(model, primetext, what="priming text").tokens
    network = Network(model)
    for token in generate(
        network, prime, length, temperature=temperature, seed=seed, greedy=greedy
    ):
        yield token_bytes(model, token)

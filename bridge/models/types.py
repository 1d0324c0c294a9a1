"""Typed records of the recurrent models rjs-bridge recognises in checkpoints.

Every model, whichever program trained it, is brought to one form: per layer,
per gate, a weight on the layer's input (``x``), a weight on the previous
hidden state (``h``) and one bias, so that a gate's pre-activation is
``x @ input + h @ hidden + b``. The formulas per kind are in
:data:`GATES` and docs/bridge-format.md.

Weights stay the arrays the checkpoint holds (float32 for GPU-typed and
torch-rnn files, float64 for char-rnn CPU ones) unless something had to be
folded into them (old-style dropout, batch normalization), which is done in
float64. Biases are float64: a gate's biases from separate Linears are summed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Kind = Literal["lstm", "gru", "rnn"]
TokenUnit = Literal["byte", "char"]

# The gates of each kind, in the order the formats list them.
#   lstm: i = sig(input), f = sig(forget), o = sig(output), g = tanh(candidate)
#         c' = f * c + i * g;  h' = o * tanh(c')
#   gru:  r = sig(reset), z = sig(update)
#         g = tanh(x_candidate @ x + h_candidate @ (r * h) + b_candidate)
#         h' = z * g + (1 - z) * h      (char-rnn's model/GRU.lua)
#   rnn:  h' = tanh(hidden)
GATES: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "output", "candidate"),
    "gru": ("reset", "update", "candidate"),
    "rnn": ("hidden",),
}


@dataclass(frozen=True)
class Gate:
    """One gate's weights: ``x`` (hidden, input), ``h`` (hidden, hidden) and
    the bias ``b`` (hidden,)."""

    x: np.ndarray
    h: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class Layer:
    """One recurrent layer: its gates, in :data:`GATES` order."""

    gates: dict[str, Gate]

    @property
    def hidden_size(self) -> int:
        return int(next(iter(self.gates.values())).h.shape[0])

    @property
    def input_size(self) -> int:
        return int(next(iter(self.gates.values())).x.shape[1])


@dataclass(frozen=True)
class Source:
    """Where a model came from, for the record kept in exports."""

    file: str
    program: str
    model_class: str
    tensor_classes: list[str]
    # Parameters as Torch counts them (every Linear's weight and bias).
    parameters: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecurrentModel:
    """A recognised character-level language model.

    ``tokens[i]`` is the token with Torch index ``i + 1``: a single byte for
    char-rnn (``token_unit`` "byte"), a whole character for torch-rnn
    ("char"). The first layer reads ``embedding[token]`` (vocabulary x
    size), or the token's one-hot vector when ``embedding`` is None. The
    prediction is ``softmax(decoder_w @ h_top + decoder_b)``.
    """

    kind: Kind
    tokens: list[bytes] | list[str]
    token_unit: TokenUnit
    embedding: np.ndarray | None
    layers: list[Layer]
    decoder_w: np.ndarray
    decoder_b: np.ndarray
    source: Source

    @property
    def hidden_sizes(self) -> list[int]:
        return [layer.hidden_size for layer in self.layers]

    @property
    def input_size(self) -> int:
        """The width of the first layer's input: embedding size or vocabulary."""
        if self.embedding is not None:
            return int(self.embedding.shape[1])
        return len(self.tokens)

    @property
    def parameter_count(self) -> int:
        """Weights and biases as converted (a gate's summed biases count once)."""
        count = self.decoder_w.size + self.decoder_b.size
        if self.embedding is not None:
            count += self.embedding.size
        for layer in self.layers:
            for gate in layer.gates.values():
                count += gate.x.size + gate.h.size + gate.b.size
        return count

    def token_text(self, index: int) -> str:
        """Token ``index`` (0-based) as text: bytes above 127 as Latin-1."""
        token = self.tokens[index]
        return token.decode("latin-1") if isinstance(token, bytes) else token

"""Typed records of the recurrent models rjs-bridge recognises in checkpoints.

Weights stay the arrays the checkpoint holds (float32 for GPU-typed files,
float64 for CPU ones); mapping to a target format widens them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The order of char-rnn's LSTM gates in its i2h/h2h rows, which is also the
# order RecurrentJS names them in: input, forget, output, candidate.
LSTM_GATES = ("input", "forget", "output", "candidate")


@dataclass(frozen=True)
class Linear:
    """An ``nn.Linear``: y = weight @ x + bias, weight of shape (out, in)."""

    weight: np.ndarray
    bias: np.ndarray | None
    where: str

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    def bias_or_zeros(self) -> np.ndarray:
        if self.bias is None:
            return np.zeros(self.out_size)
        return self.bias


@dataclass(frozen=True)
class LSTMLayer:
    """One char-rnn LSTM layer: gate pre-activations are i2h(x) + h2h(h).

    ``gate_blocks`` gives, for input, forget, output and candidate in that
    order, which block of ``hidden_size`` rows of i2h and h2h feeds the gate
    (0-based), as found in the graph. ``input_scale`` multiplies the layer's
    input: 1, or 1 - p after an old-style ``nn.Dropout`` in evaluation mode.
    """

    i2h: Linear
    h2h: Linear
    gate_blocks: tuple[int, int, int, int]
    input_scale: float = 1.0

    @property
    def hidden_size(self) -> int:
        return self.h2h.in_size

    def gate_rows(self, gate: str) -> slice:
        block = self.gate_blocks[LSTM_GATES.index(gate)]
        return slice(block * self.hidden_size, (block + 1) * self.hidden_size)


@dataclass(frozen=True)
class CharRNNModel:
    """A char-rnn language model, recognised from its checkpoint.

    ``vocab[i]`` is the byte sequence of the token with Torch index ``i + 1``
    (one byte each for char-rnn).
    """

    kind: str
    layers: list[LSTMLayer]
    decoder: Linear
    decoder_input_scale: float
    vocab: list[bytes]
    weight_class: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def hidden_sizes(self) -> list[int]:
        return [layer.hidden_size for layer in self.layers]

    @property
    def parameter_count(self) -> int:
        linears = [self.decoder]
        for layer in self.layers:
            linears += [layer.i2h, layer.h2h]
        return sum(
            x.weight.size + (0 if x.bias is None else x.bias.size) for x in linears
        )

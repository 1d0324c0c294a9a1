"""Run a recognised model forward, one token at a time, in float64.

The formulas are those of :data:`bridge.models.types.GATES` and
docs/bridge-format.md ("Forward pass"): for every kind, a gate's
pre-activation is ``x @ input + h @ hidden + b``; the LSTM and the tanh RNN
follow char-rnn's model/LSTM.lua and model/RNN.lua (6f9487a) and torch-rnn's
LSTM.lua and VanillaRNN.lua (6e72b86), the GRU char-rnn's model/GRU.lua,
whose candidate reads the reset-gated state ``r * h`` and whose new state is
``z * g + (1 - z) * h``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge.models.types import GATES, RecurrentModel


@dataclass(frozen=True)
class _Weights:
    """One layer's gates stacked in GATES order: rows ``k*H:(k+1)*H`` are
    gate ``k``."""

    x: np.ndarray
    h: np.ndarray
    b: np.ndarray
    hidden_size: int


class Network:
    """A model's state and forward pass: :meth:`reset`, then :meth:`feed` one
    token index (0-based, in the checkpoint's order) at a time.

    All arithmetic is float64, whatever the weights' stored type.
    """

    def __init__(self, model: RecurrentModel) -> None:
        self.kind = model.kind
        self.vocabulary_size = len(model.tokens)
        self._gates = GATES[model.kind]
        self._embedding = None if model.embedding is None else _f64(model.embedding)
        self._layers = [
            _Weights(
                x=_f64(np.concatenate([layer.gates[g].x for g in self._gates])),
                h=_f64(np.concatenate([layer.gates[g].h for g in self._gates])),
                b=_f64(np.concatenate([layer.gates[g].b for g in self._gates])),
                hidden_size=layer.hidden_size,
            )
            for layer in model.layers
        ]
        self._decoder_w = _f64(model.decoder_w)
        self._decoder_b = _f64(model.decoder_b)
        self.reset()

    def reset(self) -> None:
        """Zero every layer's hidden state (and an LSTM's cells)."""
        self._h = [np.zeros(w.hidden_size) for w in self._layers]
        self._c = [np.zeros(w.hidden_size) for w in self._layers]

    def feed(self, token: int) -> np.ndarray:
        """Advance the state by ``token``; returns the next token's logits
        (before softmax), one per vocabulary entry."""
        if not 0 <= token < self.vocabulary_size:
            raise IndexError(
                f"token {token} is outside the vocabulary of {self.vocabulary_size}"
            )
        # Weights near float64's limit can overflow to infinities and NaNs
        # here; the sampler reports scores that are not finite, once.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._feed(token)

    def _feed(self, token: int) -> np.ndarray:
        x: np.ndarray | None = None
        if self._embedding is not None:
            x = self._embedding[token]
        for d, w in enumerate(self._layers):
            # A one-hot input selects a column: exactly the product's value.
            x_part = w.x[:, token] if x is None else w.x @ x
            h = self._h[d]
            if self.kind == "lstm":
                self._h[d], self._c[d] = _lstm(w, x_part, h, self._c[d])
            elif self.kind == "gru":
                self._h[d] = _gru(w, x_part, h)
            else:
                self._h[d] = np.tanh(x_part + w.h @ h + w.b)
            x = self._h[d]
        assert x is not None
        logits: np.ndarray = self._decoder_w @ x + self._decoder_b
        return logits


def _lstm(
    w: _Weights, x_part: np.ndarray, h: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = w.hidden_size
    pre = x_part + w.h @ h + w.b
    i = _sigmoid(pre[:n])
    f = _sigmoid(pre[n : 2 * n])
    o = _sigmoid(pre[2 * n : 3 * n])
    g = np.tanh(pre[3 * n :])
    c_next = f * c + i * g
    return o * np.tanh(c_next), c_next


def _gru(w: _Weights, x_part: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = w.hidden_size
    gates = x_part[: 2 * n] + w.h[: 2 * n] @ h + w.b[: 2 * n]
    r = _sigmoid(gates[:n])
    z = _sigmoid(gates[n:])
    g = np.tanh(x_part[2 * n :] + w.h[2 * n :] @ (r * h) + w.b[2 * n :])
    h_next: np.ndarray = z * g + (1.0 - z) * h
    return h_next


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp overflows to infinity below -709, and 1 / (1 + inf) is the 0 it
    # should be, as in JavaScript.
    y: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return y


def _f64(values: np.ndarray) -> np.ndarray:
    # A fresh contiguous copy: float32 widens to float64 exactly, and every
    # source (checkpoint or export) goes through the same memory layout.
    return np.array(values, dtype=np.float64, order="C")

"""An independent NumPy re-implementation of RecurrentJS, in float64.

It follows karpathy/recurrentjs (84d6934): src/recurrent.js forwardLSTM and
softmax, and character_demo.html forwardIndex and predictSentence. It reads
only the exported JSON, so the tests check the export against what the
browser will compute, not against our own mapping code.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RecurrentJSLSTM:
    def __init__(self, exported: dict[str, Any]) -> None:
        assert exported["generator"] == "lstm"
        self.hidden_sizes = exported["hidden_sizes"]
        self.mats = {
            name: np.array(m["w"], dtype=np.float64).reshape(m["n"], m["d"])
            for name, m in exported["model"].items()
        }
        self.letter_to_index = exported["letterToIndex"]
        self.index_to_letter = exported["indexToLetter"]
        self.reset()

    def reset(self) -> None:
        self.h = [np.zeros((n, 1)) for n in self.hidden_sizes]
        self.c = [np.zeros((n, 1)) for n in self.hidden_sizes]

    def logits(self, token: int) -> np.ndarray:
        m = self.mats
        x = m["Wil"][token].reshape(-1, 1)  # rowPluck
        for d in range(len(self.hidden_sizes)):
            h_prev, c_prev = self.h[d], self.c[d]

            def gate(
                letter: str, d: int = d, x: np.ndarray = x, h: np.ndarray = h_prev
            ) -> np.ndarray:
                return (
                    m[f"W{letter}x{d}"] @ x
                    + m[f"W{letter}h{d}"] @ h
                    + m[f"b{letter}{d}"]
                )

            i = _sigmoid(gate("i"))
            f = _sigmoid(gate("f"))
            o = _sigmoid(gate("o"))
            g = np.tanh(gate("c"))
            self.c[d] = f * c_prev + i * g
            self.h[d] = o * np.tanh(self.c[d])
            x = self.h[d]
        return (m["Whd"] @ x + m["bd"]).ravel()

    def probs(self, token: int) -> np.ndarray:
        return softmax(self.logits(token))

    def predict_sentence(self, max_chars_gen: int = 100) -> str:
        """The demo's argmax sentence: start from token 0, stop at token 0."""
        self.reset()
        s = ""
        while True:
            ix = 0 if not s else self.letter_to_index[s[-1]]
            ix = int(np.argmax(self.probs(ix)))  # R.maxi: first largest
            if ix == 0 or len(s) > max_chars_gen:
                return s
            s += self.index_to_letter[str(ix)]


def softmax(w: np.ndarray) -> np.ndarray:
    maxval = max(-999999.0, float(w.max()))
    e = np.exp(w - maxval)
    return e / e.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))

"""The obvious alternative a Python user would write: torchfile + json.

Loads a char-rnn LSTM checkpoint with torchfile (PyPI), builds the same
RecurrentJS structure from Python lists and writes it with json.dump. Used by
export_speed.py as a baseline; run as `python torchfile_export.py IN OUT`.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torchfile


def main(source: str, target: str) -> None:
    checkpoint = torchfile.load(source)
    rnn = checkpoint[b"protos"][b"rnn"]
    linears = {}
    for node in rnn[b"forwardnodes"]:
        name = node[b"data"][b"annotations"].get(b"name")
        if name is not None:
            linears[name.decode()] = node[b"data"][b"module"]
    vocab = sorted(checkpoint[b"vocab"].items(), key=lambda kv: kv[1])
    layers = sum(1 for name in linears if name.startswith("i2h_"))
    size = linears["h2h_1"][b"weight"].shape[1]

    def mat(values: np.ndarray) -> dict:
        values = np.atleast_2d(values.astype(np.float64))
        if values.shape[0] == 1:
            values = values.T
        return {
            "n": values.shape[0],
            "d": values.shape[1],
            "w": values.ravel().tolist(),
        }

    letters = [key.decode("latin-1") for key, _ in vocab]
    model = {"Wil": mat(np.eye(len(vocab)))}
    for d in range(layers):
        i2h, h2h = linears[f"i2h_{d + 1}"], linears[f"h2h_{d + 1}"]
        bias = i2h[b"bias"].astype(np.float64) + h2h[b"bias"].astype(np.float64)
        for k, letter in enumerate("ifoc"):
            rows = slice(k * size, (k + 1) * size)
            model[f"W{letter}x{d}"] = mat(i2h[b"weight"][rows])
            model[f"W{letter}h{d}"] = mat(h2h[b"weight"][rows])
            model[f"b{letter}{d}"] = mat(bias[rows])
    model["Whd"] = mat(linears["decoder"][b"weight"])
    model["bd"] = mat(linears["decoder"][b"bias"])
    out = {
        "hidden_sizes": [size] * layers,
        "generator": "lstm",
        "letter_size": len(vocab),
        "model": model,
        "solver": {"decay_rate": 0.999, "smooth_eps": 1e-8, "step_cache": {}},
        "letterToIndex": {ch: i for i, ch in enumerate(letters)},
        "indexToLetter": {str(i): ch for i, ch in enumerate(letters)},
        "vocab": letters[1:],
    }
    with open(target, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

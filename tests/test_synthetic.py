"""Checkpoints the tests build themselves with the Torch writer: sizes and
vocabularies no fixture has, checked against a direct NumPy char-rnn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bridge
from bridge.export import export
from bridge.t7.writer import dump
from tests.builders import printable_vocab, resize_charrnn_lstm
from tests.recurrentjs_reference import RecurrentJSLSTM


def _charrnn_probs(root: Any, inputs: list[int]) -> np.ndarray:
    """char-rnn's LSTM (model/LSTM.lua) run directly on the named Linears."""
    linears = {}
    for node in root["protos"]["rnn"].forwardnodes.values():
        name = node.data["annotations"].get("name")
        if name is not None:
            linears[name] = node.data["module"]
    layers = sum(1 for name in linears if name.startswith("i2h_"))
    size = linears["h2h_1"].weight.shape[1]
    vocab = linears["decoder"].weight.shape[0]
    h = [np.zeros(size) for _ in range(layers)]
    c = [np.zeros(size) for _ in range(layers)]

    def linear(name: str, x: np.ndarray) -> np.ndarray:
        m = linears[name]
        return m.weight.astype(np.float64) @ x + m.bias.astype(np.float64)

    out = []
    for index in inputs:
        x = np.eye(vocab)[index - 1]
        for layer in range(layers):
            sums = linear(f"i2h_{layer + 1}", x) + linear(f"h2h_{layer + 1}", h[layer])
            i, f, o, g = sums.reshape(4, size)
            sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
            c[layer] = sig(f) * c[layer] + sig(i) * np.tanh(g)
            h[layer] = sig(o) * np.tanh(c[layer])
            x = h[layer]
        logits = linear("decoder", x)
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return np.array(out)


def _exported_probs(
    exported: dict, vocab: list[bytes], inputs: list[int]
) -> np.ndarray:
    net = RecurrentJSLSTM(exported)
    letters = [token.decode("latin-1") for token in vocab]
    rows = []
    for index in inputs:
        probs = net.probs(exported["letterToIndex"][letters[index - 1]])
        rows.append([probs[exported["letterToIndex"][ch]] for ch in letters])
    return np.array(rows)


@pytest.mark.parametrize(
    ("tensor_class", "vocab_size", "rnn_size"),
    [
        ("torch.CudaTensor", 256, 24),
        ("torch.DoubleTensor", 96, 40),
        ("torch.FloatTensor", 3, 8),
    ],
)
def test_built_checkpoint_exports_like_charrnn(
    tmp_path: Path, tensor_class: str, vocab_size: int, rnn_size: int
) -> None:
    vocab = printable_vocab(vocab_size)
    root = resize_charrnn_lstm(rnn_size, vocab, tensor_class=tensor_class, seed=3)
    source = tmp_path / "built.t7"
    dump(root, source)
    inputs = list(np.random.default_rng(1).integers(1, vocab_size + 1, 40))

    export(source, tmp_path / "built.json")

    exported = json.loads((tmp_path / "built.json").read_text(encoding="utf-8"))
    expected = _charrnn_probs(bridge.load(source), inputs)
    assert np.abs(_exported_probs(exported, vocab, inputs) - expected).max() < 1e-9
    assert exported["letterToIndex"]["\n"] == 0
    assert exported["letter_size"] == vocab_size


def test_built_checkpoint_without_newline_has_inert_token_zero(tmp_path: Path) -> None:
    vocab = printable_vocab(60)[1:]
    root = resize_charrnn_lstm(16, vocab, tensor_class="torch.CudaTensor", seed=4)
    source = tmp_path / "no_newline.t7"
    dump(root, source)
    inputs = list(range(1, 60))

    export(source, tmp_path / "out.json")

    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert exported["model"]["Wil"]["n"] == 60
    assert "\n" not in exported["letterToIndex"]
    probs = _exported_probs(exported, vocab, inputs)
    expected = _charrnn_probs(bridge.load(source), inputs)
    assert np.abs(probs - expected).max() < 1e-9
    assert RecurrentJSLSTM(exported).probs(1)[0] == 0.0


def test_built_vocabulary_of_awkward_bytes_round_trips(tmp_path: Path) -> None:
    # Quote, backslash, NUL, newline and bytes above 127 as one-byte tokens.
    vocab = [b"\n", b'"', b"\\", b"\x00", b"\xff", b"\xe2", b"a"]
    root = resize_charrnn_lstm(8, vocab, tensor_class="torch.CudaTensor", seed=5)
    source = tmp_path / "awkward.t7"
    dump(root, source)

    export(source, tmp_path / "awkward.json")

    text = (tmp_path / "awkward.json").read_text(encoding="utf-8")
    exported = json.loads(text)
    assert exported["vocab"] == ['"', "\\", "\x00", "\xff", "\xe2", "a"]
    assert exported["indexToLetter"] == {
        "0": "\n",
        "1": '"',
        "2": "\\",
        "3": "\x00",
        "4": "\xff",
        "5": "\xe2",
        "6": "a",
    }

"""Build char-rnn checkpoints of any size with the project's Torch writer.

A Torch-written fixture gives the object graph (nngraph nodes, modules,
options, criterion); :func:`resize_charrnn_lstm` swaps in a vocabulary, a
hidden size and random weights, laid out as char-rnn lays them: every weight
and bias a view into one flat parameter storage, every gradient into another.
Tests and benchmarks use it to make checkpoints no fixture has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import bridge
from bridge.t7.objects import Table
from bridge.t7.writer import dump, storage, tensor_view

FIXTURES = Path(__file__).parent / "fixtures"

# Storage class of each tensor class the templates use.
_TEMPLATES = {
    "torch.CudaTensor": ("lstm_3x128.cuda.t7", "torch.CudaStorage", np.float32),
    "torch.FloatTensor": ("lstm_3x128.float.t7", "torch.FloatStorage", np.float32),
    "torch.DoubleTensor": ("lstm_3x128.t7", "torch.DoubleStorage", np.float64),
}


def printable_vocab(size: int) -> list[bytes]:
    """``size`` distinct bytes: the newline, then printable ASCII, then more."""
    order = [10, *range(32, 127), *range(128, 256), *range(0, 10), *range(11, 32), 127]
    if not 1 <= size <= len(order):
        raise ValueError(f"a byte vocabulary has 1 to 256 tokens, not {size}")
    return [bytes([b]) for b in order[:size]]


def resize_charrnn_lstm(
    rnn_size: int,
    vocab: list[bytes],
    *,
    tensor_class: str = "torch.CudaTensor",
    seed: int = 0,
) -> Any:
    """A 3-layer char-rnn LSTM checkpoint tree with ``rnn_size`` units per
    layer, vocabulary ``vocab`` and uniform random weights in [-0.08, 0.08]."""
    template, storage_class, dtype = _TEMPLATES[tensor_class]
    root = bridge.load(FIXTURES / template)
    rnn = root["protos"]["rnn"]
    linears = {}
    for node in rnn.forwardnodes.values():
        name = node.data["annotations"].get("name")
        if name is not None:
            linears[name] = node.data["module"]

    size = len(vocab)
    shapes = {}
    for layer in (1, 2, 3):
        shapes[f"i2h_{layer}"] = (4 * rnn_size, size if layer == 1 else rnn_size)
        shapes[f"h2h_{layer}"] = (4 * rnn_size, rnn_size)
    shapes["decoder"] = (size, rnn_size)
    total = sum(out * (inp + 1) for out, inp in shapes.values())

    rng = np.random.default_rng(seed)
    params = storage(rng.uniform(-0.08, 0.08, total).astype(dtype), storage_class)
    grads = storage(np.zeros(total, dtype), storage_class)
    offset = 1
    for name, (out, inp) in shapes.items():
        module = linears[name]
        for flat, prefix in ((params, ""), (grads, "grad")):
            weight_field = "gradWeight" if prefix else "weight"
            bias_field = "gradBias" if prefix else "bias"
            module.fields[weight_field] = tensor_view(flat, offset, (out, inp))
            module.fields[bias_field] = tensor_view(flat, offset + out * inp, (out,))
        offset += out * (inp + 1)

    for module in rnn.modules.values():
        if module.torch_class == "nn.Reshape":
            module.fields["size"] = storage(
                np.array([4, rnn_size]), "torch.LongStorage"
            )
            batch = np.array(module.batchsize)
            batch[1:] = [4, rnn_size]
            module.fields["batchsize"] = storage(batch, "torch.LongStorage")
            module.fields["nelement"] = 4 * rnn_size
        elif module.torch_class == "OneHot":
            module.fields["outputSize"] = size
            eye = storage(np.eye(size, dtype=dtype), storage_class)
            module.fields["_eye"] = tensor_view(eye, 1, (size, size))

    root["vocab"] = Table({token: i for i, token in enumerate(vocab, start=1)})
    root["opt"]["rnn_size"] = rnn_size
    return root


def saturated_charrnn(path: Path, weight: float) -> Path:
    """Write to ``path`` the char-rnn LSTM 2 x 20 fixture with every weight set
    to ``weight`` with its own sign and every bias to 0: a model whose
    arithmetic overflows float64 (``weight`` near 1e308) or only saturates
    its gates (near 1e300)."""
    root = bridge.load(FIXTURES / "lstm_2x20.t7")
    for node in root["protos"]["rnn"].forwardnodes.values():
        module = node.data.get("module")
        if module is None or module.fields.get("weight") is None:
            continue
        weights = module.fields["weight"]
        weights[...] = np.where(weights > 0, weight, -weight)
        module.fields["bias"][...] = 0
    dump(root, path)
    return path

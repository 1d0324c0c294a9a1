"""Seed files for fuzzing the reader: small checkpoints of every kind of
record, written by the project's writer, and the Torch-written fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge.t7.objects import Table, TorchFunction, TorchObject
from bridge.t7.writer import dumps, storage, tensor_view

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"

# LuaJIT bytecode of `function(x) return x + 1 end`; never run, only carried.
_BYTECODE = bytes.fromhex("1b4c4a0200") + b"\x02\x02\x00\x01\x00\x00\x00\x02"


def _trees() -> dict[str, object]:
    flat = storage(np.arange(12, dtype=np.float32), "torch.CudaStorage")
    looped = Table({"name": "loop"})
    looped["self"] = looped
    module = TorchObject("nn.Linear", 1, Table())
    module.fields["weight"] = tensor_view(flat, 1, (3, 4))
    module.fields["bias"] = tensor_view(flat, 9, (4,))
    module.fields["owner"] = {"module": module}
    longs = storage(np.array([4, 20, -7]), "torch.LongStorage")
    return {
        "scalars": [None, True, False, 1.5, -0.0, float("inf"), "text", b"\xff\x00"],
        "table_keys": {"a": 1, 2: "two", 1.5: True, looped: looped},
        "module": {"protos": {"rnn": module}, "vocab": {"a": 1, "\n": 2}},
        "tensors": [
            tensor_view(flat, 2, (2, 3), (1, 2)),
            tensor_view(flat, 1, (12,)),
            np.zeros(0, dtype=np.float64),
            np.arange(6, dtype=np.int8).reshape(2, 3),
            longs,
        ],
        "functions": [
            TorchFunction(6, _BYTECODE, [1.5, "up"], 0),
            TorchFunction(7, _BYTECODE, [2], 0),
            TorchFunction(8, _BYTECODE, Table({1: {"name": "n", "value": 3}}), 0),
        ],
        "old_object": TorchObject("nn.Ancient", 0, Table({"x": 1})),
    }


def seeds() -> dict[str, bytes]:
    """Named seed files: each tree in binary with 8- and 4-byte longs and in
    ASCII, and the smaller fixtures Torch wrote."""
    found: dict[str, bytes] = {}
    for name, tree in _trees().items():
        found[f"{name}.t7"] = dumps(tree)
        found[f"{name}.long4.t7"] = dumps(tree, long_size=4)
        found[f"{name}.ascii.t7"] = dumps(tree, mode="ascii")
    for path in sorted(FIXTURES.glob("*.t7")):
        if path.stat().st_size <= 200_000:
            found[path.name] = path.read_bytes()
    return found

"""Which Torch-written fixture pairs with which golden files, and their
exports, made once per test session.

Every checkpoint in tests/fixtures (see its README) has a golden file of
Torch's probabilities (``X.golden.json``; the float32 weights' one,
``X.float.golden.json``, for a GPU-typed ``X.cuda.t7``) and a greedy file of
Torch's argmax continuation (``X.float.greedy.json`` when there is one for a
float-weight variant, else ``X.greedy.json``).
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from bridge.export import export
from bridge.modelfile import ModelFile, read_model
from bridge.models.types import RecurrentModel

FIXTURES = Path(__file__).parent / "fixtures"

CHECKPOINTS = sorted(p.name for p in FIXTURES.glob("*.t7"))

# The kinds RecurrentJS can hold; the others need --format bridge.
LSTMS = [name for name in CHECKPOINTS if "lstm" in name]
NOT_LSTMS = [name for name in CHECKPOINTS if "lstm" not in name]

# (format, encoding) of every export a checkpoint can have.
BRIDGE_FORMATS = [("bridge", "numbers"), ("bridge", "float32")]
ALL_FORMATS = [("rjs", "numbers"), *BRIDGE_FORMATS]

# Every (checkpoint, format, encoding) that exists.
EXPORTS = [
    (name, fmt, enc)
    for name in CHECKPOINTS
    for fmt, enc in (ALL_FORMATS if name in LSTMS else BRIDGE_FORMATS)
]

# The prime of every greedy file.
PRIME = "The quick brown fox.\n"

_folder = tempfile.TemporaryDirectory(prefix="rjs-bridge-exports-")


def _stems(name: str) -> tuple[str, str]:
    """``lstm_2x20.cuda.t7`` -> (``lstm_2x20.cuda``, ``lstm_2x20``)."""
    stem = name.removesuffix(".t7")
    return stem, stem.split(".")[0]


@functools.cache
def golden(name: str) -> dict[str, Any]:
    """Torch's probabilities for the checkpoint ``name``'s weights."""
    stem, base = _stems(name)
    path = FIXTURES / f"{stem}.golden.json"
    if not path.exists():
        path = FIXTURES / f"{base}.float.golden.json"
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


@functools.cache
def greedy(name: str) -> dict[str, Any]:
    """Torch's argmax continuation of PRIME for the checkpoint ``name``."""
    stem, base = _stems(name)
    float_stem = f"{base}.float" if stem.endswith(".cuda") else stem
    path = FIXTURES / f"{float_stem}.greedy.json"
    if not path.exists():
        path = FIXTURES / f"{base}.greedy.json"
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert result["prime"] == PRIME
    return result


@functools.cache
def exported(name: str, fmt: str, encoding: str) -> Path:
    """The checkpoint ``name`` exported in ``fmt`` and ``encoding`` (made once;
    tests that change an export copy it first)."""
    out = Path(_folder.name) / f"{name}.{fmt}.{encoding}.json"
    export(FIXTURES / name, out, format=fmt, encoding=encoding)  # type: ignore[arg-type]
    return out


@functools.cache
def loaded(name: str, fmt: str, encoding: str) -> ModelFile:
    """:func:`exported`, read back (once; callers must not change it)."""
    return read_model(exported(name, fmt, encoding))


@functools.cache
def checkpoint(name: str) -> RecurrentModel:
    """The model rjs-bridge recognises in the checkpoint ``name`` (once)."""
    return read_model(FIXTURES / name).model

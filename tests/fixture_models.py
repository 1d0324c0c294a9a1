"""Which Torch-written fixture pairs with which golden files, and the
models rjs-bridge recognises in them, read once per test session.

Every checkpoint in tests/fixtures (see its README) has a golden file of
Torch's probabilities (``X.golden.json``; the float32 weights' one,
``X.float.golden.json``, for a GPU-typed ``X.cuda.t7``) and a greedy file of
Torch's argmax continuation (``X.float.greedy.json`` when there is one for a
float-weight variant, else ``X.greedy.json``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from bridge.models import recognise
from bridge.models.types import RecurrentModel
from bridge.t7.reader import read_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"

CHECKPOINTS = sorted(p.name for p in FIXTURES.glob("*.t7"))

# The kinds RecurrentJS can hold; the others need --format bridge.
LSTMS = [name for name in CHECKPOINTS if "lstm" in name]
NOT_LSTMS = [name for name in CHECKPOINTS if "lstm" not in name]

# The prime of every greedy file.
PRIME = "The quick brown fox.\n"


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
def checkpoint(name: str) -> RecurrentModel:
    """The model rjs-bridge recognises in the checkpoint ``name`` (once)."""
    path = FIXTURES / name
    return recognise(read_checkpoint(path).root, str(path))

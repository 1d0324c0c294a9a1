"""rjs-bridge: run Lua Torch7 recurrent language models in a web browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.errors import BridgeError, CheckpointError, OutputError, UnsupportedError

__all__ = ["BridgeError", "CheckpointError", "OutputError", "UnsupportedError", "load"]
__version__ = "0.1.0"


def load(
    path: str | Path,
    *,
    backend: str = "auto",
    torch_prefix: str | Path | None = None,
    trust_checkpoint_code: bool = False,
    long_size: int | None = None,
) -> Any:
    """Read a Torch7 checkpoint and return its object tree with NumPy arrays.

    ``backend`` is "embedded" (rjs-bridge's own reader), "torch" (your Lua
    Torch7's torch.load) or "auto" (Torch when one is found); see
    :func:`bridge.t7.backends.load_tree` for the other options.
    """
    from bridge.t7.backends import load_tree

    return load_tree(
        path,
        backend=backend,  # type: ignore[arg-type]
        torch_prefix=torch_prefix,
        trust_checkpoint_code=trust_checkpoint_code,
        long_size=long_size,
    ).root

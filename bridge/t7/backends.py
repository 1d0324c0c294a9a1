"""Choose who reads a checkpoint: our embedded reader or the user's Lua Torch.

``embedded`` is :mod:`bridge.t7.reader`, which needs nothing but lupa and never
loads code from a file. ``torch`` is :mod:`bridge.t7.torch_backend`: Torch's
own ``torch.load`` in the same LuaJIT, for users who have a Torch7 install.
``auto`` (the default) takes Torch when one is found and loads, and the
embedded reader otherwise. Both give the same tree, so nothing downstream depends on the
choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, get_args

from bridge.t7.reader import Checkpoint, read_checkpoint
from bridge.t7.torch_backend import (
    TorchInstall,
    TorchLoadError,
    find_torch,
    read_with_torch,
    require_torch,
)

logger = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "embedded"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)


@dataclass(frozen=True)
class LoadedCheckpoint(Checkpoint):
    """A :class:`~bridge.t7.reader.Checkpoint` that also says who read it."""

    # "torch" or "embedded": the reader used, after "auto" was resolved.
    backend: Literal["torch", "embedded"] = "embedded"
    # The Torch install that read it, for the torch backend.
    torch: TorchInstall | None = None


@dataclass(frozen=True)
class ReaderChoice:
    """How checkpoints are to be read: the backend and its settings."""

    backend: Backend = "auto"
    torch_prefix: Path | None = None
    trust_checkpoint_code: bool = False
    # The width of C longs in binary files; None to detect it.
    long_size: int | None = None

    def load(
        self, path: str | Path, *, long_size: int | None = None
    ) -> LoadedCheckpoint:
        """Read ``path`` as chosen (see :func:`load_tree`); ``long_size``
        overrides the choice's own."""
        return load_tree(
            path,
            backend=self.backend,
            torch_prefix=self.torch_prefix,
            trust_checkpoint_code=self.trust_checkpoint_code,
            long_size=long_size if long_size is not None else self.long_size,
        )


def load_tree(
    path: str | Path,
    *,
    backend: Backend = "auto",
    torch_prefix: str | Path | None = None,
    trust_checkpoint_code: bool = False,
    long_size: int | None = None,
) -> LoadedCheckpoint:
    """Read a Torch7 file with the chosen backend and return its tree.

    ``torch_prefix`` names the Torch install tree to use (otherwise
    ``TORCH_PREFIX``, ``TORCH_INSTALL``, a ``th`` on PATH and
    ``~/torch/install`` are tried). ``trust_checkpoint_code`` lets Torch load a
    file holding serialized functions; without it such a file is refused by
    the torch backend (:class:`~bridge.t7.torch_backend.CheckpointCodeError`).
    The embedded backend reads functions as data and ignores both options.
    ``long_size`` (4 or 8) forces the width of C longs in a binary file.
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}"
        )

    install: TorchInstall | None = None
    if backend == "torch":
        install = require_torch(torch_prefix)
    elif backend == "auto":
        install = find_torch(torch_prefix)

    if install is not None:
        logger.info(
            "reading %s with the Lua Torch at %s (found by %s)",
            path,
            install.prefix,
            install.found_by,
        )
        try:
            checkpoint = read_with_torch(
                path,
                install,
                trust_checkpoint_code=trust_checkpoint_code,
                long_size=long_size,
            )
        except TorchLoadError as e:
            # A broken Torch install must not stop users who never asked for it.
            if backend == "torch":
                raise
            logger.warning("%s; reading with the embedded reader instead", e)
        else:
            return _loaded(checkpoint, "torch", install)
    elif backend == "auto":
        logger.debug("no Lua Torch found; reading %s with the embedded reader", path)

    checkpoint = read_checkpoint(path, long_size=long_size)
    return _loaded(checkpoint, "embedded", None)


def _loaded(
    checkpoint: Checkpoint,
    backend: Literal["torch", "embedded"],
    install: TorchInstall | None,
) -> LoadedCheckpoint:
    # Field by field: dataclasses.asdict would copy the whole tree.
    parts = {f.name: getattr(checkpoint, f.name) for f in fields(checkpoint)}
    return LoadedCheckpoint(**parts, backend=backend, torch=install)

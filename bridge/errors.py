"""The exceptions rjs-bridge raises; the command line prints them as ``Error: ...``."""

from __future__ import annotations

from pathlib import Path


class BridgeError(Exception):
    """Base of every error rjs-bridge raises on purpose."""


class CheckpointError(BridgeError):
    """A file that is not a readable Torch7 checkpoint: corrupt, truncated or
    not Torch at all.

    ``offset`` is the byte where reading failed and ``path`` the object path
    being read (``<root>.protos.rnn.modules[3].weight``), when known.
    """

    def __init__(
        self,
        file: str | Path,
        message: str,
        offset: int | None = None,
        path: str | None = None,
    ) -> None:
        self.file = str(file)
        self.offset = offset
        self.path = path
        self.detail = message
        where = self.file
        if offset is not None:
            where += f", byte {offset}"
        if path:
            where += f", at {path}"
        super().__init__(f"{where}: {message}")


class UnsupportedError(BridgeError):
    """A valid checkpoint holding something rjs-bridge does not convert."""


class OutputError(BridgeError):
    """The output cannot be written where it was asked for."""


class ModelFileError(BridgeError):
    """A JSON model file (rjs-bridge's format or RecurrentJS's) that is not
    well-formed: not JSON, truncated, or with fields that contradict each
    other."""

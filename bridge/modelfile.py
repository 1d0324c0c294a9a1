"""Open any model rjs-bridge reads: a Torch7 checkpoint or an exported JSON.

What a file is comes from its content, not its name: JSON starts with ``{``
(a Torch7 file never does), rjs-bridge's format says ``"format":
"rjs-bridge-model"``, RecurrentJS's has a ``generator``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from bridge.bridgeformat.decode import decode_document, from_document, uses_float32
from bridge.errors import ModelFileError
from bridge.models import recognise
from bridge.models.types import RecurrentModel
from bridge.recurrentjs.decode import decode as decode_recurrentjs
from bridge.t7.backends import ReaderChoice

FileFormat = Literal["t7", "rjs", "bridge"]


@dataclass(frozen=True)
class ModelFile:
    """A model and what its file said about it.

    ``float32`` is true when the file held weights rounded to float32 (the
    float32 encoding of rjs-bridge's format); ``source_sha256`` is the
    checkpoint checksum an rjs-bridge export records.
    """

    model: RecurrentModel
    format: FileFormat
    float32: bool = False
    source_sha256: str | None = None


class _Kind(msgspec.Struct):
    format: Any = None
    generator: Any = None


def read_model(
    path: Path, *, long_size: int | None = None, reader: ReaderChoice | None = None
) -> ModelFile:
    """The model in ``path``: a checkpoint (char-rnn or torch-rnn), read as
    ``reader`` chooses, an rjs-bridge export or a RecurrentJS export."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror}") from None
    if head.lstrip().startswith(b"["):
        raise ModelFileError(
            f"{path}: a JSON array, not a model: rjs-bridge reads Torch7 "
            "checkpoints and the JSON objects its exports and RecurrentJS write"
        )
    if not head.lstrip().startswith(b"{"):
        checkpoint = (reader or ReaderChoice()).load(path, long_size=long_size)
        return ModelFile(recognise(checkpoint.root, str(path)), "t7")

    data = path.read_bytes()
    try:
        kind = msgspec.json.decode(data, type=_Kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ModelFileError(f"{path}: not valid JSON: {e}") from None
    if kind.format is not None:
        doc = decode_document(data, str(path))
        return ModelFile(
            from_document(doc, str(path)),
            "bridge",
            float32=uses_float32(doc),
            source_sha256=doc.source.sha256,
        )
    if kind.generator is not None:
        return ModelFile(decode_recurrentjs(data, str(path)), "rjs")
    raise ModelFileError(
        f'{path}: a JSON object with neither "format" (rjs-bridge\'s format) nor '
        '"generator" (RecurrentJS\'s): not a model rjs-bridge exported'
    )


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

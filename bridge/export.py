"""Export a checkpoint as a RecurrentJS model or in rjs-bridge's own format:
the ``export`` job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from bridge import jsonstream
from bridge.errors import CheckpointError, UnsupportedError
from bridge.models import recognise
from bridge.models.types import RecurrentModel
from bridge.output import atomic_output, check_output_path, size_text
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, Boundary, Mapping, to_recurrentjs
from bridge.t7.backends import ReaderChoice
from bridge.t7.sniff import describe_non_torch_file

if TYPE_CHECKING:
    from bridge.bridgeformat.encode import Encoding

Format = Literal["rjs", "bridge"]


@dataclass(frozen=True)
class ExportResult:
    """What an export did, for the one-line summary."""

    model: RecurrentModel
    # The RecurrentJS mapping; None for rjs-bridge's format.
    mapping: Mapping | None
    encoding: Encoding
    output: Path | None
    size: int
    seconds: float

    def summary(self) -> str:
        m = self.model
        sizes = ", ".join(str(s) for s in m.hidden_sizes)
        layers = "layer" if len(m.hidden_sizes) == 1 else "layers"
        if self.mapping is None:
            unit = "bytes" if m.token_unit == "byte" else "characters"
            tokens = f"{unit}, rjs-bridge format, {self.encoding}"
        elif self.mapping.boundary is not None:
            tokens = f"token 0 = {self.mapping.boundary!r}"
        else:
            tokens = "token 0 inert"
        where = "stdout" if self.output is None else str(self.output)
        return (
            f"{m.kind.upper()}, {len(m.hidden_sizes)} {layers} of {sizes}, "
            f"vocabulary {len(m.tokens)} ({tokens}), {m.source.parameters:,} "
            f"parameters ({', '.join(m.source.tensor_classes)}) -> {where}, "
            f"{size_text(self.size)}, {self.seconds:.2f} s"
        )


def default_output(model_path: Path) -> Path:
    """The input's name with ``.json``: ``cv/lm.t7`` -> ``cv/lm.json``."""
    return model_path.with_suffix(".json")


def export(
    model_path: Path,
    output: Path | None,
    *,
    format: Format = "rjs",
    encoding: Encoding = "numbers",
    boundary: Boundary = AUTO_BOUNDARY,
    pretty: bool = False,
    long_size: int | None = None,
    reader: ReaderChoice | None = None,
) -> ExportResult:
    """Convert the model in ``model_path`` to ``format`` at ``output`` (None:
    stdout), checking everything before writing anything.

    ``format`` "rjs" is RecurrentJS's JSON (LSTMs only, plain numbers);
    "bridge" is rjs-bridge's own format, for every kind, with the weights as
    plain numbers or, with ``encoding`` "float32", as base64 float32.
    ``boundary`` applies to "rjs" only. ``reader`` chooses who reads the
    checkpoint (default: the user's Lua Torch when one is found, else the
    embedded reader).
    """
    started = time.perf_counter()
    if format == "rjs" and encoding != "numbers":
        raise UnsupportedError(
            "RecurrentJS's format holds plain numbers only; the float32 encoding "
            "needs --format bridge"
        )
    # What the input is, before where the output goes: a JSON file given
    # here would otherwise hear only that its default output is itself.
    problem = describe_non_torch_file(model_path)
    if problem is not None:
        raise CheckpointError(model_path, problem)
    if output is not None:
        check_output_path(output, model_path)

    checkpoint = (reader or ReaderChoice()).load(model_path, long_size=long_size)
    model = recognise(checkpoint.root, str(model_path))
    mapping = None
    document: msgspec.Struct
    arrays: list[jsonstream.Streamed]
    if format == "rjs":
        mapping = to_recurrentjs(model, boundary)
        document, arrays = mapping.model, list(mapping.arrays)
    else:
        # Imported here: the default export needs neither.
        from bridge.bridgeformat.encode import to_document
        from bridge.modelfile import sha256_file

        encoded = to_document(model, sha256=sha256_file(model_path), encoding=encoding)
        document, arrays = encoded.document, encoded.arrays

    with atomic_output(output) as f:
        size = jsonstream.write(f, document, arrays, pretty=pretty)
    return ExportResult(
        model=model,
        mapping=mapping,
        encoding=encoding,
        output=output,
        size=size,
        seconds=time.perf_counter() - started,
    )

"""Export a char-rnn checkpoint as a RecurrentJS model: the ``export`` job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bridge import jsonstream
from bridge.models import recognise
from bridge.models.types import RecurrentModel
from bridge.output import atomic_output, check_output_path
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, Boundary, Mapping, to_recurrentjs
from bridge.t7.reader import read_checkpoint


@dataclass(frozen=True)
class ExportResult:
    """What an export did, for the one-line summary."""

    model: RecurrentModel
    mapping: Mapping
    output: Path | None
    size: int
    seconds: float

    def summary(self) -> str:
        m = self.model
        sizes = ", ".join(str(s) for s in m.hidden_sizes)
        layers = "layer" if len(m.hidden_sizes) == 1 else "layers"
        boundary = self.mapping.boundary
        token0 = f"token 0 = {boundary!r}" if boundary is not None else "token 0 inert"
        where = "stdout" if self.output is None else str(self.output)
        return (
            f"{m.kind.upper()}, {len(m.hidden_sizes)} {layers} of {sizes}, "
            f"vocabulary {len(m.tokens)} ({token0}), {m.source.parameters:,} "
            f"parameters ({', '.join(m.source.tensor_classes)}) -> {where}, "
            f"{_size(self.size)}, {self.seconds:.2f} s"
        )


def default_output(model_path: Path) -> Path:
    """The input's name with ``.json``: ``cv/lm.t7`` -> ``cv/lm.json``."""
    return model_path.with_suffix(".json")


def export(
    model_path: Path,
    output: Path | None,
    *,
    boundary: Boundary = AUTO_BOUNDARY,
    pretty: bool = False,
    long_size: int | None = None,
) -> ExportResult:
    """Convert the char-rnn LSTM in ``model_path`` to RecurrentJS JSON at
    ``output`` (None: stdout), checking everything before writing anything."""
    started = time.perf_counter()
    if output is not None:
        check_output_path(output, model_path)

    checkpoint = read_checkpoint(model_path, long_size=long_size)
    model = recognise(checkpoint.root, str(model_path))
    mapping = to_recurrentjs(model, boundary)

    with atomic_output(output) as f:
        size = jsonstream.write(f, mapping.model, mapping.arrays, pretty=pretty)
    return ExportResult(
        model=model,
        mapping=mapping,
        output=output,
        size=size,
        seconds=time.perf_counter() - started,
    )


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} kB"
    return f"{n} bytes"

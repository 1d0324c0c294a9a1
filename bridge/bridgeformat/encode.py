"""A recognised model as rjs-bridge's own format (see schema.py)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, Literal, cast

import numpy as np

from bridge import jsonstream
from bridge.bridgeformat import schema
from bridge.errors import UnsupportedError
from bridge.models.types import GATES, RecurrentModel

Encoding = Literal["numbers", "float32"]
ENCODINGS: tuple[Encoding, ...] = ("numbers", "float32")


@dataclass(frozen=True)
class Document:
    """A model in rjs-bridge's format, ready to write.

    With the ``numbers`` encoding, ``document`` holds placeholders where the
    matrices' values go and ``arrays`` the values, so that
    :func:`bridge.jsonstream.write` streams them (see there).
    """

    document: schema.BridgeModel
    arrays: list[jsonstream.Streamed]


def to_document(
    model: RecurrentModel, *, sha256: str, encoding: Encoding = "numbers"
) -> Document:
    """``model`` as a :class:`~bridge.bridgeformat.schema.BridgeModel`.

    ``sha256`` is the hex digest of the checkpoint file's bytes. ``numbers``
    keeps every value exactly. ``float32`` packs the weight matrices as
    float32, rounding float64 values to the nearest float32 (exact for
    weights Torch held as float32), and keeps the bias vectors as exact
    numbers: they are few, and char-rnn's are sums of two float32 biases,
    which float32 cannot always hold.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {ENCODINGS}")
    arrays: list[jsonstream.Streamed] = []

    def matrix(values: np.ndarray) -> schema.Matrix:
        shape = [int(n) for n in values.shape]
        if encoding == "float32" and values.ndim == 2:
            with np.errstate(over="ignore"):
                rounded = np.ascontiguousarray(values, dtype="<f4")
            if not np.isfinite(rounded).all():
                raise UnsupportedError(
                    f"{model.source.file}: a weight of magnitude "
                    f"{np.abs(values).max():.3g} is beyond float32's range; "
                    "use --encoding numbers, which holds it exactly"
                )
            arrays.append(jsonstream.Float32Base64(values))
            # The text is streamed in when written (see bridge.jsonstream).
            text = cast(str, jsonstream.placeholder(len(arrays) - 1))
            return schema.Float32Base64(shape=shape, data=text)
        # float32 widens to float64 exactly, and the numbers are written as
        # the shortest decimal that reads back as the same float64.
        arrays.append(values)
        return schema.Numbers(shape=shape, data=jsonstream.placeholder(len(arrays) - 1))

    layers = [
        schema.Layer(
            input_size=layer.input_size,
            hidden_size=layer.hidden_size,
            gates={
                name: schema.Gate(
                    x=matrix(layer.gates[name].x),
                    h=matrix(layer.gates[name].h),
                    b=matrix(layer.gates[name].b),
                )
                for name in GATES[model.kind]
            },
        )
        for layer in model.layers
    ]
    tokens: list[int | str] = [
        t[0] if isinstance(t, bytes) else t for t in model.tokens
    ]
    source = model.source
    document = schema.BridgeModel(
        format="rjs-bridge-model",
        version=schema.VERSION,
        kind=model.kind,
        activation="tanh",
        token_unit=model.token_unit,
        tokens=tokens,
        embedding=None if model.embedding is None else matrix(model.embedding),
        layers=layers,
        decoder=schema.Decoder(w=matrix(model.decoder_w), b=matrix(model.decoder_b)),
        source=schema.Source(
            # The name only: a full path would tell where the user keeps files.
            file=PurePath(source.file).name,
            sha256=sha256,
            program=source.program,
            model_class=source.model_class,
            tensor_classes=list(source.tensor_classes),
            parameters=source.parameters,
            options={str(k): _option(v) for k, v in sorted(source.options.items())},
        ),
    )
    return Document(document, arrays)


def write(
    out: BinaryIO,
    model: RecurrentModel,
    *,
    sha256: str,
    encoding: Encoding = "numbers",
    pretty: bool = False,
) -> int:
    """Write ``model`` as rjs-bridge JSON to ``out``; returns the bytes written."""
    doc = to_document(model, sha256=sha256, encoding=encoding)
    return jsonstream.write(out, doc.document, doc.arrays, pretty=pretty)


def encode(
    model: RecurrentModel,
    *,
    sha256: str,
    encoding: Encoding = "numbers",
    pretty: bool = False,
) -> bytes:
    """``model`` as the JSON text of rjs-bridge's format, ending in a newline."""
    out = io.BytesIO()
    write(out, model, sha256=sha256, encoding=encoding, pretty=pretty)
    return out.getvalue()


def _option(value: Any, _open: frozenset[int] = frozenset()) -> Any:
    """A training option as JSON can hold it: Lua tables as objects (or lists
    when keyed 1..n), byte strings as Latin-1 text, non-finite numbers as
    null (which msgspec writes for them anyway). A table met again inside
    itself, which JSON cannot nest, is written as null; nesting deeper than
    JSON readers take is cut the same way."""
    if isinstance(value, dict) and (id(value) in _open or len(_open) > 64):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, np.ndarray):
        return [_option(v) for v in value.tolist()]
    if isinstance(value, dict):
        inside = _open | {id(value)}
        count = len(value)
        if count and set(value) == set(range(1, count + 1)):
            return [_option(value[k], inside) for k in range(1, count + 1)]
        return {str(k): _option(v, inside) for k, v in sorted(value.items(), key=_key)}
    return repr(value)


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])

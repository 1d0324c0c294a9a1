"""Read rjs-bridge's own format back into a model the runtime can run.

Everything a file claims is checked before it is used: the format and its
version, every matrix's encoding, shape and values, the gates each kind
needs, and that each layer reads what the one below it writes. Errors name
the field by its JSON path (``$.layers[1].gates.update.h``), what was found
and what was expected.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
import numpy as np

from bridge.bridgeformat import schema
from bridge.errors import ModelFileError, UnsupportedError
from bridge.models.types import GATES, Gate, Layer, RecurrentModel, Source


class _Header(msgspec.Struct):
    format: Any = None
    version: Any = None


def decode_document(data: bytes, where: str) -> schema.BridgeModel:
    """Parse and type-check rjs-bridge JSON; ``where`` names it in errors."""
    try:
        header = msgspec.json.decode(data, type=_Header)
    except msgspec.DecodeError as e:
        raise ModelFileError(f"{where}: not a JSON object: {e}") from None
    if header.format != schema.FORMAT:
        raise ModelFileError(
            f"{where}: format is {header.format!r}, expected {schema.FORMAT!r}"
        )
    version = header.version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{where}: version is {version!r}, expected 1")
    if version > schema.VERSION:
        raise UnsupportedError(
            f"{where}: written in version {version} of the rjs-bridge format; "
            f"this rjs-bridge reads version {schema.VERSION}: upgrade rjs-bridge"
        )
    try:
        return msgspec.json.decode(data, type=schema.BridgeModel)
    except msgspec.ValidationError as e:
        raise ModelFileError(f"{where}: {e}") from None


def from_document(doc: schema.BridgeModel, where: str) -> RecurrentModel:
    """The model a type-checked document describes, after checking that its
    parts fit together."""
    tokens = _tokens(doc, where)
    vocabulary = len(tokens)
    embedding = None
    if doc.embedding is not None:
        embedding = _matrix(doc.embedding, f"{where}: $.embedding", 2)
        _expect_shape(embedding, (vocabulary, None), f"{where}: $.embedding")
    width = vocabulary if embedding is None else int(embedding.shape[1])

    gate_names = GATES[doc.kind]
    layers = []
    for d, record in enumerate(doc.layers):
        at = f"{where}: $.layers[{d}]"
        if record.input_size != width:
            raise ModelFileError(
                f"{at}.input_size is {record.input_size}, expected {width} "
                "(what the layer below writes, or the first layer's input)"
            )
        if list(record.gates) != list(gate_names):
            raise ModelFileError(
                f"{at}.gates holds {list(record.gates)}, expected "
                f"{list(gate_names)} for a {doc.kind} model, in that order"
            )
        size = record.hidden_size
        gates = {}
        for name, gate in record.gates.items():
            g = f"{at}.gates.{name}"
            x = _expect_shape(_matrix(gate.x, f"{g}.x", 2), (size, width), f"{g}.x")
            h = _expect_shape(_matrix(gate.h, f"{g}.h", 2), (size, size), f"{g}.h")
            b = _expect_shape(_matrix(gate.b, f"{g}.b", 1), (size,), f"{g}.b")
            gates[name] = Gate(x=x, h=h, b=b)
        layers.append(Layer(gates))
        width = size

    at = f"{where}: $.decoder"
    decoder_w = _matrix(doc.decoder.w, f"{at}.w", 2)
    _expect_shape(decoder_w, (vocabulary, width), f"{at}.w")
    decoder_b = _matrix(doc.decoder.b, f"{at}.b", 1)
    _expect_shape(decoder_b, (vocabulary,), f"{at}.b")

    source = doc.source
    return RecurrentModel(
        kind=doc.kind,
        tokens=tokens,
        token_unit=doc.token_unit,
        embedding=embedding,
        layers=layers,
        decoder_w=decoder_w,
        decoder_b=decoder_b,
        source=Source(
            file=source.file,
            program=source.program,
            model_class=source.model_class,
            tensor_classes=list(source.tensor_classes),
            parameters=source.parameters,
            options=dict(source.options),
        ),
    )


def decode(data: bytes, where: str) -> RecurrentModel:
    """The model in rjs-bridge JSON ``data``; ``where`` names it in errors."""
    return from_document(decode_document(data, where), where)


def uses_float32(doc: schema.BridgeModel) -> bool:
    """Whether any matrix of ``doc`` is float32-encoded (values rounded)."""
    matrices: list[schema.Matrix | None] = [doc.embedding, doc.decoder.w, doc.decoder.b]
    for layer in doc.layers:
        for gate in layer.gates.values():
            matrices += [gate.x, gate.h, gate.b]
    return any(isinstance(m, schema.Float32Base64) for m in matrices)


def _tokens(doc: schema.BridgeModel, where: str) -> list[bytes] | list[str]:
    if not doc.tokens:
        raise ModelFileError(f"{where}: $.tokens is empty")
    seen: dict[int | str, int] = {}
    for i, token in enumerate(doc.tokens):
        expected = int if doc.token_unit == "byte" else str
        if not isinstance(token, expected):
            kind = "byte values (0-255)" if expected is int else "one-character strings"
            raise ModelFileError(
                f"{where}: $.tokens[{i}] is {token!r}, expected {kind} for "
                f'token_unit "{doc.token_unit}"'
            )
        if token in seen:
            raise ModelFileError(
                f"{where}: $.tokens[{i}] repeats $.tokens[{seen[token]}], {token!r}"
            )
        seen[token] = i
    if doc.token_unit == "byte":
        return [bytes([t]) for t in doc.tokens if isinstance(t, int)]
    return [t for t in doc.tokens if isinstance(t, str)]


def _matrix(m: schema.Matrix, at: str, ndim: int) -> np.ndarray:
    if len(m.shape) != ndim:
        expected = "[rows, columns]" if ndim == 2 else "[length]"
        raise ModelFileError(f"{at}.shape is {m.shape}, expected {expected}")
    count = int(np.prod(m.shape))
    if isinstance(m, schema.Numbers):
        try:
            values = np.array(msgspec.json.decode(m.data, type=list[float]))
        except (msgspec.ValidationError, msgspec.DecodeError) as e:
            raise ModelFileError(
                f"{at}.data: {e}, expected a list of numbers"
            ) from None
    else:
        try:
            raw = base64.b64decode(m.data, validate=True)
        except (binascii.Error, ValueError):
            raise ModelFileError(f"{at}.data is not valid base64") from None
        if len(raw) % 4:
            raise ModelFileError(
                f"{at}.data holds {len(raw)} bytes, not a whole number of float32"
            )
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if values.size != count:
        raise ModelFileError(
            f"{at}.data holds {values.size} values, expected {count} for shape "
            f"{m.shape}"
        )
    if not np.isfinite(values).all():
        first = int(np.argmax(~np.isfinite(values)))
        raise ModelFileError(f"{at}.data[{first}] is {values[first]}, not finite")
    return values.reshape(m.shape)


def _expect_shape(
    values: np.ndarray, shape: tuple[int | None, ...], at: str
) -> np.ndarray:
    if len(values.shape) != len(shape) or any(
        want is not None and have != want
        for have, want in zip(values.shape, shape, strict=True)
    ):
        want = ", ".join("any" if n is None else str(n) for n in shape)
        raise ModelFileError(f"{at}.shape is {list(values.shape)}, expected [{want}]")
    return values

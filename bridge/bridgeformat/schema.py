"""rjs-bridge's own JSON model format, version 1: every model kind, exactly.

RecurrentJS's format holds LSTMs only; this one holds char-rnn's LSTM, GRU
and tanh RNN and torch-rnn's LSTM and RNN with the formulas spelled out in
docs/bridge-format.md. The Structs below are the format's definition: their
field order is the order of the JSON, and bridge/bridgeformat/schema.json is
generated from them (``python -m bridge.bridgeformat`` rewrites it).

Matrices are row-major, in one of two encodings: plain JSON numbers (the
exact float64 values) or little-endian float32 packed in base64 (compact,
exact for weights that were float32 in Torch).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

FORMAT = "rjs-bridge-model"
VERSION = 1

_Shape = Annotated[
    list[Annotated[int, msgspec.Meta(ge=0)]],
    msgspec.Meta(
        min_length=1,
        max_length=2,
        description="[rows, columns] of a matrix, [length] of a vector.",
    ),
]


class Numbers(msgspec.Struct, tag_field="encoding", tag="numbers"):
    """A matrix (or vector) as JSON numbers, row by row."""

    shape: _Shape
    # Pre-encoded JSON, so that weights go from NumPy to text without a
    # detour through a list of Python floats.
    data: Annotated[
        msgspec.Raw,
        msgspec.Meta(
            description="The values in row-major order, as one flat list.",
            extra_json_schema={"type": "array", "items": {"type": "number"}},
        ),
    ]


class Float32Base64(msgspec.Struct, tag_field="encoding", tag="float32-base64"):
    """A matrix (or vector) as little-endian float32 values, base64-encoded."""

    shape: _Shape
    data: Annotated[
        str,
        msgspec.Meta(
            description="The values in row-major order as little-endian IEEE "
            "754 float32, 4 bytes each, in standard base64 with padding.",
            extra_json_schema={"contentEncoding": "base64"},
        ),
    ]


Matrix = Numbers | Float32Base64


class Gate(msgspec.Struct):
    """One gate: pre-activation = x @ input + h @ hidden + b.

    ``x`` is [hidden, input], ``h`` [hidden, hidden], ``b`` [hidden].
    """

    x: Matrix
    h: Matrix
    b: Matrix


class Layer(msgspec.Struct):
    """One recurrent layer; ``gates`` are keyed and ordered by kind:
    lstm: input, forget, output, candidate; gru: reset, update, candidate;
    rnn: hidden."""

    input_size: Annotated[int, msgspec.Meta(ge=1)]
    hidden_size: Annotated[int, msgspec.Meta(ge=1)]
    gates: dict[str, Gate]


class Decoder(msgspec.Struct):
    """Next-token scores: w @ h_top + b; ``w`` is [vocabulary, hidden]."""

    w: Matrix
    b: Matrix


class Source(msgspec.Struct):
    """Where the model came from."""

    file: Annotated[str, msgspec.Meta(description="The checkpoint's file name.")]
    sha256: Annotated[
        str,
        msgspec.Meta(
            pattern="^[0-9a-f]{64}$",
            description="SHA-256 of the checkpoint file's bytes, in hex.",
        ),
    ]
    program: Annotated[
        str, msgspec.Meta(description='The training program: "char-rnn", "torch-rnn".')
    ]
    model_class: Annotated[
        str,
        msgspec.Meta(description='Torch class of the model: "nn.gModule", ...'),
    ]
    tensor_classes: Annotated[
        list[str],
        msgspec.Meta(description='Torch classes of the weights: "torch.CudaTensor".'),
    ]
    parameters: Annotated[
        int,
        msgspec.Meta(ge=0, description="Parameters as Torch counts them."),
    ]
    options: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="The training options (char-rnn's and torch-rnn's opt); "
            "values that are not finite numbers are null."
        ),
    ]


class BridgeModel(msgspec.Struct, kw_only=True):
    """A character-level recurrent language model.

    ``tokens`` are byte values (0-255) when ``token_unit`` is "byte"
    (char-rnn) and strings of one character when it is "char" (torch-rnn),
    in the checkpoint's own index order. ``embedding`` [vocabulary, input] is
    what the first layer reads per token; null means the one-hot vector.
    """

    format: Literal["rjs-bridge-model"]
    version: Annotated[int, msgspec.Meta(ge=1)]
    kind: Literal["lstm", "gru", "rnn"]
    activation: Literal["tanh"]
    token_unit: Literal["byte", "char"]
    tokens: list[
        Annotated[int, msgspec.Meta(ge=0, le=255)]
        | Annotated[str, msgspec.Meta(min_length=1, max_length=1)]
    ]
    embedding: Matrix | None
    layers: Annotated[list[Layer], msgspec.Meta(min_length=1)]
    decoder: Decoder
    source: Source


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`BridgeModel`, as shipped in schema.json."""
    schema = msgspec.json.schema(BridgeModel)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{FORMAT} version {VERSION}",
        **schema,
    }


def schema_json() -> bytes:
    """The text of schema.json: :func:`json_schema`, indented, with a final
    newline."""
    return msgspec.json.format(msgspec.json.encode(json_schema()), indent=2) + b"\n"

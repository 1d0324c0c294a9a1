"""rjs-bridge's own JSON model format, version 1: every model kind, exactly.

RecurrentJS's format holds LSTMs only; this one holds char-rnn's LSTM, GRU
and tanh RNN and torch-rnn's LSTM and RNN with the formulas spelled out in
docs/bridge-format.md. The Structs below are the format's definition: their
field order is the order of the JSON, and bridge/bridgeformat/schema.json is
generated from them.

Matrices are row-major, in one of two encodings: plain JSON numbers (the
exact float64 values) or little-endian float32 packed in base64 (compact,
exact for weights that were float32 in Torch).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

FORMAT = "rjs-bridge-model"
VERSION = 1


class Numbers(msgspec.Struct, tag_field="encoding", tag="numbers"):
    """A matrix (or vector) as JSON numbers, row by row."""

    shape: list[int]
    data: msgspec.Raw


class Float32Base64(msgspec.Struct, tag_field="encoding", tag="float32-base64"):
    """A matrix (or vector) as little-endian float32 values, base64-encoded."""

    shape: list[int]
    data: str


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

    input_size: int
    hidden_size: int
    gates: dict[str, Gate]


class Decoder(msgspec.Struct):
    """Next-token scores: w @ h_top + b; ``w`` is [vocabulary, hidden]."""

    w: Matrix
    b: Matrix


class Source(msgspec.Struct):
    """Where the model came from."""

    file: str
    sha256: str
    program: str
    model_class: str
    tensor_classes: list[str]
    parameters: int
    options: dict[str, Any]


class BridgeModel(msgspec.Struct, kw_only=True):
    """A character-level recurrent language model.

    ``tokens`` are byte values (0-255) when ``token_unit`` is "byte"
    (char-rnn) and strings of one character when it is "char" (torch-rnn),
    in the checkpoint's own index order. ``embedding`` [vocabulary, input] is
    what the first layer reads per token; null means the one-hot vector.
    """

    format: Literal["rjs-bridge-model"] = FORMAT
    version: int = VERSION
    kind: Literal["lstm", "gru", "rnn"]
    activation: Literal["tanh"]
    token_unit: Literal["byte", "char"]
    tokens: list[int | str]
    embedding: Matrix | None
    layers: list[Layer]
    decoder: Decoder
    source: Source

"""rjs-bridge's own format, and reading exports of both formats back.

Each export of each Torch-written fixture is read back and run by the NumPy
runtime on the golden text: it must give Torch's own next-character
probabilities (computed by Torch in double precision) to within 1e-9 with
plain numbers, 1e-6 with float32 weights.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bridge.bridgeformat import decode, encode, json_schema
from bridge.bridgeformat.schema import schema_json
from bridge.cli import cli
from bridge.errors import ModelFileError, UnsupportedError
from bridge.modelfile import read_model
from bridge.models.types import RecurrentModel
from bridge.recurrentjs.decode import decode as decode_recurrentjs
from bridge.runtime import Network, softmax
from tests.fixture_models import (
    EXPORTS,
    FIXTURES,
    NOT_LSTMS,
    checkpoint,
    exported,
    golden,
    loaded,
)

TOLERANCE = {"numbers": 1e-9, "float32": 1e-6}


def _max_error(model: RecurrentModel, gold: dict[str, Any]) -> float:
    """Feed the golden text; the largest gap to Torch's probabilities."""
    network = Network(model)
    worst = 0.0
    for step, torch_index in enumerate(gold["inputs"]):
        probs = np.array(softmax(network.feed(torch_index - 1)))
        worst = max(worst, float(np.abs(probs - gold["probs_double"][step]).max()))
    return worst


def _same_weights(a: RecurrentModel, b: RecurrentModel) -> bool:
    def same(x: np.ndarray | None, y: np.ndarray | None) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return x.shape == y.shape and bool(np.array_equal(x, y))

    return (
        a.kind == b.kind
        and a.tokens == b.tokens
        and a.token_unit == b.token_unit
        and same(a.embedding, b.embedding)
        and same(a.decoder_w, b.decoder_w)
        and same(a.decoder_b, b.decoder_b)
        and len(a.layers) == len(b.layers)
        and all(
            list(x.gates) == list(y.gates)
            and all(
                same(x.gates[g].x, y.gates[g].x)
                and same(x.gates[g].h, y.gates[g].h)
                and same(x.gates[g].b, y.gates[g].b)
                for g in x.gates
            )
            for x, y in zip(a.layers, b.layers, strict=True)
        )
    )


@pytest.mark.parametrize(("name", "fmt", "encoding"), EXPORTS)
def test_export_matches_torch_probabilities(name: str, fmt: str, encoding: str) -> None:
    gold = golden(name)
    export = loaded(name, fmt, encoding)

    assert export.format == fmt
    assert export.float32 == (encoding == "float32")
    assert len(gold["probs_double"]) > 50
    assert _max_error(export.model, gold) < TOLERANCE[encoding]


@pytest.mark.parametrize(
    ("name", "fmt"), [(n, f) for n, f, e in EXPORTS if e == "numbers"]
)
def test_export_numbers_read_back_exactly(name: str, fmt: str) -> None:
    # Same tokens in the checkpoint's order, same values, same arrays.
    assert _same_weights(loaded(name, fmt, "numbers").model, checkpoint(name))


@pytest.mark.parametrize(
    "name",
    [
        "lstm_2x20.cuda.t7",
        "pg_lstm_2x64.cuda.t7",
        "torchrnn_lstm_2x32.t7",
        "torchrnn_rnn.t7",
    ],
)
def test_export_float32_is_exact_for_float32_weights(name: str) -> None:
    # Biases stay numbers, so char-rnn's summed float32 biases survive too.
    assert _same_weights(loaded(name, "bridge", "float32").model, checkpoint(name))


def test_export_float32_rounds_float64_weights_to_nearest() -> None:
    model = checkpoint("lstm_2x20.t7")
    export = loaded("lstm_2x20.t7", "bridge", "float32").model

    assert export.decoder_w.dtype == np.float32
    assert np.array_equal(export.decoder_w, model.decoder_w.astype(np.float32))
    assert not np.array_equal(export.decoder_w, model.decoder_w)
    # Vectors are exact numbers in either encoding.
    assert np.array_equal(export.decoder_b, model.decoder_b)


@pytest.mark.parametrize("name", NOT_LSTMS)
def test_export_rjs_refuses_gru_and_rnn_and_writes_nothing(
    tmp_path: Path, name: str
) -> None:
    source = tmp_path / name
    source.write_bytes((FIXTURES / name).read_bytes())

    result = CliRunner().invoke(cli, ["export", str(source)])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {source}: this is a")
    assert "RecurrentJS runs LSTMs only" in result.output
    assert "Use --format bridge, which holds it exactly" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--encoding", "float32"], "--encoding float32 needs --format bridge"),
        (["--format", "bridge", "--boundary", "."], "--format bridge has no token 0"),
        (["--format", "bridge", "--no-boundary"], "--format bridge has no token 0"),
        (["--format", "json"], "'json' is not one of 'rjs', 'bridge'"),
    ],
)
def test_export_options_that_exclude_each_other(
    tmp_path: Path, options: list[str], message: str
) -> None:
    out = tmp_path / "out.json"
    args = ["export", str(FIXTURES / "lstm_2x20.t7"), "-o", str(out), *options]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_export_bridge_layout_and_source(tmp_path: Path) -> None:
    path = exported("gru_2x32.t7", "bridge", "numbers")
    doc = json.loads(path.read_text(encoding="utf-8"))
    checkpoint = FIXTURES / "gru_2x32.t7"

    assert list(doc) == [
        "format",
        "version",
        "kind",
        "activation",
        "token_unit",
        "tokens",
        "embedding",
        "layers",
        "decoder",
        "source",
    ]
    assert (doc["format"], doc["version"], doc["kind"]) == (
        "rjs-bridge-model",
        1,
        "gru",
    )
    assert (doc["activation"], doc["token_unit"]) == ("tanh", "byte")
    assert doc["tokens"][:4] == [10, 32, 33, 36]
    assert doc["embedding"] is None
    layer = doc["layers"][1]
    assert (layer["input_size"], layer["hidden_size"]) == (32, 32)
    assert list(layer["gates"]) == ["reset", "update", "candidate"]
    assert layer["gates"]["update"]["x"]["encoding"] == "numbers"
    assert layer["gates"]["update"]["x"]["shape"] == [32, 32]
    assert len(layer["gates"]["update"]["x"]["data"]) == 32 * 32
    assert doc["decoder"]["w"]["shape"] == [65, 32]
    assert doc["source"] == {
        "file": "gru_2x32.t7",
        "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "program": "char-rnn",
        "model_class": "nn.gModule",
        "tensor_classes": ["torch.DoubleTensor"],
        "parameters": 17985,
        "options": doc["source"]["options"],
    }
    assert doc["source"]["options"]["model"] == "gru"
    assert doc["source"]["options"]["rnn_size"] == 32
    assert doc["source"]["options"]["learning_rate"] == 0.002
    assert list(doc["source"]["options"]) == sorted(doc["source"]["options"])


def test_export_bridge_torchrnn_holds_characters_and_embedding() -> None:
    doc = json.loads(
        exported("torchrnn_lstm_bn.t7", "bridge", "float32").read_text(encoding="utf-8")
    )

    assert doc["token_unit"] == "char"
    assert doc["tokens"][:12] == list("First Czen:\n")
    assert doc["embedding"]["encoding"] == "float32-base64"
    assert doc["embedding"]["shape"] == [65, 16]
    assert len(base64.b64decode(doc["embedding"]["data"])) == 65 * 16 * 4
    # Bias vectors stay exact numbers in the float32 encoding.
    assert doc["decoder"]["b"]["encoding"] == "numbers"
    assert doc["source"]["program"] == "torch-rnn"
    assert doc["source"]["model_class"] == "nn.LanguageModel"
    assert doc["source"]["options"]["batchnorm"] == 1


def test_export_non_finite_options_become_null() -> None:
    model = checkpoint("rnn_2x32.t7")
    options = {"dropout": math.nan, "lr": math.inf, "nested": {1: -math.inf, 2: 3}}
    model = dataclasses.replace(
        model, source=dataclasses.replace(model.source, options=options)
    )

    text = encode(model, sha256="0" * 64)

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-strict JSON: {constant}")

    doc = json.loads(text, parse_constant=refuse)
    assert doc["source"]["options"] == {
        "dropout": None,
        "lr": None,
        "nested": [None, 3],
    }


def test_schema_json_is_up_to_date() -> None:
    shipped = Path(__file__).parent.parent / "bridge" / "bridgeformat" / "schema.json"

    # If this fails, run: python -m bridge.bridgeformat
    assert shipped.read_bytes() == schema_json()
    assert json.loads(shipped.read_bytes())["$defs"]["BridgeModel"]["required"] == [
        "format",
        "version",
        "kind",
        "activation",
        "token_unit",
        "tokens",
        "embedding",
        "layers",
        "decoder",
        "source",
    ]
    assert json_schema()["$defs"]["Numbers"]["properties"]["data"]["type"] == "array"


def test_decode_rjs_restores_checkpoint_order_of_moved_newline() -> None:
    # torch-rnn numbers tokens by first appearance: the newline is 12th, and
    # the RecurrentJS export moves it to token 0.
    path = exported("torchrnn_lstm_2x32.t7", "rjs", "numbers")
    doc = json.loads(path.read_text(encoding="utf-8"))
    model = checkpoint("torchrnn_lstm_2x32.t7")

    assert doc["letterToIndex"]["\n"] == 0
    assert doc["checkpoint_order"][:13] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 12]
    assert model.tokens[11] == "\n"
    assert _same_weights(decode_recurrentjs(path.read_bytes(), "x.json"), model)


def test_decode_rjs_without_checkpoint_order_reads_one_hot_wil() -> None:
    # A char-rnn export with '.' as token 0: the one-hot Wil alone says where
    # '.' belongs, as in exports made before checkpoint_order existed.
    from bridge.export import export

    path = Path(exported("lstm_2x20.t7", "rjs", "numbers")).with_name("dot.json")
    from bridge.recurrentjs.mapping import Boundary

    export(FIXTURES / "lstm_2x20.t7", path, boundary=Boundary("."))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["letterToIndex"]["."] == 0
    del doc["checkpoint_order"]

    decoded = decode_recurrentjs(json.dumps(doc).encode(), "dot.json")

    assert _same_weights(decoded, checkpoint("lstm_2x20.t7"))


def test_decode_rjs_reads_the_demos_object_matrices() -> None:
    # The demo saves an R.Mat's Float64Array, which JSON.stringify writes as
    # an object keyed "0", "1", ...
    path = exported("lstm_2x20.t7", "rjs", "numbers")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for mat in doc["model"].values():
        mat["w"] = {str(i): v for i, v in enumerate(mat["w"])}

    decoded = decode_recurrentjs(json.dumps(doc).encode(), "demo.json")

    assert _same_weights(decoded, checkpoint("lstm_2x20.t7"))


def _bridge_doc() -> dict[str, Any]:
    path = exported("lstm_2x20.t7", "bridge", "numbers")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _rjs_doc() -> dict[str, Any]:
    path = exported("lstm_2x20.t7", "rjs", "numbers")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``doc`` with the value at the dotted ``path`` replaced (or deleted);
    a callable value is given the document first."""
    if callable(value):
        value = value(doc)
    *parents, last = path.split(".")
    target: Any = doc
    for step in parents:
        target = target[int(step)] if isinstance(target, list) else target[step]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "format",
            "something-else",
            "format is 'something-else', expected 'rjs-bridge-model'",
        ),
        ("version", "1", "version is '1', expected 1"),
        ("kind", "transformer", "Invalid enum value 'transformer' - at `$.kind`"),
        (
            "layers.0.gates.forget",
            _DELETE,
            "expected ['input', 'forget', 'output', 'candidate']",
        ),
        ("layers.1.input_size", 21, "$.layers[1].input_size is 21, expected 20"),
        (
            "layers.0.gates.input.x",
            lambda doc: doc["layers"][0]["gates"]["input"]["h"],
            "$.layers[0].gates.input.x.shape is [20, 20], expected [20, 65]",
        ),
        (
            "layers.0.gates.input.b.data",
            [1, 2],
            "$.layers[0].gates.input.b.data holds 2 values, expected 20",
        ),
        ("layers.0.gates.input.b.data", ["x"] * 20, "expected a list of numbers"),
        (
            "decoder.w",
            lambda doc: doc["layers"][1]["gates"]["input"]["h"],
            "$.decoder.w.shape is [20, 20], expected [65, 20]",
        ),
        (
            "decoder.w.shape",
            [1300],
            "$.decoder.w.shape is [1300], expected [rows, columns]",
        ),
        ("tokens.1", 10, "$.tokens[1] repeats $.tokens[0], 10"),
        ("tokens.1", "a", "$.tokens[1] is 'a', expected byte values (0-255)"),
        ("tokens.1", 256, "Expected `int` <= 255 - at `$.tokens[1]`"),
        ("source.sha256", "abc", "Expected `str` matching regex"),
        (
            "embedding",
            {"encoding": "float32-base64", "shape": [65, 2], "data": "!!"},
            "$.embedding.data is not valid base64",
        ),
        (
            "embedding",
            {"encoding": "float32-base64", "shape": [1, 1], "data": "AADAfw=="},
            "$.embedding.data[0] is nan, not finite",
        ),
    ],
)
def test_decode_bridge_names_the_bad_field(path: str, value: Any, message: str) -> None:
    data = json.dumps(_set(_bridge_doc(), path, value)).encode()

    with pytest.raises(ModelFileError) as raised:
        decode(data, "m.json")

    assert str(raised.value).startswith("m.json: ")
    assert message in str(raised.value)


def test_decode_bridge_newer_version_is_unsupported() -> None:
    data = json.dumps(_set(_bridge_doc(), "version", 2)).encode()

    with pytest.raises(
        UnsupportedError,
        match="version 2 of the rjs-bridge format; this rjs-bridge reads version 1",
    ):
        decode(data, "m.json")


@pytest.mark.parametrize("cut", [1, 2, 1000])
def test_read_model_truncated_json_is_an_error(tmp_path: Path, cut: int) -> None:
    data = exported("lstm_2x20.t7", "bridge", "numbers").read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[:cut])

    with pytest.raises(ModelFileError) as raised:
        read_model(path)

    assert str(raised.value).startswith(f"{path}: not valid JSON: ")


@pytest.mark.parametrize(
    ("path", "value", "error", "message"),
    [
        (
            "generator",
            "rnn",
            UnsupportedError,
            "generator is 'rnn'; rjs-bridge runs RecurrentJS LSTMs",
        ),
        ("model.bd.w.0", 0.5, UnsupportedError, None),
        ("model.Wih1", _DELETE, ModelFileError, "model has no matrix Wih1"),
        (
            "model.Wix0.n",
            19,
            ModelFileError,
            "model.Wix0.w holds 1300 values, expected n x d = 19 x 65 = 1235",
        ),
        (
            "indexToLetter.3",
            "ab",
            ModelFileError,
            "indexToLetter['3'] is 'ab', expected one character",
        ),
        (
            "letterToIndex.a",
            3,
            ModelFileError,
            "letterToIndex['a'] is 3, but indexToLetter gives that token '$'",
        ),
        (
            "checkpoint_order",
            [0, 0],
            ModelFileError,
            "checkpoint_order lists tokens [0, 0]",
        ),
    ],
)
def test_decode_rjs_names_the_bad_field(
    path: str, value: Any, error: type[Exception], message: str | None
) -> None:
    doc = _rjs_doc()
    if path == "model.bd.w.0":
        # The demo's own START/END token: no character, yet predicted.
        del doc["indexToLetter"]["0"]
        del doc["letterToIndex"]["\n"]
        message = "token 0 has no character but can be predicted (bd[0] is 0.5)"
    data = json.dumps(_set(doc, path, value)).encode()

    with pytest.raises(error) as raised:
        decode_recurrentjs(data, "m.json")

    assert message is not None and message in str(raised.value)


def test_read_model_refuses_json_of_neither_format(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')

    with pytest.raises(ModelFileError, match='neither "format"'):
        read_model(path)


def test_read_model_calls_a_json_array_a_json_array(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("  [1, 2, 3]")

    with pytest.raises(ModelFileError) as raised:
        read_model(path)

    assert str(raised.value) == (
        f"{path}: a JSON array, not a model: rjs-bridge reads Torch7 checkpoints "
        "and the JSON objects its exports and RecurrentJS write"
    )


def test_docs_matrix_examples_are_the_same_matrix() -> None:
    docs = Path(__file__).parent.parent / "docs" / "bridge-format.md"
    examples = [
        json.loads(line)
        for line in docs.read_text(encoding="utf-8").splitlines()
        if line.startswith('{"encoding"')
    ]

    numbers, packed = examples
    assert numbers["encoding"] == "numbers"
    assert packed["encoding"] == "float32-base64"
    assert numbers["shape"] == packed["shape"] == [2, 3]
    values = np.frombuffer(base64.b64decode(packed["data"]), "<f4")
    assert values.tolist() == numbers["data"]

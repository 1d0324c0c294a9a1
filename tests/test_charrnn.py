"""Recognising char-rnn's LSTM by graph structure, not by names or order."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

import bridge
from bridge import jsonstream
from bridge.models.charrnn import recognise
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, to_recurrentjs
from bridge.t7.objects import Table

FIXTURES = Path(__file__).parent / "fixtures"


def _export_bytes(root: object) -> bytes:
    mapping = to_recurrentjs(recognise(root, "test"), AUTO_BOUNDARY)
    out = io.BytesIO()
    jsonstream.write(out, mapping.model, mapping.arrays)
    return out.getvalue()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", ["lstm_2x20.t7", "lstm_3x128.cuda.t7"])
def test_recognise_without_names_in_any_node_order(name: str, seed: int) -> None:
    root = bridge.load(FIXTURES / name)
    expected = _export_bytes(root)
    rnn = root["protos"]["rnn"]

    # Old checkpoints have no node names; and list order must not matter.
    for node in rnn.forwardnodes.values():
        node.data["annotations"].pop("name", None)
    _shuffle_graph(rnn, seed)

    assert _export_bytes(root) == expected


def _shuffle_graph(rnn: Any, seed: int) -> None:
    """List an nngraph gModule's nodes, each node's children and the inputs of
    its commutative modules (whose order does not matter) in another order."""
    shuffle = random.Random(seed).shuffle
    nodes = list(rnn.forwardnodes.values())
    shuffle(nodes)
    rnn.fields["forwardnodes"] = Table(enumerate(nodes, start=1))
    for node in nodes:
        children = [c for k, c in node.children.items() if isinstance(k, int)]
        shuffle(children)
        node.fields["children"] = Table(enumerate(children, start=1))
        mapindex = node.data.get("mapindex")
        module = node.data.get("module")
        commutative = ("nn.CAddTable", "nn.CMulTable")
        if mapindex and module is not None and module.torch_class in commutative:
            items = [v for k, v in mapindex.items() if isinstance(k, int)]
            shuffle(items)
            node.data["mapindex"] = Table(enumerate(items, start=1))


def test_recognise_finds_layers_and_gates() -> None:
    model = recognise(bridge.load(FIXTURES / "lstm_3x128.t7"), "test")

    rnn = bridge.load(FIXTURES / "lstm_3x128.t7")["protos"]["rnn"]
    i2h_2 = rnn.modules[19]
    assert i2h_2.torch_class == "nn.Linear"

    assert model.kind == "lstm"
    assert model.hidden_sizes == [128, 128, 128]
    assert [layer.input_size for layer in model.layers] == [65, 128, 128]
    assert model.decoder_w.shape == (65, 128)
    assert model.tokens[0] == b"\n"
    assert model.token_unit == "byte"
    assert model.source.tensor_classes == ["torch.DoubleTensor"]
    assert model.source.parameters == 372417
    # Gates are i2h's row blocks in order input, forget, output, candidate.
    second = model.layers[1].gates
    assert np.array_equal(second["forget"].x, i2h_2.weight[128:256])
    assert np.array_equal(second["candidate"].x, i2h_2.weight[384:512])


def test_recognise_old_dropout_scales_the_next_layer_input() -> None:
    root = bridge.load(FIXTURES / "lstm_1x16_dropout.t7")
    rnn = root["protos"]["rnn"]
    dropout = next(m for m in rnn.modules.values() if m.torch_class == "nn.Dropout")
    # A Dropout from before nn's v2 multiplies by 1 - p in evaluation mode.
    dropout.fields["v2"] = False
    p = dropout.p

    exported = msgspec.json.decode(_export_bytes(root))

    decoder = next(
        m
        for m in rnn.modules.values()
        if m.torch_class == "nn.Linear" and m.weight.shape == (65, 16)
    )
    assert p == 0.5
    whd = np.array(exported["model"]["Whd"]["w"]).reshape(65, 16)
    assert np.array_equal(whd[0], decoder.weight[0] * 0.5)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("gru_2x32.t7", "gru"), ("rnn_2x32.t7", "rnn"), ("lstm_2x20.t7", "lstm")],
)
def test_recognise_kind_from_structure_without_options(name: str, kind: str) -> None:
    root = bridge.load(FIXTURES / name)
    del root["opt"]

    assert recognise(root, name).kind == kind


def test_recognise_refuses_a_gru_graph_said_to_be_lstm() -> None:
    root = bridge.load(FIXTURES / "gru_2x32.t7")
    root["opt"]["model"] = "lstm"

    with pytest.raises(bridge.UnsupportedError, match="not a char-rnn LSTM graph"):
        recognise(root, "gru")


def _bridge_bytes(root: object) -> bytes:
    model = recognise(root, "test")
    layers = [
        {
            g: (v.x.tobytes(), v.h.tobytes(), v.b.tobytes())
            for g, v in layer.gates.items()
        }
        for layer in model.layers
    ]
    return repr((model.kind, layers, model.decoder_w.tobytes())).encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", ["gru_2x32.t7", "rnn_2x32.t7"])
def test_recognise_gru_and_rnn_in_any_node_order(name: str, seed: int) -> None:
    root = bridge.load(FIXTURES / name)
    expected = _bridge_bytes(root)
    rnn = root["protos"]["rnn"]

    _shuffle_graph(rnn, seed)

    assert _bridge_bytes(root) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.update({"x": v["\n"]}), "vocab gives index 1 to both"),
        (lambda v: v.update({"ab": 66}), "vocab key 'ab' is not a single byte"),
        (lambda v: v.pop("a"), "vocab indices should run 1..64 without gaps"),
    ],
)
def test_recognise_refuses_bad_vocabularies(change: object, message: str) -> None:
    root = bridge.load(FIXTURES / "lstm_2x20.t7")
    change(root["vocab"])  # type: ignore[operator]

    with pytest.raises(bridge.UnsupportedError, match=message):
        recognise(root, "lstm_2x20.t7")


def test_recognise_refuses_non_finite_weights() -> None:
    root = bridge.load(FIXTURES / "lstm_2x20.t7")
    decoder = root["protos"]["rnn"].modules[35]
    decoder.weight[3, 7] = np.nan

    with pytest.raises(
        bridge.UnsupportedError,
        match=r"protos.rnn nn.Linear 'decoder' weight\[4, 8\] is nan \(1 such",
    ):
        recognise(root, "lstm_2x20.t7")

"""Recognising char-rnn's LSTM by graph structure, not by names or order."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import numpy as np
import pytest

import bridge
from bridge.models.charrnn import recognise
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, to_recurrentjs
from bridge.t7.objects import Table

FIXTURES = Path(__file__).parent / "fixtures"


def _export_bytes(root: object) -> bytes:
    model = recognise(root, "test")
    return msgspec.json.encode(to_recurrentjs(model, AUTO_BOUNDARY).model)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", ["lstm_2x20.t7", "lstm_3x128.cuda.t7"])
def test_recognise_without_names_in_any_node_order(name: str, seed: int) -> None:
    root = bridge.load(FIXTURES / name)
    expected = _export_bytes(root)
    rnn = root["protos"]["rnn"]

    # Old checkpoints have no node names; and list order must not matter.
    nodes = list(rnn.forwardnodes.values())
    for node in nodes:
        node.data["annotations"].pop("name", None)
    random.Random(seed).shuffle(nodes)
    rnn.fields["forwardnodes"] = Table(enumerate(nodes, start=1))
    for node in nodes:
        children = [c for k, c in node.children.items() if isinstance(k, int)]
        random.Random(seed).shuffle(children)
        node.fields["children"] = Table(enumerate(children, start=1))

    assert _export_bytes(root) == expected


def test_recognise_finds_layers_and_gates() -> None:
    model = recognise(bridge.load(FIXTURES / "lstm_3x128.t7"), "test")

    assert model.kind == "lstm"
    assert model.hidden_sizes == [128, 128, 128]
    assert [layer.gate_blocks for layer in model.layers] == [(0, 1, 2, 3)] * 3
    assert model.layers[0].i2h.in_size == 65
    assert model.layers[1].i2h.in_size == 128
    assert model.decoder.out_size == 65
    assert model.vocab[0] == b"\n"
    assert model.weight_class == "torch.DoubleTensor"
    assert model.parameter_count == 372417


def test_recognise_old_dropout_scales_the_next_layer_input() -> None:
    root = bridge.load(FIXTURES / "lstm_1x16_dropout.t7")
    rnn = root["protos"]["rnn"]
    dropout = next(m for m in rnn.modules.values() if m.torch_class == "nn.Dropout")
    # A Dropout from before nn's v2 multiplies by 1 - p in evaluation mode.
    dropout.fields["v2"] = False
    p = dropout.p

    model = recognise(root, "test")
    exported = msgspec.json.decode(
        msgspec.json.encode(to_recurrentjs(model, AUTO_BOUNDARY).model)
    )

    assert p == 0.5
    assert model.decoder_input_scale == 0.5
    whd = np.array(exported["model"]["Whd"]["w"]).reshape(65, 16)
    newline_row = model.decoder.weight[0]
    assert np.array_equal(whd[0], newline_row * 0.5)


def test_recognise_refuses_a_gru_graph_without_options() -> None:
    root = bridge.load(FIXTURES / "gru_2x32.t7")
    del root["opt"]

    with pytest.raises(bridge.UnsupportedError, match="not a char-rnn LSTM graph"):
        recognise(root, "gru")


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
    model = recognise(root, "lstm_2x20.t7")
    model.decoder.weight[3, 7] = np.nan

    with pytest.raises(bridge.UnsupportedError, match=r"weight\[4, 8\] is nan"):
        to_recurrentjs(model, AUTO_BOUNDARY)

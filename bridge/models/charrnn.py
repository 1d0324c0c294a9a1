"""Recognise a char-rnn checkpoint (karpathy/char-rnn) and its LSTM.

A char-rnn checkpoint is a table with ``protos.rnn`` (an nngraph
``nn.gModule``), ``opt`` (training options) and ``vocab`` (byte string to
1-based index). The LSTM is found by the graph's structure, following
char-rnn's model/LSTM.lua (6f9487a): per layer, two ``nn.Linear`` (i2h on the
layer's input, h2h on the previous hidden state) summed by ``nn.CAddTable``,
reshaped to (4, rnn_size), split into four gates, three through ``nn.Sigmoid``
and one through ``nn.Tanh``; the cell is f*c + i*g and the hidden state
o*tanh(c). Which split output is which gate is read from how the gates are
used, and which layer is which from what feeds what. Node annotations
(``i2h_1``, ``decoder``) are not needed, so older checkpoints work too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.errors import UnsupportedError
from bridge.models.checks import check_finite
from bridge.models.nngraph import Graph, Op
from bridge.models.types import GATES, Gate, Layer, RecurrentModel, Source
from bridge.t7.objects import Table, TorchArray, TorchObject

# Modules that pass their input through unchanged in evaluation mode, apart
# from the scaling of old-style dropout.
_PASS_THROUGH = {"nn.Identity", "nn.Dropout"}


def recognise(root: Any, source: str) -> RecurrentModel:
    """The char-rnn model in a loaded checkpoint, or UnsupportedError saying
    what was found instead."""
    if not isinstance(root, Table):
        raise UnsupportedError(
            f"{source}: not a char-rnn checkpoint: the file holds a "
            f"{_describe(root)}, expected a table with protos, opt and vocab"
        )
    if isinstance(root.get("model"), TorchObject):
        found = root["model"].torch_class
        raise UnsupportedError(
            f"{source}: this looks like a torch-rnn checkpoint (model is {found}); "
            "rjs-bridge converts char-rnn LSTM checkpoints only for now"
        )
    protos = root.get("protos")
    rnn = protos.get("rnn") if isinstance(protos, Table) else None
    vocab = root.get("vocab")
    if not isinstance(rnn, TorchObject) or not isinstance(vocab, Table):
        keys = ", ".join(sorted(str(k) for k in root)) or "nothing"
        raise UnsupportedError(
            f"{source}: not a char-rnn checkpoint: expected protos.rnn and vocab, "
            f"found top-level keys {keys}"
        )

    options = root.get("opt")
    options = dict(options) if isinstance(options, Table) else {}
    kind = options.get("model")
    if kind in ("gru", "rnn"):
        raise UnsupportedError(
            f"{source}: this is a char-rnn {kind.upper()} model; rjs-bridge "
            "converts char-rnn LSTM models only (RecurrentJS has no GRU, and its "
            "RNN uses ReLU where char-rnn's uses tanh)"
        )
    if rnn.torch_class != "nn.gModule":
        raise UnsupportedError(
            f"{source}: protos.rnn is a {rnn.torch_class}, expected an nn.gModule"
        )

    where = f"{source}: protos.rnn"
    graph = Graph(rnn, where)
    layers, decoder, decoder_scale = _find_lstm(graph, where)
    tokens = _vocab(vocab, source)

    first = layers[0].i2h
    if first.in_size != len(tokens) or decoder.out_size != len(tokens):
        raise UnsupportedError(
            f"{source}: the vocabulary has {len(tokens)} tokens but the model reads "
            f"{first.in_size} and predicts {decoder.out_size}"
        )

    linears = [decoder, *(x for layer in layers for x in (layer.i2h, layer.h2h))]
    for linear in linears:
        check_finite(linear.weight, f"{linear.where} weight")
        if linear.bias is not None:
            check_finite(linear.bias, f"{linear.where} bias")
    return RecurrentModel(
        kind="lstm",
        tokens=tokens,
        token_unit="byte",
        embedding=None,
        layers=[layer.converted() for layer in layers],
        decoder_w=_scaled(decoder.weight, decoder_scale),
        decoder_b=_f64(decoder.bias_or_zeros()),
        source=Source(
            file=source,
            program="char-rnn",
            model_class=rnn.torch_class,
            tensor_classes=sorted({_class(x.weight) for x in linears}),
            parameters=sum(x.parameter_count for x in linears),
            options=options,
        ),
    )


@dataclass(frozen=True)
class _Linear:
    """An ``nn.Linear``: y = weight @ x + bias, weight of shape (out, in)."""

    weight: np.ndarray
    bias: np.ndarray | None
    where: str

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def parameter_count(self) -> int:
        return int(self.weight.size + (0 if self.bias is None else self.bias.size))

    def bias_or_zeros(self) -> np.ndarray:
        if self.bias is None:
            return np.zeros(self.out_size)
        return self.bias


@dataclass(frozen=True)
class _LSTMLayer:
    """One char-rnn LSTM layer: gate pre-activations are i2h(x) + h2h(h).

    ``gate_blocks`` gives, for input, forget, output and candidate in that
    order, which block of ``hidden_size`` rows of i2h and h2h feeds the gate,
    as found in the graph. ``input_scale`` multiplies the layer's input: 1, or
    1 - p after an old-style ``nn.Dropout`` in evaluation mode.
    """

    i2h: _Linear
    h2h: _Linear
    gate_blocks: tuple[int, int, int, int]
    input_scale: float

    @property
    def hidden_size(self) -> int:
        return self.h2h.in_size

    def converted(self) -> Layer:
        size = self.hidden_size
        gates = {}
        for gate, block in zip(GATES["lstm"], self.gate_blocks, strict=True):
            rows = slice(block * size, (block + 1) * size)
            gates[gate] = Gate(
                x=_scaled(self.i2h.weight[rows], self.input_scale),
                h=self.h2h.weight[rows],
                # One bias per gate: the two Linears' biases, summed in float64.
                b=_f64(self.i2h.bias_or_zeros()[rows])
                + _f64(self.h2h.bias_or_zeros()[rows]),
            )
        return Layer(gates)


def _scaled(weight: np.ndarray, scale: float) -> np.ndarray:
    return weight if scale == 1.0 else _f64(weight) * scale


def _f64(values: np.ndarray) -> np.ndarray:
    # float32 widens to float64 exactly.
    return np.asarray(values, dtype=np.float64)


def _class(array: np.ndarray) -> str:
    return getattr(array, "torch_class", None) or type(array).__name__


@dataclass
class _Layer:
    i2h: Op
    h2h: Op
    gate_blocks: tuple[int, int, int, int]
    next_c: Op
    next_h: Op
    prev_c_input: int | None
    prev_h_input: int


def _find_lstm(graph: Graph, where: str) -> tuple[list[_LSTMLayer], _Linear, float]:
    found = []
    for op in graph.find("nn.CAddTable"):
        if len(op.inputs) == 2 and all(p.kind == "nn.Linear" for p in op.inputs):
            found.append(_layer(graph, op, where))
    if not found:
        raise UnsupportedError(
            f"{where}: no LSTM layer found (no nn.CAddTable summing two nn.Linear)"
        )

    # Order the layers by what feeds what: the first reads the one-hot input,
    # each next one reads the hidden state of the one before.
    by_input: dict[int | None, _Layer] = {}
    scales: dict[int, float] = {}
    for layer in found:
        source, scale = _source(layer.i2h.only_input(), where)
        # The first layer reads the one-hot character; the others, a layer.
        is_first = source is not None and source.kind == "OneHot"
        key = None if is_first else id(source)
        if is_first and source is not None:
            onehot_input = source.only_input()
            if onehot_input is None or graph.graph_input(onehot_input) != 1:
                raise _not_lstm(where, "the one-hot encoding does not read input 1")
        if key in by_input:
            raise UnsupportedError(f"{where}: two LSTM layers read the same input")
        by_input[key] = layer
        scales[id(layer)] = scale
    ordered = []
    feed: int | None = None
    while feed in by_input:
        found_layer = by_input.pop(feed)
        ordered.append(found_layer)
        feed = id(found_layer.next_h)
    if by_input or not ordered:
        raise UnsupportedError(
            f"{where}: the LSTM layers do not form a stack from the one-hot input"
        )

    top = ordered[-1].next_h
    used = {id(op) for layer in ordered for op in (layer.i2h, layer.h2h)}
    decoders = [op for op in graph.find("nn.Linear") if id(op) not in used]
    if len(decoders) != 1:
        raise UnsupportedError(
            f"{where}: expected one decoder nn.Linear besides the LSTM layers, "
            f"found {len(decoders)}"
        )
    decoder = decoders[0]
    source, decoder_scale = _source(decoder.only_input(), where)
    if source is not top:
        raise UnsupportedError(
            f"{where}: the decoder does not read the top LSTM layer's hidden state"
        )
    if [c.kind for c in decoder.consumers] != ["nn.LogSoftMax"]:
        raise UnsupportedError(
            f"{where}: the decoder feeds {[c.kind for c in decoder.consumers]}, "
            "expected nn.LogSoftMax"
        )

    _check_state_wiring(graph, ordered, decoder.consumers[0], where)

    layers = [
        _LSTMLayer(
            i2h=_linear(layer.i2h, where),
            h2h=_linear(layer.h2h, where),
            gate_blocks=layer.gate_blocks,
            input_scale=scales[id(layer)],
        )
        for layer in ordered
    ]
    for number, lstm in enumerate(layers, start=1):
        size = lstm.hidden_size
        if lstm.i2h.out_size != 4 * size or lstm.h2h.out_size != 4 * size:
            raise UnsupportedError(
                f"{where}: LSTM layer {number} has i2h of {lstm.i2h.out_size} and "
                f"h2h of {lstm.h2h.out_size} outputs, expected 4 x {size}"
            )
        if number > 1 and lstm.i2h.in_size != layers[number - 2].hidden_size:
            raise UnsupportedError(
                f"{where}: LSTM layer {number} reads {lstm.i2h.in_size} inputs, "
                f"expected {layers[number - 2].hidden_size}"
            )
    return layers, _linear(decoder, where), decoder_scale


def _layer(graph: Graph, summed: Op, where: str) -> _Layer:
    """Check one LSTM layer's gate structure around the sum of i2h and h2h."""
    first, second = summed.inputs
    first_input = graph.graph_input(first.inputs[0]) if first.inputs else None
    second_input = graph.graph_input(second.inputs[0]) if second.inputs else None
    # h2h reads the previous hidden state, one of the graph's inputs; i2h reads
    # the one-hot character or the layer below.
    if second_input is not None and first_input is None:
        i2h, h2h, prev_h = first, second, second_input
    elif first_input is not None and second_input is None:
        i2h, h2h, prev_h = second, first, first_input
    else:
        raise _not_lstm(where, "cannot tell i2h from h2h around an nn.CAddTable")

    reshape = _single_consumer(summed, "nn.Reshape", where)
    split_module = _single_consumer(reshape, "nn.SplitTable", where)
    _check_reshape(reshape, h2h, where)
    splitter = split_module.consumers[0] if len(split_module.consumers) == 1 else None
    if splitter is None or splitter.kind is not None:
        raise _not_lstm(where, "nn.SplitTable is not followed by its four outputs")
    selects = {op.select_index: op for op in splitter.consumers}
    if sorted(k for k in selects if k is not None) != [1, 2, 3, 4]:
        raise _not_lstm(where, "the gate split does not have four outputs")

    activation: dict[int, Op] = {}
    for index, select in selects.items():
        assert index is not None
        if len(select.consumers) != 1:
            raise _not_lstm(where, f"gate output {index} is used more than once")
        activation[index] = select.consumers[0]
    tanh = [k for k, op in activation.items() if op.kind == "nn.Tanh"]
    sigmoid = [k for k, op in activation.items() if op.kind == "nn.Sigmoid"]
    if len(tanh) != 1 or len(sigmoid) != 3:
        raise _not_lstm(where, "expected three nn.Sigmoid gates and one nn.Tanh")
    candidate = tanh[0]

    # i * g: the product that takes the candidate.
    write = _single_consumer(activation[candidate], "nn.CMulTable", where)
    input_gate = _other_gate(write, activation[candidate], activation, where)
    next_c = _single_consumer(write, "nn.CAddTable", where, allow_more=True)
    if len(next_c.inputs) != 2:
        raise _not_lstm(where, "the new cell is not a sum of two products")
    keep = next_c.inputs[0] if next_c.inputs[1] is write else next_c.inputs[1]
    if keep.kind != "nn.CMulTable" or len(keep.inputs) != 2:
        raise _not_lstm(where, "the new cell does not keep a gated old cell")
    forget_gate = None
    prev_c = None
    for op in keep.inputs:
        index = _gate_index(op, activation)
        if index is not None:
            forget_gate = index
        else:
            prev_c = graph.graph_input(op)
    if forget_gate is None or prev_c is None:
        raise _not_lstm(where, "the old cell is not gated by a sigmoid")

    squash = [c for c in next_c.consumers if c.kind == "nn.Tanh"]
    if len(squash) != 1:
        raise _not_lstm(where, "the new cell does not go through one nn.Tanh")
    next_h = _single_consumer(squash[0], "nn.CMulTable", where)
    output_gate = _other_gate(next_h, squash[0], activation, where)

    blocks = (input_gate - 1, forget_gate - 1, output_gate - 1, candidate - 1)
    if sorted(blocks) != [0, 1, 2, 3]:
        raise _not_lstm(where, "the gates do not use four distinct rows blocks")
    return _Layer(i2h, h2h, blocks, next_c, next_h, prev_c, prev_h)


def _check_reshape(reshape: Op, h2h: Op, where: str) -> None:
    # nn.Reshape(4, rnn_size) then nn.SplitTable(2): gate k is rows block k.
    assert reshape.module is not None
    size = reshape.module.get("size")
    hidden = _linear(h2h, where).in_size
    if not isinstance(size, TorchArray) or [int(v) for v in size] != [4, hidden]:
        raise _not_lstm(where, f"gate reshape is not (4, {hidden})")
    split = reshape.consumers[0].module
    assert split is not None
    if split.get("dimension") != 2:
        raise _not_lstm(where, "the gates are not split along dimension 2")


def _check_state_wiring(
    graph: Graph, layers: list[_Layer], log_softmax: Op, where: str
) -> None:
    # char-rnn's samplers feed output k back as input k + 1 (input 1 is the
    # character), and read the prediction from the last output.
    outnode = None
    for op in graph.ops:
        if op.kind is None and not op.consumers and op.inputs:
            outnode = op
    if outnode is None:
        return
    outputs = {id(op): k for k, op in enumerate(outnode.inputs, start=1)}
    if outputs.get(id(log_softmax)) != len(outnode.inputs):
        raise _not_lstm(where, "the prediction is not the graph's last output")
    for number, layer in enumerate(layers, start=1):
        c_out = outputs.get(id(layer.next_c))
        h_out = outputs.get(id(layer.next_h))
        if c_out is None or h_out is None:
            raise _not_lstm(where, f"layer {number}'s state is not a graph output")
        if layer.prev_c_input != c_out + 1 or layer.prev_h_input != h_out + 1:
            raise _not_lstm(
                where, f"layer {number}'s state is not fed back to the same layer"
            )


def _source(op: Op | None, where: str) -> tuple[Op | None, float]:
    """The op feeding ``op`` through identities and dropout, and the factor
    dropout applies in evaluation mode."""
    scale = 1.0
    while op is not None and op.kind in _PASS_THROUGH:
        if op.kind == "nn.Dropout":
            scale *= _dropout_scale(op, where)
        op = op.only_input()
    return op, scale


def _dropout_scale(op: Op, where: str) -> float:
    # nn.Dropout (torch/nn 8726825) is the identity in evaluation mode when v2
    # is set, as char-rnn's are; older ones scale by 1 - p instead.
    assert op.module is not None
    if op.module.get("v2"):
        return 1.0
    p = op.module.get("p")
    if not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise UnsupportedError(f"{where}: nn.Dropout with p = {p!r}")
    return 1.0 - float(p)


def _linear(op: Op, where: str) -> _Linear:
    module = op.module
    assert module is not None
    label = f"{where} nn.Linear" + (f" {op.name!r}" if op.name else "")
    weight = module.get("weight")
    bias = module.get("bias")
    if not isinstance(weight, np.ndarray) or weight.ndim != 2:
        raise UnsupportedError(f"{label}: weight is not a matrix")
    if bias is not None and (
        not isinstance(bias, np.ndarray) or bias.shape != (weight.shape[0],)
    ):
        raise UnsupportedError(
            f"{label}: bias has shape {getattr(bias, 'shape', None)}, "
            f"expected ({weight.shape[0]},)"
        )
    if not np.issubdtype(weight.dtype, np.floating):
        raise UnsupportedError(f"{label}: weight holds {weight.dtype}, not floats")
    return _Linear(weight=weight, bias=bias, where=label)


def _vocab(vocab: Table, source: str) -> list[bytes]:
    """The tokens in Torch index order; char-rnn's vocabulary maps each byte
    string to its 1-based one-hot position."""
    tokens: dict[int, bytes] = {}
    for key, index in vocab.items():
        token = key.encode("utf-8") if isinstance(key, str) else key
        if not isinstance(token, bytes) or len(token) != 1:
            raise UnsupportedError(
                f"{source}: vocab key {key!r} is not a single byte, as char-rnn's are"
            )
        if not isinstance(index, int) or isinstance(index, bool):
            raise UnsupportedError(
                f"{source}: vocab[{key!r}] is {index!r}, expected an index"
            )
        if index in tokens:
            raise UnsupportedError(
                f"{source}: vocab gives index {index} to both {tokens[index]!r} "
                f"and {token!r}"
            )
        tokens[index] = token
    expected = list(range(1, len(tokens) + 1))
    if sorted(tokens) != expected:
        missing = sorted(set(expected) - set(tokens))
        raise UnsupportedError(
            f"{source}: vocab indices should run 1..{len(tokens)} without gaps; "
            f"missing {missing[:5]}"
        )
    return [tokens[i] for i in expected]


def _single_consumer(op: Op, kind: str, where: str, allow_more: bool = False) -> Op:
    matches = [c for c in op.consumers if c.kind == kind]
    if len(matches) != 1 or (not allow_more and len(op.consumers) != 1):
        raise _not_lstm(where, f"{op!r} does not feed one {kind}")
    return matches[0]


def _other_gate(product: Op, known: Op, activation: dict[int, Op], where: str) -> int:
    others = [op for op in product.inputs if op is not known]
    index = _gate_index(others[0], activation) if len(others) == 1 else None
    if index is None:
        raise _not_lstm(where, "a gated product does not take a sigmoid gate")
    return index


def _gate_index(op: Op, activation: dict[int, Op]) -> int | None:
    for index, gate in activation.items():
        if gate is op and op.kind == "nn.Sigmoid":
            return index
    return None


def _not_lstm(where: str, why: str) -> UnsupportedError:
    return UnsupportedError(
        f"{where}: not a char-rnn LSTM graph: {why}. rjs-bridge converts the LSTM "
        "of karpathy/char-rnn's model/LSTM.lua"
    )


def _describe(value: Any) -> str:
    if isinstance(value, TorchObject):
        return value.torch_class
    return type(value).__name__

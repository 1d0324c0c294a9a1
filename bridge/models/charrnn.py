"""Recognise a char-rnn checkpoint (karpathy/char-rnn): LSTM, GRU or RNN.

A char-rnn checkpoint is a table with ``protos.rnn`` (an nngraph
``nn.gModule``), ``opt`` (training options) and ``vocab`` (byte string to
1-based index). Each kind is found by the graph's structure, following
char-rnn's model/*.lua (6f9487a):

- LSTM.lua: per layer, i2h (on the layer's input) and h2h (on the previous
  hidden state) summed by ``nn.CAddTable``, reshaped to (4, rnn_size), split
  into four gates, three through ``nn.Sigmoid`` and one through ``nn.Tanh``;
  the cell is f*c + i*g and the hidden state o*tanh(c). Which split output is
  which gate is read from how the gates are used.
- GRU.lua: per gate, a Linear on the input plus a Linear on the previous
  state; the candidate's hidden Linear reads r*h, and the new state is
  z*g + (1 - z)*h, built from ``nn.MulConstant(-1)`` and ``nn.AddConstant(1)``.
- RNN.lua: tanh of a Linear on the input plus a Linear on the previous state.

Which layer is which follows what feeds what: the first reads the
``OneHot`` character, each next one the state of the one before; the
decoder reads the top layer and feeds ``nn.LogSoftMax``. Node annotations
(``i2h_1``, ``decoder``) and node order are not used, so older checkpoints work
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.errors import UnsupportedError
from bridge.models.checks import check_finite
from bridge.models.nngraph import Graph, Op
from bridge.models.types import GATES, Gate, Kind, Layer, RecurrentModel, Source
from bridge.t7.objects import Table, TorchArray, TorchObject

# Modules that pass their input through unchanged in evaluation mode, apart
# from the scaling of old-style dropout.
_PASS_THROUGH = {"nn.Identity", "nn.Dropout"}


def is_charrnn(root: Any) -> bool:
    """Whether ``root`` has the shape of a char-rnn checkpoint."""
    protos = root.get("protos") if isinstance(root, Table) else None
    return isinstance(protos, Table) and isinstance(protos.get("rnn"), TorchObject)


def recognise(root: Any, source: str) -> RecurrentModel:
    """The char-rnn model in a loaded checkpoint, or UnsupportedError saying
    what was found instead."""
    protos = root.get("protos") if isinstance(root, Table) else None
    rnn = protos.get("rnn") if isinstance(protos, Table) else None
    vocab = root.get("vocab") if isinstance(root, Table) else None
    if not isinstance(rnn, TorchObject) or not isinstance(vocab, Table):
        raise UnsupportedError(
            f"{source}: not a char-rnn checkpoint: expected protos.rnn and vocab"
        )
    options = root.get("opt")
    options = dict(options) if isinstance(options, Table) else {}
    if rnn.torch_class != "nn.gModule":
        raise UnsupportedError(
            f"{source}: protos.rnn is a {rnn.torch_class}, expected an nn.gModule"
        )

    where = f"{source}: protos.rnn"
    graph = Graph(rnn, where)
    kind = options.get("model")
    if kind not in GATES:
        kind = _guess_kind(graph)
    found = _FINDERS[kind](graph, where)
    layers, scales = _stack(graph, found, kind, where)
    decoder_op = _decoder(graph, layers, where)
    _check_state_wiring(graph, layers, decoder_op.consumers[0], where)
    _, decoder_scale = _source(decoder_op.only_input(), where)
    decoder = _linear(decoder_op, where)
    tokens = _vocab(vocab, source)

    converted = []
    for number, (layer, scale) in enumerate(zip(layers, scales, strict=True), 1):
        converted.append(_convert(layer, scale, where, number))
    if converted[0].input_size != len(tokens) or decoder.out_size != len(tokens):
        raise UnsupportedError(
            f"{source}: the vocabulary has {len(tokens)} tokens but the model reads "
            f"{converted[0].input_size} and predicts {decoder.out_size}"
        )
    for number in range(1, len(converted)):
        below, above = converted[number - 1], converted[number]
        if above.input_size != below.hidden_size:
            raise UnsupportedError(
                f"{where}: layer {number + 1} reads {above.input_size} inputs, "
                f"expected {below.hidden_size}"
            )
    if decoder.in_size != converted[-1].hidden_size:
        raise UnsupportedError(
            f"{where}: the decoder reads {decoder.in_size} inputs, expected "
            f"{converted[-1].hidden_size}"
        )

    linears = [decoder]
    for layer in layers:
        for ops in layer.gates.values():
            for op in (ops.x, ops.h):
                if not any(op is seen.op for seen in linears):
                    linears.append(_linear(op, where))
    for linear in linears:
        check_finite(linear.weight, f"{linear.where} weight")
        if linear.bias is not None:
            check_finite(linear.bias, f"{linear.where} bias")

    return RecurrentModel(
        kind=kind,
        tokens=tokens,
        token_unit="byte",
        embedding=None,
        layers=converted,
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

    op: Op
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
class _GateOps:
    """The Linears whose rows ``rows`` feed one gate: ``x`` on the layer's
    input, ``h`` on the previous state (for the GRU candidate, on r*h)."""

    x: Op
    h: Op
    rows: slice | None = None


@dataclass(frozen=True)
class _Found:
    """One recurrent layer as found in the graph."""

    kind: Kind
    gates: dict[str, _GateOps]
    next_h: Op
    prev_h_input: int
    next_c: Op | None = None
    prev_c_input: int | None = None


def _guess_kind(graph: Graph) -> Kind:
    # Only when opt.model is missing: each finder then checks the whole shape.
    if any(True for _ in graph.find("nn.Reshape")):
        return "lstm"
    if any(True for _ in graph.find("nn.AddConstant")):
        return "gru"
    return "rnn"


def _convert(layer: _Found, scale: float, where: str, number: int) -> Layer:
    gates = {}
    for gate in GATES[layer.kind]:
        ops = layer.gates[gate]
        x, h = _linear(ops.x, where), _linear(ops.h, where)
        rows = ops.rows if ops.rows is not None else slice(None)
        if h.in_size != (h.weight[rows].shape[0]):
            raise _not_kind(
                layer.kind,
                where,
                f"layer {number}'s {gate} weights on the state are "
                f"{h.weight[rows].shape}, expected a square matrix",
            )
        gates[gate] = Gate(
            x=_scaled(x.weight[rows], scale),
            h=h.weight[rows],
            # One bias per gate: the two Linears' biases, summed in float64.
            b=_f64(x.bias_or_zeros()[rows]) + _f64(h.bias_or_zeros()[rows]),
        )
    return Layer(gates)


def _scaled(weight: np.ndarray, scale: float) -> np.ndarray:
    return weight if scale == 1.0 else _f64(weight) * scale


def _f64(values: np.ndarray) -> np.ndarray:
    # float32 widens to float64 exactly.
    return np.asarray(values, dtype=np.float64)


def _class(array: np.ndarray) -> str:
    return getattr(array, "torch_class", None) or type(array).__name__


def _find_lstm(graph: Graph, where: str) -> list[_Found]:
    found = []
    for op in graph.find("nn.CAddTable"):
        if len(op.inputs) == 2 and all(p.kind == "nn.Linear" for p in op.inputs):
            found.append(_lstm_layer(graph, op, where))
    if not found:
        raise _not_lstm(where, "no nn.CAddTable sums two nn.Linear")
    return found


def _find_gru(graph: Graph, where: str) -> list[_Found]:
    found = []
    for tanh in graph.find("nn.Tanh"):
        summed = tanh.only_input()
        if summed is None or summed.kind != "nn.CAddTable":
            continue
        linears = summed.inputs
        if len(linears) != 2 or any(op.kind != "nn.Linear" for op in linears):
            continue
        # The candidate's state Linear reads r * h.
        on_gated = [op for op in linears if _reads(op, "nn.CMulTable")]
        if len(on_gated) != 1:
            continue
        h_linear = on_gated[0]
        x_linear = linears[1] if linears[0] is h_linear else linears[0]
        found.append(_gru_layer(graph, tanh, x_linear, h_linear, where))
    if not found:
        raise _not_kind("gru", where, "no candidate tanh reads a gated state")
    return found


def _gru_layer(
    graph: Graph, tanh: Op, x_linear: Op, h_linear: Op, where: str
) -> _Found:
    gated = h_linear.inputs[0]
    reset = [op for op in gated.inputs if op.kind == "nn.Sigmoid"]
    states = [op for op in gated.inputs if op.kind != "nn.Sigmoid"]
    if len(reset) != 1 or len(states) != 1:
        raise _not_kind("gru", where, "the candidate does not read r * h")
    prev_h = graph.graph_input(states[0])
    if prev_h is None:
        raise _not_kind("gru", where, "the reset gate does not gate the old state")

    # z * g + (1 - z) * h
    blend = _single_consumer(tanh, "nn.CMulTable", where)
    update = [op for op in blend.inputs if op is not tanh]
    if len(update) != 1 or update[0].kind != "nn.Sigmoid":
        raise _not_kind("gru", where, "the candidate is not gated by a sigmoid")
    z = update[0]
    next_h = _single_consumer(blend, "nn.CAddTable", where, allow_more=True)
    keep = [op for op in next_h.inputs if op is not blend]
    if len(keep) != 1 or keep[0].kind != "nn.CMulTable" or len(keep[0].inputs) != 2:
        raise _not_kind("gru", where, "the new state does not keep (1 - z) * h")
    one_minus, old = keep[0].inputs
    if graph.graph_input(one_minus) is not None:
        one_minus, old = old, one_minus
    if graph.graph_input(old) != prev_h or not _is_one_minus(one_minus, z):
        raise _not_kind("gru", where, "the new state does not keep (1 - z) * h")

    gates = {
        "reset": _gate_pair(graph, reset[0], prev_h, where),
        "update": _gate_pair(graph, z, prev_h, where),
        "candidate": _GateOps(x_linear, h_linear),
    }
    return _Found("gru", gates, next_h, prev_h)


def _is_one_minus(op: Op, z: Op) -> bool:
    # nn.AddConstant(1)(nn.MulConstant(-1)(z))
    negate = op.only_input()
    return (
        op.kind == "nn.AddConstant"
        and op.module is not None
        and op.module.get("constant_scalar") == 1
        and negate is not None
        and negate.kind == "nn.MulConstant"
        and negate.module is not None
        and negate.module.get("constant_scalar") == -1
        and negate.only_input() is z
    )


def _gate_pair(graph: Graph, sigmoid: Op, prev_h: int, where: str) -> _GateOps:
    """The two Linears summed into a gate: one on the input, one on the state."""
    summed = sigmoid.only_input()
    if summed is None or summed.kind != "nn.CAddTable" or len(summed.inputs) != 2:
        raise _not_kind("gru", where, "a gate is not a sum of two nn.Linear")
    first, second = summed.inputs
    if first.kind != "nn.Linear" or second.kind != "nn.Linear":
        raise _not_kind("gru", where, "a gate is not a sum of two nn.Linear")
    if _reads_input(graph, second) == prev_h:
        return _GateOps(first, second)
    if _reads_input(graph, first) == prev_h:
        return _GateOps(second, first)
    raise _not_kind("gru", where, "a gate does not read the old state")


def _find_rnn(graph: Graph, where: str) -> list[_Found]:
    found = []
    for tanh in graph.find("nn.Tanh"):
        summed = tanh.only_input()
        if summed is None or summed.kind != "nn.CAddTable" or len(summed.inputs) != 2:
            continue
        first, second = summed.inputs
        if first.kind != "nn.Linear" or second.kind != "nn.Linear":
            continue
        first_in, second_in = _reads_input(graph, first), _reads_input(graph, second)
        if second_in is not None and first_in is None:
            found.append(
                _Found("rnn", {"hidden": _GateOps(first, second)}, tanh, second_in)
            )
        elif first_in is not None and second_in is None:
            found.append(
                _Found("rnn", {"hidden": _GateOps(second, first)}, tanh, first_in)
            )
        else:
            raise _not_kind("rnn", where, "cannot tell i2h from h2h")
    if not found:
        raise _not_kind("rnn", where, "no nn.Tanh of two summed nn.Linear")
    return found


_FINDERS = {"lstm": _find_lstm, "gru": _find_gru, "rnn": _find_rnn}


def _reads(op: Op, kind: str) -> bool:
    source = op.only_input()
    return source is not None and source.kind == kind


def _reads_input(graph: Graph, op: Op) -> int | None:
    """Which graph input a Linear reads directly (through nn.Identity)."""
    source = op.only_input()
    return graph.graph_input(source) if source is not None else None


def _stack(
    graph: Graph, found: list[_Found], kind: str, where: str
) -> tuple[list[_Found], list[float]]:
    """Order the layers by what feeds what: the first reads the one-hot input,
    each next one the hidden state of the one before. Also the factor old-style
    dropout applies to each layer's input."""
    by_input: dict[int | None, tuple[_Found, float]] = {}
    for layer in found:
        sources = {_source(ops.x.only_input(), where) for ops in layer.gates.values()}
        if len({id(s) for s, _ in sources}) != 1 or len(sources) != 1:
            raise _not_kind(layer.kind, where, "a layer's gates read different inputs")
        ((source, scale),) = sources
        is_first = source is not None and source.kind == "OneHot"
        if is_first and source is not None:
            onehot_input = source.only_input()
            if onehot_input is None or graph.graph_input(onehot_input) != 1:
                raise _not_kind(
                    layer.kind, where, "the one-hot encoding does not read input 1"
                )
        key = None if is_first else id(source)
        if key in by_input:
            raise _not_kind(layer.kind, where, "two layers read the same input")
        by_input[key] = (layer, scale)

    ordered, scales = [], []
    feed: int | None = None
    while feed in by_input:
        layer, scale = by_input.pop(feed)
        ordered.append(layer)
        scales.append(scale)
        feed = id(layer.next_h)
    if by_input or not ordered:
        raise _not_kind(
            kind, where, "the layers do not form a stack from the one-hot input"
        )
    return ordered, scales


def _decoder(graph: Graph, layers: list[_Found], where: str) -> Op:
    used = {id(ops.x) for layer in layers for ops in layer.gates.values()}
    used |= {id(ops.h) for layer in layers for ops in layer.gates.values()}
    decoders = [op for op in graph.find("nn.Linear") if id(op) not in used]
    if len(decoders) != 1:
        raise UnsupportedError(
            f"{where}: expected one decoder nn.Linear besides the recurrent layers, "
            f"found {len(decoders)}"
        )
    decoder = decoders[0]
    source, _ = _source(decoder.only_input(), where)
    if source is not layers[-1].next_h:
        raise UnsupportedError(
            f"{where}: the decoder does not read the top layer's hidden state"
        )
    if [c.kind for c in decoder.consumers] != ["nn.LogSoftMax"]:
        raise UnsupportedError(
            f"{where}: the decoder feeds {[c.kind for c in decoder.consumers]}, "
            "expected nn.LogSoftMax"
        )
    return decoder


def _lstm_layer(graph: Graph, summed: Op, where: str) -> _Found:
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

    blocks = (input_gate, forget_gate, output_gate, candidate)
    if sorted(blocks) != [1, 2, 3, 4]:
        raise _not_lstm(where, "the gates do not use four distinct row blocks")
    size = _linear(h2h, where).in_size
    gates = {}
    for gate, block in zip(GATES["lstm"], blocks, strict=True):
        rows = slice((block - 1) * size, block * size)
        gates[gate] = _GateOps(i2h, h2h, rows)
    return _Found("lstm", gates, next_h, prev_h, next_c, prev_c)


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
    graph: Graph, layers: list[_Found], log_softmax: Op, where: str
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
        raise UnsupportedError(
            f"{where}: the prediction is not the graph's last output, where "
            "char-rnn's sampler reads it"
        )
    for number, layer in enumerate(layers, start=1):
        pairs: list[tuple[Op, int | None]] = [(layer.next_h, layer.prev_h_input)]
        if layer.next_c is not None:
            pairs.append((layer.next_c, layer.prev_c_input))
        for state, fed_from in pairs:
            out = outputs.get(id(state))
            if out is None:
                raise _not_kind(
                    layer.kind, where, f"layer {number}'s state is not a graph output"
                )
            if fed_from != out + 1:
                raise _not_kind(
                    layer.kind,
                    where,
                    f"layer {number}'s state is not fed back to the same layer",
                )


def _source(op: Op | None, where: str) -> tuple[Op | None, float]:
    """The op feeding ``op`` through identities and dropout, and the factor
    dropout applies in evaluation mode."""
    scale = 1.0
    passed: set[int] = set()
    while op is not None and op.kind in _PASS_THROUGH:
        if id(op) in passed:
            raise UnsupportedError(f"{where}: {op!r} feeds itself in a loop")
        passed.add(id(op))
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
    return _Linear(op=op, weight=weight, bias=bias, where=label)


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
    return _not_kind("lstm", where, why)


def _not_kind(kind: str, where: str, why: str) -> UnsupportedError:
    source = {"lstm": "LSTM.lua", "gru": "GRU.lua", "rnn": "RNN.lua"}[kind]
    return UnsupportedError(
        f"{where}: not a char-rnn {kind.upper()} graph: {why}. rjs-bridge converts "
        f"the models of karpathy/char-rnn's model/{source}"
    )


def _describe(value: Any) -> str:
    if isinstance(value, TorchObject):
        return value.torch_class
    return type(value).__name__

"""Recognise a torch-rnn checkpoint (jcjohnson/torch-rnn): LSTM or RNN.

torch-rnn's train.lua saves a table whose ``model`` is an ``nn.LanguageModel``
with ``idx_to_token`` (1-based index to a whole UTF-8 character) and ``net``,
an ``nn.Sequential`` run in order (LanguageModel.lua, 6e72b86):

    nn.LookupTable(V, D)
    per layer: nn.LSTM or nn.VanillaRNN,
               [nn.View, nn.BatchNormalization, nn.View]   with -batchnorm 1
               [nn.Dropout]                                with -dropout > 0
    nn.View, nn.Linear(H, V), nn.View

nn.LSTM and nn.VanillaRNN hold one weight of shape (D + H, 4H) or (D + H, H),
used as x @ W[:D] + h @ W[D:] + bias, the LSTM's columns stacked input, forget,
output, candidate (torch-rnn's LSTM.lua and VanillaRNN.lua). In evaluation
mode batch normalization is the affine map y = s * x + t per feature, which is
folded into whatever reads it next: that layer's input weights are scaled by
s per column and its biases gain W @ t. nn.View only reshapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.errors import UnsupportedError
from bridge.models.checks import check_finite
from bridge.models.types import GATES, Gate, Kind, Layer, RecurrentModel, Source
from bridge.t7.objects import Table, TorchObject

_RECURRENT = {"nn.LSTM": "lstm", "nn.VanillaRNN": "rnn"}


def is_torchrnn(root: Any) -> bool:
    """Whether ``root`` has the shape of a torch-rnn checkpoint."""
    model = root.get("model") if isinstance(root, Table) else None
    return isinstance(model, TorchObject) and (
        model.torch_class == "nn.LanguageModel"
        or ("idx_to_token" in model and "net" in model)
    )


@dataclass
class _Affine:
    """A pending per-feature map y = scale * x + shift, not yet folded."""

    scale: np.ndarray
    shift: np.ndarray

    def fold(
        self, weight: np.ndarray, bias: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``weight`` (out, in) and ``bias`` (out,) of a map reading y, turned
        into one reading x."""
        w = np.asarray(weight, dtype=np.float64)
        return w * self.scale, bias + w @ self.shift


def recognise(root: Any, source: str) -> RecurrentModel:
    """The torch-rnn model in a loaded checkpoint, or UnsupportedError."""
    model = root["model"]
    where = f"{source}: model"
    net = model.get("net")
    modules = net.get("modules") if isinstance(net, TorchObject) else None
    if not isinstance(modules, Table):
        raise UnsupportedError(f"{where}.net is not an nn.Sequential with modules")
    sequence = [modules[k] for k in sorted(k for k in modules if isinstance(k, int))]
    tokens = _tokens(model.get("idx_to_token"), where)

    labelled = [(f"{where}.net.modules[{i}]", m) for i, m in enumerate(sequence, 1)]
    if not labelled or _class(labelled[0][1]) != "nn.LookupTable":
        raise UnsupportedError(
            f"{where}.net does not start with an nn.LookupTable "
            f"(found {_class(labelled[0][1]) if labelled else 'nothing'})"
        )
    label, lookup = labelled[0]
    if lookup.get("maxNorm") is not None:
        raise UnsupportedError(
            f"{label}: nn.LookupTable with maxNorm renormalises its weights as it "
            "runs, which rjs-bridge does not reproduce"
        )
    embedding = _tensor(lookup, "weight", label, ndim=2)
    used = [embedding]

    kind: Kind | None = None
    layers: list[Layer] = []
    decoder: tuple[np.ndarray, np.ndarray] | None = None
    pending: _Affine | None = None
    for label, module in labelled[1:]:
        name = _class(module)
        if name == "nn.View":
            continue
        if decoder is not None:
            raise UnsupportedError(
                f"{label}: {name} after the output nn.Linear; expected nothing but "
                "nn.View"
            )
        if name in _RECURRENT:
            this_kind = _RECURRENT[name]
            if kind is not None and this_kind != kind:
                raise UnsupportedError(f"{label}: {name} in a stack of {kind} layers")
            kind = this_kind  # type: ignore[assignment]
            layer, tensors = _recurrent(module, this_kind, label, pending)
            layers.append(layer)
            used += tensors
            pending = None
        elif name == "nn.BatchNormalization":
            pending = _then(pending, _batch_norm(module, label))
            used += [
                t for t in (module.get("weight"), module.get("bias")) if t is not None
            ]
        elif name == "nn.Dropout":
            scale = _dropout_scale(module, label)
            if scale != 1.0:
                size = layers[-1].hidden_size if layers else embedding.shape[1]
                pending = _then(pending, _Affine(np.full(size, scale), np.zeros(size)))
        elif name == "nn.Linear":
            weight = _tensor(module, "weight", label, ndim=2)
            bias_t = module.get("bias")
            bias = (
                np.zeros(weight.shape[0])
                if bias_t is None
                else np.asarray(_tensor(module, "bias", label, ndim=1), np.float64)
            )
            used += [weight] + ([bias_t] if bias_t is not None else [])
            decoder = pending.fold(weight, bias) if pending else (weight, bias)
            pending = None
        else:
            raise UnsupportedError(
                f"{label}: {name} is not part of a torch-rnn language model; "
                "rjs-bridge converts torch-rnn's LSTM and RNN models"
            )

    if kind is None or not layers:
        raise UnsupportedError(f"{where}.net has no nn.LSTM or nn.VanillaRNN layer")
    if decoder is None:
        raise UnsupportedError(f"{where}.net has no output nn.Linear")
    _check_sizes(len(tokens), embedding, layers, decoder[0], where)

    options = root.get("opt")
    return RecurrentModel(
        kind=kind,
        tokens=tokens,
        token_unit="char",
        embedding=embedding,
        layers=layers,
        decoder_w=decoder[0],
        decoder_b=decoder[1],
        source=Source(
            file=source,
            program="torch-rnn",
            model_class=model.torch_class,
            tensor_classes=sorted({_tensor_label(t) for t in used}),
            parameters=int(sum(np.asarray(t).size for t in used)),
            options=dict(options) if isinstance(options, Table) else {},
        ),
    )


def _recurrent(
    module: TorchObject, kind: str, label: str, pending: _Affine | None
) -> tuple[Layer, list[np.ndarray]]:
    weight = _tensor(module, "weight", label, ndim=2)
    bias = _tensor(module, "bias", label, ndim=1)
    gates = GATES[kind]
    hidden = weight.shape[1] // len(gates)
    inputs = weight.shape[0] - hidden
    if weight.shape[1] != hidden * len(gates) or inputs <= 0:
        raise UnsupportedError(
            f"{label}: weight has shape {weight.shape}, expected (D + H, {len(gates)}H)"
        )
    if bias.shape != (weight.shape[1],):
        raise UnsupportedError(
            f"{label}: bias has shape {bias.shape}, expected ({weight.shape[1]},)"
        )
    for field, expected in (("input_dim", inputs), ("hidden_dim", hidden)):
        value = module.get(field)
        if value is not None and value != expected:
            raise UnsupportedError(
                f"{label}: {field} is {value} but the weight implies {expected}"
            )

    layer = {}
    for k, gate in enumerate(gates):
        columns = slice(k * hidden, (k + 1) * hidden)
        # torch-rnn computes x @ Wx: our x weights are its columns, transposed.
        wx = weight[:inputs, columns].T
        wh = weight[inputs:, columns].T
        b = np.asarray(bias[columns], dtype=np.float64)
        if pending is not None:
            wx, b = pending.fold(wx, b)
        layer[gate] = Gate(x=wx, h=wh, b=b)
    return Layer(layer), [weight, bias]


def _batch_norm(module: TorchObject, label: str) -> _Affine:
    # nn.BatchNormalization in evaluation mode (torch/nn 8726825):
    # y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
    mean = np.asarray(_tensor(module, "running_mean", label, ndim=1), np.float64)
    eps = module.get("eps")
    if not isinstance(eps, (int, float)):
        raise UnsupportedError(f"{label}: eps is {eps!r}, expected a number")
    if module.get("running_var") is not None:
        var = np.asarray(_tensor(module, "running_var", label, ndim=1), np.float64)
        inverse_std = 1.0 / np.sqrt(var + eps)
    else:
        # Before version 2 nn stored 1 / sqrt(var + eps) as running_std.
        inverse_std = np.asarray(
            _tensor(module, "running_std", label, ndim=1), np.float64
        )
    scale = inverse_std
    shift = -mean * inverse_std
    if module.get("affine", True) and module.get("weight") is not None:
        gamma = np.asarray(_tensor(module, "weight", label, ndim=1), np.float64)
        beta = np.asarray(_tensor(module, "bias", label, ndim=1), np.float64)
        scale = scale * gamma
        shift = shift * gamma + beta
    if not (mean.shape == scale.shape == shift.shape):
        raise UnsupportedError(f"{label}: statistics of different sizes")
    return _Affine(scale, shift)


def _then(first: _Affine | None, second: _Affine) -> _Affine:
    """The map ``second`` applied after ``first``."""
    if first is None:
        return second
    return _Affine(
        second.scale * first.scale, second.scale * first.shift + second.shift
    )


def _dropout_scale(module: TorchObject, label: str) -> float:
    # Identity in evaluation mode for v2 dropout (torch-rnn's); older nn scales.
    if module.get("v2"):
        return 1.0
    p = module.get("p")
    if not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise UnsupportedError(f"{label}: nn.Dropout with p = {p!r}")
    return 1.0 - float(p)


def _check_sizes(
    vocabulary: int,
    embedding: np.ndarray,
    layers: list[Layer],
    decoder_w: np.ndarray,
    where: str,
) -> None:
    if embedding.shape[0] != vocabulary or decoder_w.shape[0] != vocabulary:
        raise UnsupportedError(
            f"{where}: idx_to_token has {vocabulary} tokens but the embedding has "
            f"{embedding.shape[0]} rows and the decoder {decoder_w.shape[0]} outputs"
        )
    width = embedding.shape[1]
    for number, layer in enumerate(layers, start=1):
        if layer.input_size != width:
            raise UnsupportedError(
                f"{where}: layer {number} reads {layer.input_size} features, "
                f"expected {width}"
            )
        width = layer.hidden_size
    if decoder_w.shape[1] != width:
        raise UnsupportedError(
            f"{where}: the decoder reads {decoder_w.shape[1]} features, "
            f"expected {width}"
        )


def _tokens(idx_to_token: Any, where: str) -> list[str]:
    if not isinstance(idx_to_token, Table):
        raise UnsupportedError(f"{where}.idx_to_token is missing")
    size = len(idx_to_token)
    if sorted(k for k in idx_to_token if isinstance(k, int)) != list(
        range(1, size + 1)
    ):
        raise UnsupportedError(
            f"{where}.idx_to_token should be indexed 1..{size} without gaps"
        )
    tokens = [idx_to_token[i] for i in range(1, size + 1)]
    for index, token in enumerate(tokens, start=1):
        if not isinstance(token, str) or len(token) != 1:
            raise UnsupportedError(
                f"{where}.idx_to_token[{index}] is {token!r}, expected one character"
            )
    if len(set(tokens)) != len(tokens):
        raise UnsupportedError(f"{where}.idx_to_token lists a token twice")
    return tokens


def _tensor(module: TorchObject, field: str, label: str, ndim: int) -> np.ndarray:
    value = module.get(field)
    if not isinstance(value, np.ndarray) or value.ndim != ndim:
        raise UnsupportedError(
            f"{label}: {field} is {getattr(value, 'shape', type(value).__name__)}, "
            f"expected a {ndim}-dimensional tensor"
        )
    if not np.issubdtype(value.dtype, np.floating):
        raise UnsupportedError(f"{label}: {field} holds {value.dtype}, not floats")
    check_finite(value, f"{label} {field}")
    return value


def _tensor_label(tensor: Any) -> str:
    return getattr(tensor, "torch_class", None) or type(tensor).__name__


def _class(module: Any) -> str:
    return (
        module.torch_class if isinstance(module, TorchObject) else type(module).__name__
    )

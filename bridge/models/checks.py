"""Checks every recogniser applies to the weights it hands on."""

from __future__ import annotations

import numpy as np

from bridge.errors import UnsupportedError
from bridge.models.types import RecurrentModel
from bridge.t7.objects import TorchArray


def check_finite(values: np.ndarray, label: str) -> None:
    """Refuse NaN and infinite weights, which no JSON number can hold, naming
    the first bad element (1-based, as Torch counts).

    A tensor whose view repeats its storage's elements (a stride of 0, as
    Torch's expand makes) is refused first: no trained weight is one, and it
    could stand for far more elements than the file holds.
    """
    if (
        isinstance(values, TorchArray)
        and values.storage is not None
        and values.size > values.storage.size
    ):
        raise UnsupportedError(
            f"{label} is a view of {values.size} elements on a storage of "
            f"{values.storage.size} (sizes {values.shape}, strides "
            f"{values.torch_stride}): it repeats elements, as no trained weight does"
        )
    bad = _first_bad(values)
    if bad is None:
        return
    where, value, count = bad
    raise UnsupportedError(
        f"{label}[{where}] is {value} ({count} such values); "
        "the checkpoint's weights are broken and no export can hold them"
    )


def check_model_finite(model: RecurrentModel) -> None:
    """Refuse a model whose weights, as converted, are not all finite.

    The checkpoint's own tensors have passed :func:`check_finite`; what is
    left is a sum or fold of finite values that overflows (two biases near
    the largest double, a batch normalization over a variance of 0).
    """
    arrays = [
        ("the decoder weight", model.decoder_w),
        ("the decoder bias", model.decoder_b),
    ]
    if model.embedding is not None:
        arrays.append(("the embedding", model.embedding))
    for number, layer in enumerate(model.layers, start=1):
        for gate, weights in layer.gates.items():
            name = f"layer {number}'s {gate} gate"
            arrays += [
                (f"{name} input weight", weights.x),
                (f"{name} state weight", weights.h),
                (f"{name} bias", weights.b),
            ]
    for label, values in arrays:
        bad = _first_bad(values)
        if bad is not None:
            where, value, _ = bad
            raise UnsupportedError(
                f"{model.source.file}: {label}[{where}] comes to {value} "
                "once converted (biases summed, normalization folded in), which "
                "no export can hold"
            )


def _first_bad(values: np.ndarray) -> tuple[str, float, int] | None:
    """Where the first value that is not finite is (1-based indices), what it
    is, and how many there are; None when all are finite."""
    # The common case first, at a third of the cost of finding the bad ones.
    if np.isfinite(values).all():
        return None
    bad = np.argwhere(~np.isfinite(values))
    first = tuple(int(i) for i in bad[0])
    where = ", ".join(str(i + 1) for i in first)
    return where, float(values[first]), len(bad)

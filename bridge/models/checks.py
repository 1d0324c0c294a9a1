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
    if _all_finite(values):
        return
    bad = np.argwhere(~np.isfinite(values))
    first = tuple(int(i) for i in bad[0])
    where = ", ".join(str(i + 1) for i in first)
    raise UnsupportedError(
        f"{label}[{where}] is {values[first]} ({len(bad)} such values); "
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
        if not _all_finite(values):
            bad = np.argwhere(~np.isfinite(values))
            first = tuple(int(i) for i in bad[0])
            where = ", ".join(str(i + 1) for i in first)
            raise UnsupportedError(
                f"{model.source.file}: {label}[{where}] comes to {values[first]} "
                "once converted (biases summed, normalization folded in), which "
                "no export can hold"
            )


def _all_finite(values: np.ndarray) -> bool:
    # The common case, at a third of the cost of finding where the bad ones are.
    return bool(np.isfinite(values).all())

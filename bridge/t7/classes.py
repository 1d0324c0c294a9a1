"""Torch's tensor and storage class names, and the element type each holds.

Mirrors the class table of ``lua/t7reader.lua``: the CPU classes
(``torch.FloatTensor``), cutorch's (``torch.CudaTensor`` for float32,
``torch.CudaDoubleTensor``, ...) and cltorch's (``torch.ClTensor``). A GPU class
holds the bytes of the CPU class of the same element type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Backend = Literal["", "Cuda", "Cl"]
Kind = Literal["Tensor", "Storage"]

ELEMENT_TYPES = ("Byte", "Char", "Short", "Int", "Long", "Float", "Double", "Half")
FLOATING_TYPES = ("Float", "Double", "Half")
BACKENDS: tuple[Backend, ...] = ("", "Cuda", "Cl")

# Little-endian NumPy dtype of each element type; Long is the 8-byte C long
# of Linux and macOS (files with 4-byte longs are read as int32).
_DTYPES: dict[str, np.dtype[np.generic]] = {
    "Byte": np.dtype("u1"),
    "Char": np.dtype("i1"),
    "Short": np.dtype("<i2"),
    "Int": np.dtype("<i4"),
    "Long": np.dtype("<i8"),
    "Float": np.dtype("<f4"),
    "Double": np.dtype("<f8"),
    "Half": np.dtype("<f2"),
}


@dataclass(frozen=True)
class ArrayClass:
    """A tensor or storage class name taken apart."""

    backend: Backend
    element: str
    kind: Kind

    @property
    def name(self) -> str:
        return array_class_name(self.backend, self.element, self.kind)

    @property
    def dtype(self) -> np.dtype[np.generic]:
        return element_dtype(self.element)


def array_class_name(backend: Backend, element: str, kind: Kind) -> str:
    """The Torch class name for ``element`` data on ``backend``.

    cutorch and cltorch call their float32 classes ``torch.CudaTensor`` and
    ``torch.ClTensor``, without the element type.
    """
    if element not in _DTYPES:
        raise ValueError(f"unknown Torch element type {element!r}")
    if backend and element == "Float":
        return f"torch.{backend}{kind}"
    return f"torch.{backend}{element}{kind}"


_BY_NAME = {
    array_class_name(backend, element, kind): ArrayClass(backend, element, kind)
    for backend in BACKENDS
    for element in ELEMENT_TYPES
    for kind in ("Tensor", "Storage")
}


def parse_array_class(name: str) -> ArrayClass | None:
    """The parts of a tensor or storage class name; None for any other class."""
    return _BY_NAME.get(name)


def element_dtype(element: str) -> np.dtype[np.generic]:
    """The little-endian NumPy dtype of a Torch element type (Long as int64)."""
    try:
        return _DTYPES[element]
    except KeyError:
        raise ValueError(f"unknown Torch element type {element!r}") from None


def dtype_element(dtype: np.dtype[np.generic]) -> str | None:
    """The Torch element type holding ``dtype``'s values; None if none does."""
    for element, candidate in _DTYPES.items():
        if dtype.kind == candidate.kind and dtype.itemsize == candidate.itemsize:
            return element
    return None

"""Rewrite a checkpoint's GPU tensors as CPU ones, so any Torch can load it.

cutorch and cltorch write a tensor or storage as the bytes of the CPU class of
the same element type (FORMAT.md), so moving a checkpoint to the CPU renames
classes: ``torch.CudaTensor`` and ``torch.ClTensor`` become
``torch.FloatTensor``, ``torch.CudaDoubleTensor`` becomes
``torch.DoubleTensor``, and so on, with each module's ``_type`` field to match.
With ``float_type="double"`` every floating-point tensor (GPU or CPU, float,
half or double) becomes a ``torch.DoubleTensor`` instead, its values widened
exactly. Everything else is kept: shared storages stay shared, views keep
their offsets and strides, functions keep their bytecode, tables their order.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bridge.output import atomic_output, check_output_path, write_all
from bridge.t7.classes import FLOATING_TYPES, ArrayClass, parse_array_class
from bridge.t7.objects import Table, TorchArray, TorchFunction, TorchObject
from bridge.t7.reader import read_checkpoint
from bridge.t7.writer import dumps, tensor_view

FloatType = Literal["float", "double"]
FLOAT_TYPES: tuple[FloatType, ...] = ("float", "double")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CpuCopy:
    """A checkpoint tree with CPU classes, and what was renamed to get it."""

    root: Any
    # (old class, new class) -> how many tensors or storages.
    renamed: Mapping[tuple[str, str], int]
    # How many module ``_type`` fields now name a CPU tensor class.
    type_fields: int


@dataclass(frozen=True)
class CpuFileReport:
    """What :func:`to_cpu_file` wrote."""

    output: Path
    copy: CpuCopy
    size: int


def to_cpu(root: Any, float_type: FloatType = "float") -> CpuCopy:
    """A copy of the tree ``root`` (as :func:`bridge.t7.load` returns it) with
    every GPU tensor and storage turned into its CPU class.

    ``float_type="double"`` also widens every floating-point tensor and
    storage to Double. The input tree is not changed; arrays that need no
    change are shared between the two trees.
    """
    if float_type not in FLOAT_TYPES:
        raise ValueError(f"float_type must be 'float' or 'double', not {float_type!r}")
    return _Converter(float_type).convert(root)


def to_cpu_file(
    model: Path,
    output: Path,
    *,
    float_type: FloatType = "float",
    long_size: int | None = None,
) -> CpuFileReport:
    """Read ``model``, convert it with :func:`to_cpu`, and write ``output``
    atomically, with the longs of the input (ASCII input gives binary output).

    ``long_size`` forces the width of the input's longs, detected by default.
    """
    check_output_path(output, model)
    checkpoint = read_checkpoint(model, long_size=long_size)
    copy = to_cpu(checkpoint.root, float_type)
    data = dumps(copy.root, long_size=checkpoint.long_size)

    with atomic_output(output) as f:
        write_all(f, data)
    logger.debug("wrote %d bytes to %s", len(data), output)
    return CpuFileReport(output=output, copy=copy, size=len(data))


class _Converter:
    def __init__(self, float_type: FloatType) -> None:
        self.float_type = float_type
        self.copies: dict[int, Any] = {}
        self.renamed: Counter[tuple[str, str]] = Counter()
        self.type_fields = 0

    def convert(self, root: Any) -> CpuCopy:
        # Three passes without recursion (graphs nest deeply): find every
        # container and array, make each one's copy, then fill the copies, so
        # that cycles and shared objects map to one copy each.
        found = _reachable(root)
        fields_tables = {
            id(obj.fields) for obj in found if isinstance(obj, TorchObject)
        }

        for obj in found:
            if isinstance(obj, TorchArray) and obj.is_storage:
                self.copies[id(obj)] = self._storage(obj)
        for obj in found:
            if isinstance(obj, TorchArray) and not obj.is_storage:
                self.copies[id(obj)] = self._tensor(obj)
            elif isinstance(obj, dict):
                self.copies[id(obj)] = type(obj)()
            elif isinstance(obj, (list, tuple)):
                self.copies[id(obj)] = []
            elif isinstance(obj, TorchObject):
                self.copies[id(obj)] = TorchObject(
                    obj.torch_class, obj.version, Table()
                )
            elif isinstance(obj, TorchFunction):
                self.copies[id(obj)] = TorchFunction(
                    obj.tag, obj.bytecode, None, obj.offset
                )

        for obj in found:
            copy = self.copies[id(obj)]
            if isinstance(obj, dict):
                for key, value in obj.items():
                    if id(obj) in fields_tables and key == "_type":
                        value = self._type_field(value)
                    copy[self._map(key)] = self._map(value)
            elif isinstance(obj, (list, tuple)):
                copy.extend(self._map(value) for value in obj)
            elif isinstance(obj, TorchObject):
                copy.fields = self._map(obj.fields)
            elif isinstance(obj, TorchFunction):
                copy.upvalues = self._map(obj.upvalues)

        return CpuCopy(
            root=self._map(root),
            renamed=dict(self.renamed),
            type_fields=self.type_fields,
        )

    def _map(self, value: Any) -> Any:
        return self.copies.get(id(value), value)

    def _target(self, parsed: ArrayClass) -> ArrayClass:
        element = parsed.element
        if self.float_type == "double" and element in FLOATING_TYPES:
            element = "Double"
        return ArrayClass("", element, parsed.kind)

    def _storage(self, storage: TorchArray) -> TorchArray:
        parsed = parse_array_class(storage.torch_class or "")
        if parsed is None:
            return storage
        target = self._target(parsed)
        if target == parsed:
            return storage

        self.renamed[(parsed.name, target.name)] += 1
        if target.element == parsed.element:
            copy = storage.view(TorchArray)
        else:
            # float32 and float16 values are all exact in float64.
            copy = np.asarray(storage).astype(target.dtype).view(TorchArray)
        copy.torch_class = target.name
        return copy

    def _tensor(self, tensor: TorchArray) -> TorchArray:
        parsed = parse_array_class(tensor.torch_class or "")
        backing = tensor.storage
        new_backing = self.copies.get(id(backing), backing)
        if parsed is None:
            return tensor
        target = self._target(parsed)
        if target == parsed and new_backing is backing:
            return tensor

        self.renamed[(parsed.name, target.name)] += 1
        if new_backing is not None and tensor.torch_size is not None:
            return tensor_view(
                new_backing,
                tensor.storage_offset,
                tensor.torch_size,
                tensor.torch_stride,
                torch_class=target.name,
            )
        # A tensor with no storage has no elements to keep.
        copy = np.empty(tensor.shape, dtype=target.dtype).view(TorchArray)
        copy.torch_class = target.name
        copy.storage = None
        copy.storage_offset = tensor.storage_offset
        copy.torch_size = tensor.torch_size
        copy.torch_stride = tensor.torch_stride
        return copy

    def _type_field(self, value: Any) -> Any:
        parsed = parse_array_class(value) if isinstance(value, str) else None
        if parsed is None:
            return value
        target = self._target(parsed)
        if target != parsed:
            self.type_fields += 1
            return target.name
        return value


def _reachable(root: Any) -> list[Any]:
    """Every container and array reachable from ``root``, each once."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        value = stack.pop()
        if not isinstance(
            value, (dict, list, tuple, TorchObject, TorchFunction, TorchArray)
        ):
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        found.append(value)

        if isinstance(value, dict):
            for key, item in value.items():
                stack.append(key)
                stack.append(item)
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, TorchObject):
            stack.append(value.fields)
        elif isinstance(value, TorchFunction):
            stack.append(value.upvalues)
        elif value.storage is not None:
            stack.append(value.storage)
    return found


def describe_renames(copy: CpuCopy) -> str:
    """A one-line summary: ``87 torch.CudaTensor -> torch.FloatTensor, ...;
    37 module _type fields``."""
    if not copy.renamed:
        return "no tensor or storage needed a new class; wrote an unchanged copy"
    parts = [
        f"{count} {old} -> {new}" for (old, new), count in sorted(copy.renamed.items())
    ]
    summary = ", ".join(parts)
    if copy.type_fields:
        plural = "s" if copy.type_fields != 1 else ""
        summary += f"; {copy.type_fields} module _type field{plural}"
    return summary

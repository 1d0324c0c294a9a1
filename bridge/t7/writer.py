"""Write Python objects in Torch7's serialization format: the reader's mirror.

It follows torch7's ``File:writeObject`` (File.lua at 814ea4a) and the
``write`` methods of its tensors and storages (generic/Tensor.c,
generic/Storage.c), and writes what the reader returns back to the same bytes.
What becomes what:

- ``None`` -> nil; ``bool`` -> boolean; ``int`` and ``float`` -> number (a
  double); ``str`` -> string (UTF-8); ``bytes`` -> string, as is.
- :class:`Table` and ``dict`` -> table, entries in their order; ``list`` and
  ``tuple`` -> table keyed 1..n. Entries whose value is ``None`` are left out,
  as a Lua table cannot hold nil.
- :class:`TorchObject` -> Torch object: ``"V <version>"`` (left out for version
  0, the form from before Torch had versions), the class name, then its fields
  as one table.
- :class:`TorchFunction` -> function record of its own tag (6, 7 or 8), its
  bytecode as is, then its upvalues object.
- :class:`TorchArray` of a tensor class -> the tensor header (sizes, strides,
  1-based storage offset), then its ``storage``; of a storage class -> element
  count, then the elements. Tensors and storages are written as version 1.
- any other NumPy array -> a contiguous tensor of the CPU class of its dtype,
  with a storage of its own.

A table, Torch object, array or tag 7/8 function met a second time is written
as its type tag and index only, as Torch does: shared storages, shared modules
and cycles survive. Identity is Python's (``is``), not equality.

:func:`storage` and :func:`tensor_view` build arrays that share one storage,
for writing test checkpoints such as char-rnn's flat parameter storage.
"""

from __future__ import annotations

import abc
import math
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from bridge.output import atomic_output
from bridge.t7.classes import (
    array_class_name,
    dtype_element,
    element_dtype,
    parse_array_class,
)
from bridge.t7.objects import (
    TorchArray,
    TorchFunction,
    TorchObject,
    tensor_of,
    view_fits,
)

Mode = Literal["binary", "ascii"]

# Type tags, as in torch7 File.lua.
TYPE_NIL = 0
TYPE_NUMBER = 1
TYPE_STRING = 2
TYPE_TABLE = 3
TYPE_TORCH = 4
TYPE_BOOLEAN = 5
TYPE_FUNCTION_LEGACY = 6
TYPE_FUNCTION_RECUR_LEGACY = 7
TYPE_FUNCTION = 8

_FUNCTION_TAGS = (TYPE_FUNCTION_LEGACY, TYPE_FUNCTION_RECUR_LEGACY, TYPE_FUNCTION)
_INT = struct.Struct("<i")
_DOUBLE = struct.Struct("<d")
_LONG = {8: struct.Struct("<q"), 4: struct.Struct("<i")}
_LONG_RANGE = {8: (-(2**63), 2**63 - 1), 4: (-(2**31), 2**31 - 1)}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# A path through the tree, kept as (parent, part) links and spelt out only
# when an error needs it.
_Path = tuple[Any, str] | None


def dumps(obj: Any, *, long_size: int = 8, mode: Mode = "binary") -> bytes:
    """The bytes ``torch.save`` writes for ``obj``.

    ``long_size`` is the width of C longs (8 as on Linux and macOS, 4 as on
    Windows); ``mode`` is ``"binary"`` or ``"ascii"``, Torch's two formats.
    """
    if long_size not in _LONG:
        raise ValueError(f"long_size must be 4 or 8, not {long_size!r}")
    if mode == "binary":
        out: _Output = _BinaryOutput(long_size)
    elif mode == "ascii":
        out = _AsciiOutput()
    else:
        raise ValueError(f"mode must be 'binary' or 'ascii', not {mode!r}")
    _Writer(out).write(obj)
    return b"".join(out.parts)


def dump(
    obj: Any,
    file: str | os.PathLike[str] | BinaryIO,
    *,
    long_size: int = 8,
    mode: Mode = "binary",
) -> None:
    """Write ``obj`` to a path (atomically) or to an open binary file."""
    data = dumps(obj, long_size=long_size, mode=mode)
    if isinstance(file, (str, os.PathLike)):
        with atomic_output(Path(file)) as f:
            f.write(data)
    else:
        file.write(data)


def storage(array: npt.ArrayLike, torch_class: str | None = None) -> TorchArray:
    """A Torch storage holding a copy of ``array``'s elements, flattened.

    ``torch_class`` defaults to the CPU storage class of the array's dtype
    (``torch.FloatStorage`` for float32); a class of another element type
    converts the values, e.g. ``storage([1, 2], "torch.CudaStorage")``.
    """
    values = np.asarray(array)
    if torch_class is None:
        element = dtype_element(values.dtype)
        if element is None:
            raise TypeError(
                f"no Torch storage holds {values.dtype} elements; expected one of "
                "uint8, int8, int16, int32, int64, float16, float32, float64"
            )
        torch_class = array_class_name("", element, "Storage")
    parsed = parse_array_class(torch_class)
    if parsed is None or parsed.kind != "Storage":
        raise ValueError(f"{torch_class!r} is not a Torch storage class")

    flat = values.ravel()
    result = np.array(flat, dtype=parsed.dtype, copy=True).view(TorchArray)
    if parsed.dtype.kind in "iu" and not np.array_equal(result, flat):
        raise ValueError(
            f"a {torch_class} cannot hold these values: they change when "
            f"converted from {values.dtype} to {parsed.dtype}"
        )
    result.torch_class = torch_class
    return result


def tensor_view(
    storage: TorchArray,
    offset: int,
    size: Sequence[int],
    stride: Sequence[int] | None = None,
    torch_class: str | None = None,
) -> TorchArray:
    """A tensor viewing ``storage`` from the 1-based ``offset``, as Torch's
    ``torch.Tensor(storage, offset, size, stride)``.

    ``stride`` defaults to the contiguous one; ``torch_class`` to the tensor
    class of the storage's (``torch.CudaStorage`` -> ``torch.CudaTensor``).
    """
    storage_class = (
        parse_array_class(storage.torch_class)
        if isinstance(storage, TorchArray) and storage.torch_class
        else None
    )
    if storage_class is None or storage_class.kind != "Storage":
        raise TypeError("tensor_view needs a storage, as made by storage()")
    if torch_class is None:
        torch_class = array_class_name(
            storage_class.backend, storage_class.element, "Tensor"
        )
    parsed = parse_array_class(torch_class)
    if parsed is None or parsed.kind != "Tensor":
        raise ValueError(f"{torch_class!r} is not a Torch tensor class")
    if parsed.element != storage_class.element:
        raise ValueError(
            f"a {torch_class} cannot view a {storage.torch_class}: their elements "
            f"are {parsed.element} and {storage_class.element}"
        )

    sizes = tuple(int(n) for n in size)
    strides = _contiguous_strides(sizes) if stride is None else tuple(stride)
    if len(strides) != len(sizes):
        raise ValueError(f"{len(sizes)} sizes but {len(strides)} strides")
    if any(n < 0 for n in sizes) or any(s < 0 for s in strides):
        raise ValueError(f"sizes {sizes} and strides {strides} must not be negative")

    if not view_fits(offset, sizes, strides, len(storage)):
        raise ValueError(
            f"the view (offset {offset}, sizes {sizes}, strides {strides}) "
            f"runs outside its storage of {len(storage)} elements"
        )
    return tensor_of(storage, offset, sizes, strides, torch_class, storage.dtype)


def _contiguous_strides(sizes: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    step = 1
    for n in reversed(sizes):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _Output(abc.ABC):
    """The primitive writes of a torch.File; each method is one write call."""

    parts: list[bytes]

    @abc.abstractmethod
    def write_int(self, value: int) -> None: ...

    @abc.abstractmethod
    def write_longs(self, values: Sequence[int]) -> None: ...

    @abc.abstractmethod
    def write_double(self, value: float) -> None: ...

    @abc.abstractmethod
    def write_chars(self, raw: bytes) -> None: ...

    @abc.abstractmethod
    def write_elements(self, array: np.ndarray[Any, Any], element: str) -> None: ...


class _BinaryOutput(_Output):
    def __init__(self, long_size: int) -> None:
        self.parts = []
        self.long_size = long_size
        self._long = _LONG[long_size]

    def write_int(self, value: int) -> None:
        self.parts.append(_INT.pack(value))

    def write_longs(self, values: Sequence[int]) -> None:
        pack = self._long.pack
        self.parts.extend(pack(v) for v in values)

    def write_double(self, value: float) -> None:
        self.parts.append(_DOUBLE.pack(value))

    def write_chars(self, raw: bytes) -> None:
        self.parts.append(raw)

    def write_elements(self, array: np.ndarray[Any, Any], element: str) -> None:
        self.parts.append(array.tobytes())


class _AsciiOutput(_Output):
    # THDiskFile.c in ASCII mode: the elements of one write call separated by
    # spaces and ended by a newline, nothing at all for zero elements; bytes
    # (strings, Byte and Char data) raw, then the newline.

    def __init__(self) -> None:
        self.parts = []

    def write_int(self, value: int) -> None:
        self.parts.append(b"%d\n" % value)

    def write_longs(self, values: Sequence[int]) -> None:
        if values:
            self.parts.append(" ".join(map(str, values)).encode() + b"\n")

    def write_double(self, value: float) -> None:
        self.parts.append(_format_c(value, 17).encode() + b"\n")

    def write_chars(self, raw: bytes) -> None:
        if raw:
            self.parts.append(raw)
            self.parts.append(b"\n")

    def write_elements(self, array: np.ndarray[Any, Any], element: str) -> None:
        if element in ("Byte", "Char"):
            self.write_chars(array.tobytes())
            return
        if array.size == 0:
            return
        values = array.tolist()
        if element in ("Float", "Double", "Half"):
            digits = 17 if element == "Double" else 9
            if np.isfinite(array).all():
                text = " ".join(map(f"%.{digits}g".__mod__, values))
            else:
                text = " ".join(_format_c(v, digits) for v in values)
        else:
            text = " ".join(map(str, values))
        self.parts.append(text.encode() + b"\n")


def _format_c(value: float, digits: int) -> str:
    """``value`` as C's printf ``%.<digits>g`` prints it (glibc)."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"%.{digits}g" % value


class _Writer:
    def __init__(self, out: _Output) -> None:
        self.out = out
        self.indices: dict[int, int] = {}
        # Objects whose id() is in `indices`, kept alive so no id is reused.
        self.keep: list[Any] = []
        self.last_index = 0

    def write(self, root: Any) -> None:
        # Depth-first, pre-order, with an explicit stack: an nngraph graph
        # nests deeper as the model grows, past Python's recursion limit.
        stack: list[tuple[Any, _Path]] = [(root, None)]
        while stack:
            value, path = stack.pop()
            self._write_one(value, path, stack)

    def _index(self, obj: Any) -> tuple[int, bool]:
        """The object's index, and whether this is its first appearance."""
        index = self.indices.get(id(obj))
        if index is not None:
            return index, False
        self.last_index += 1
        self.indices[id(obj)] = self.last_index
        self.keep.append(obj)
        return self.last_index, True

    def _write_one(
        self, value: Any, path: _Path, stack: list[tuple[Any, _Path]]
    ) -> None:
        out = self.out
        if value is None:
            out.write_int(TYPE_NIL)
        elif isinstance(value, (bool, np.bool_)):
            out.write_int(TYPE_BOOLEAN)
            out.write_int(1 if value else 0)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out.write_int(TYPE_NUMBER)
            out.write_double(_number(value, path))
        elif isinstance(value, str):
            out.write_int(TYPE_STRING)
            self._string(value.encode("utf-8"))
        elif isinstance(value, (bytes, bytearray)):
            out.write_int(TYPE_STRING)
            self._string(bytes(value))
        elif isinstance(value, np.ndarray):
            self._array(value, path, stack)
        elif isinstance(value, TorchObject):
            self._torch_object(value, path, stack)
        elif isinstance(value, TorchFunction):
            self._function(value, path, stack)
        elif isinstance(value, dict):
            self._table(value, list(value.items()), path, stack)
        elif isinstance(value, (list, tuple)):
            self._table(value, list(enumerate(value, start=1)), path, stack)
        else:
            raise TypeError(
                f"{_spell(path)}: cannot write a {type(value).__name__} in a Torch "
                "file; expected None, bool, int, float, str, bytes, dict, list, "
                "tuple, a NumPy array or a bridge.t7 object"
            )

    def _string(self, raw: bytes) -> None:
        self.out.write_int(len(raw))
        self.out.write_chars(raw)

    def _table(
        self,
        table: Any,
        entries: list[tuple[Any, Any]],
        path: _Path,
        stack: list[tuple[Any, _Path]],
    ) -> None:
        self.out.write_int(TYPE_TABLE)
        index, first = self._index(table)
        self.out.write_int(index)
        if not first:
            return

        entries = [(k, v) for k, v in entries if v is not None]
        self.out.write_int(len(entries))
        for key, value in reversed(entries):
            if key is None or (isinstance(key, float) and math.isnan(key)):
                raise ValueError(
                    f"{_spell(path)}: a table key is {key!r}, which Lua tables "
                    "cannot hold"
                )
            stack.append((value, (path, _describe_key(key))))
            stack.append((key, (path, "[<key>]")))

    def _torch_object(
        self, obj: TorchObject, path: _Path, stack: list[tuple[Any, _Path]]
    ) -> None:
        if parse_array_class(obj.torch_class) is not None:
            raise TypeError(
                f"{_spell(path)}: a TorchObject of class {obj.torch_class}; "
                "tensors and storages must be TorchArrays"
            )
        if not isinstance(obj.fields, dict):
            raise TypeError(
                f"{_spell(path)}: {obj.torch_class} fields are a "
                f"{type(obj.fields).__name__}, expected a dict or Table"
            )
        self.out.write_int(TYPE_TORCH)
        index, first = self._index(obj)
        self.out.write_int(index)
        if not first:
            return

        self._header(obj.version, obj.torch_class)
        stack.append((obj.fields, path))

    def _header(self, version: int, torch_class: str) -> None:
        if version != 0:
            self._string(b"V %d" % version)
        self._string(torch_class.encode("utf-8"))

    def _function(
        self, function: TorchFunction, path: _Path, stack: list[tuple[Any, _Path]]
    ) -> None:
        if function.tag not in _FUNCTION_TAGS:
            raise ValueError(
                f"{_spell(path)}: function record tag {function.tag}, expected "
                "6, 7 or 8"
            )
        self.out.write_int(function.tag)
        # The oldest form carries no index and is never a reference.
        if function.tag != TYPE_FUNCTION_LEGACY:
            index, first = self._index(function)
            self.out.write_int(index)
            if not first:
                return

        self._string(bytes(function.bytecode))
        stack.append((function.upvalues, (path, ".<upvalues>")))

    def _array(
        self,
        array: np.ndarray[Any, Any],
        path: _Path,
        stack: list[tuple[Any, _Path]],
    ) -> None:
        torch_class = array.torch_class if isinstance(array, TorchArray) else None
        if torch_class is None:
            self._plain_array(array, path)
            return
        parsed = parse_array_class(torch_class)
        if parsed is None:
            raise ValueError(
                f"{_spell(path)}: {torch_class!r} is not a tensor or storage class"
            )

        self.out.write_int(TYPE_TORCH)
        index, first = self._index(array)
        self.out.write_int(index)
        if not first:
            return
        self._header(1, torch_class)

        if parsed.kind == "Storage":
            self._storage_payload(array, parsed.element, path)
            return

        assert isinstance(array, TorchArray)
        backing = array.storage
        if backing is None and array.torch_size is None:
            # A tensor made without a storage: contiguous, with its own.
            self._contiguous_payload(
                array, array_class_name(parsed.backend, parsed.element, "Storage"), path
            )
            return
        if array.torch_size is None or array.torch_stride is None:
            raise ValueError(
                f"{_spell(path)}: a {torch_class} with a storage needs torch_size "
                "and torch_stride"
            )
        if len(array.torch_stride) != len(array.torch_size):
            raise ValueError(
                f"{_spell(path)}: a {torch_class} with {len(array.torch_size)} "
                f"sizes and {len(array.torch_stride)} strides"
            )
        self.out.write_int(len(array.torch_size))
        self._longs(array.torch_size, path)
        self._longs(array.torch_stride, path)
        self._longs((array.storage_offset,), path)
        if backing is None:
            self.out.write_int(TYPE_NIL)
            return
        backing_class = (
            parse_array_class(backing.torch_class)
            if isinstance(backing, TorchArray) and backing.torch_class
            else None
        )
        if backing_class is None or backing_class.kind != "Storage":
            raise TypeError(f"{_spell(path)}: a {torch_class}'s storage is not one")
        if backing_class.element != parsed.element:
            raise ValueError(
                f"{_spell(path)}: a {torch_class} backed by a "
                f"{backing.torch_class}; expected {parsed.element} elements"
            )
        stack.append((backing, (path, ".<storage>")))

    def _plain_array(self, array: np.ndarray[Any, Any], path: _Path) -> None:
        element = dtype_element(array.dtype)
        if element is None:
            raise TypeError(
                f"{_spell(path)}: no Torch tensor holds {array.dtype} elements; "
                "expected uint8, int8, int16, int32, int64, float16, float32 or "
                "float64"
            )
        if array.ndim == 0:
            raise ValueError(
                f"{_spell(path)}: a 0-dimensional array has no Torch7 equivalent; "
                "reshape it to (1,)"
            )
        self.out.write_int(TYPE_TORCH)
        index, first = self._index(array)
        self.out.write_int(index)
        if not first:
            return
        self._header(1, array_class_name("", element, "Tensor"))
        self._contiguous_payload(array, array_class_name("", element, "Storage"), path)

    def _contiguous_payload(
        self, array: np.ndarray[Any, Any], storage_class: str, path: _Path
    ) -> None:
        # An empty Torch tensor has no dimensions and no storage.
        if array.size == 0:
            self.out.write_int(0)
            self._longs((1,), path)
            self.out.write_int(TYPE_NIL)
            return

        sizes = array.shape
        self.out.write_int(len(sizes))
        self._longs(sizes, path)
        self._longs(_contiguous_strides(sizes), path)
        self._longs((1,), path)

        self.out.write_int(TYPE_TORCH)
        self.last_index += 1  # the fresh storage takes the next index
        self.out.write_int(self.last_index)
        self._header(1, storage_class)
        parsed = parse_array_class(storage_class)
        assert parsed is not None
        self._storage_payload(array.ravel(), parsed.element, path)

    def _storage_payload(
        self, array: np.ndarray[Any, Any], element: str, path: _Path
    ) -> None:
        if array.ndim != 1:
            raise ValueError(
                f"{_spell(path)}: a storage has {array.ndim} dimensions, expected 1"
            )
        dtype = element_dtype(element)
        if element == "Long":
            dtype = np.dtype("<i8" if self._long_size() == 8 else "<i4")
            if array.dtype.kind != "i" or array.dtype.itemsize not in (4, 8):
                raise ValueError(
                    f"{_spell(path)}: Long storage of {array.dtype} elements, "
                    "expected int64 or int32"
                )
            if array.dtype.itemsize > dtype.itemsize and array.size:
                low, high = _LONG_RANGE[dtype.itemsize]
                if array.min() < low or array.max() > high:
                    raise ValueError(
                        f"{_spell(path)}: Long storage values do not fit in "
                        f"{dtype.itemsize}-byte longs"
                    )
        elif array.dtype.kind != dtype.kind or array.dtype.itemsize != dtype.itemsize:
            raise ValueError(
                f"{_spell(path)}: {element} storage of {array.dtype} elements, "
                f"expected {dtype}"
            )

        self._longs((array.shape[0],), path)
        self.out.write_elements(np.ascontiguousarray(array, dtype=dtype), element)

    def _long_size(self) -> int:
        out = self.out
        return out.long_size if isinstance(out, _BinaryOutput) else 8

    def _longs(self, values: Sequence[int], path: _Path) -> None:
        low, high = _LONG_RANGE[self._long_size()]
        for v in values:
            if not low <= v <= high:
                raise ValueError(
                    f"{_spell(path)}: {v} does not fit in a "
                    f"{self._long_size()}-byte long"
                )
        self.out.write_longs([int(v) for v in values])


def _number(
    value: int | float | np.integer[Any] | np.floating[Any], path: _Path
) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if isinstance(value, (int, np.integer)) and number != value:
        raise ValueError(
            f"{_spell(path)}: {value} is not exactly a double, as Lua numbers are"
        )
    return number


def _describe_key(key: Any) -> str:
    if isinstance(key, str) and _NAME.match(key):
        return "." + key
    if isinstance(key, (int, float, str, bytes)) and not isinstance(key, bool):
        if isinstance(key, float) and key.is_integer():
            return f"[{int(key)}]"
        return f"[{key!r}]"
    return f"[<{type(key).__name__}>]"


def _spell(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, part = path
        parts.append(part)
    return "<root>" + "".join(reversed(parts))

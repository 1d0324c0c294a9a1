"""Python stand-ins for the values a Torch7 file holds.

Lua numbers become ``int`` when whole and ``float`` otherwise; Lua strings
become ``str`` when they are valid UTF-8 and ``bytes`` when not; booleans stay
booleans. Tables become :class:`Table`, Torch objects of Lua classes
(``nn.Linear``, ``nngraph.Node``, ...) :class:`TorchObject`, tensors and
storages :class:`TorchArray`, and serialized functions :class:`TorchFunction`,
which keep their bytecode as bytes and are never run.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Table(dict[Any, Any]):
    """A Lua table: a dict whose identity, like a Lua table's, is its own.

    Equality compares contents, as for any dict, but the hash is the object's
    identity so that a table can be a key of another table, as in Lua.
    """

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __repr__(self) -> str:
        # One level only: nngraph's tables reach the whole graph many times
        # over, and dict's own repr would print it all.
        entries = ", ".join(f"{_brief(k)}: {_brief(v)}" for k, v in self.items())
        return "{" + entries + "}"


def _brief(value: Any) -> str:
    if isinstance(value, Table):
        return f"<table of {len(value)} entries>"
    if isinstance(value, TorchArray) and value.torch_class is not None:
        shape = "x".join(str(n) for n in value.shape)
        return f"<{value.torch_class} {shape}>"
    return repr(value)


class TorchObject:
    """An instance of a Torch class that is not a tensor or a storage.

    Its fields are reachable as attributes or items: ``node.data.module``.
    """

    __slots__ = ("fields", "torch_class", "version")

    def __init__(self, torch_class: str, version: int, fields: Table) -> None:
        self.torch_class = torch_class
        # 0 for files from before Torch's version strings ("V 1").
        self.version = version
        self.fields = fields

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(
                f"{self.torch_class} object has no field {name!r}"
            ) from None

    def __getitem__(self, key: Any) -> Any:
        return self.fields[key]

    def __contains__(self, key: Any) -> bool:
        return key in self.fields

    def get(self, key: Any, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def __repr__(self) -> str:
        return f"<{self.torch_class} with {len(self.fields)} fields>"


class TorchFunction:
    """A serialized Lua function, kept as data: its bytecode is never loaded."""

    __slots__ = ("bytecode", "offset", "tag", "upvalues")

    def __init__(self, tag: int, bytecode: bytes, upvalues: Any, offset: int) -> None:
        # 6, 7 or 8: the form of function record the file used.
        self.tag = tag
        self.bytecode = bytecode
        self.upvalues = upvalues
        # Byte offset of the function's type tag in the file.
        self.offset = offset

    def __repr__(self) -> str:
        return f"<Lua function, {len(self.bytecode)} bytes of bytecode>"


class TorchArray(np.ndarray):
    """A NumPy array that remembers the Torch tensor or storage it came from.

    ``torch_class`` is the class the file named (``torch.CudaTensor`` for a
    GPU tensor, whose values are the float32 array itself). A tensor's
    ``storage`` is the storage array it views, shared by every tensor that
    views the same storage, and ``storage_offset`` is Torch's 1-based offset
    into it. ``torch_size`` and ``torch_stride`` are the tensor's header as
    written (a tensor with no dimensions has both empty and shape ``(0,)``).
    Arrays derived from a ``TorchArray`` by NumPy operations carry none of this.
    """

    torch_class: str | None
    storage: TorchArray | None
    storage_offset: int
    torch_size: tuple[int, ...] | None
    torch_stride: tuple[int, ...] | None

    def __array_finalize__(self, obj: object) -> None:
        self.torch_class = None
        self.storage = None
        self.storage_offset = 1
        self.torch_size = None
        self.torch_stride = None

    __hash__ = object.__hash__  # type: ignore[assignment]

    @property
    def is_storage(self) -> bool:
        return self.torch_class is not None and self.torch_class.endswith("Storage")


def is_tensor(value: object) -> bool:
    """True for a tensor read from a Torch file."""
    return (
        isinstance(value, TorchArray)
        and value.torch_class is not None
        and value.torch_class.endswith("Tensor")
    )


def view_fits(
    offset: int, sizes: tuple[int, ...], strides: tuple[int, ...], count: int
) -> bool:
    """Whether a view of ``sizes`` and ``strides`` from Torch's 1-based
    ``offset`` lies inside a storage of ``count`` elements."""
    if not sizes or 0 in sizes:
        return True
    last = offset - 1 + sum((n - 1) * s for n, s in zip(sizes, strides, strict=True))
    return offset >= 1 and min(strides) >= 0 and last < count


def tensor_of(
    storage: TorchArray | None,
    offset: int,
    sizes: tuple[int, ...],
    strides: tuple[int, ...],
    torch_class: str,
    dtype: np.dtype[Any],
) -> TorchArray:
    """A Torch tensor as a NumPy view of its storage (no copy), remembering
    its header. Callers check :func:`view_fits` first; NumPy checks again."""
    if storage is None or not sizes or 0 in sizes:
        array = np.empty(sizes or (0,), dtype=dtype).view(TorchArray)
    else:
        array = np.ndarray.__new__(
            TorchArray,
            sizes,
            dtype,
            buffer=storage,
            offset=(offset - 1) * dtype.itemsize,
            strides=tuple(s * dtype.itemsize for s in strides),
        )
    array.torch_class = torch_class
    array.storage = storage
    array.storage_offset = offset
    array.torch_size = sizes
    array.torch_stride = strides
    return array

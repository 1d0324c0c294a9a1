"""Load a Torch7 file into Python through our Lua reader (``lua/t7reader.lua``).

The whole file is read once into memory. A fresh LuaJIT runtime walks the
object structure in place through an FFI pointer and returns one record per
table, Torch object and function; storage payloads are never touched by Lua,
and NumPy arrays are views of the file's bytes at the offsets Lua noted.

Files in Torch's ASCII format (``torch.save(f, obj, 'ascii')``, told apart by
their first byte, a digit) are read too: Lua notes where each numeric
storage's line of text lies and NumPy parses it in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bridge.errors import CheckpointError
from bridge.t7 import runtime
from bridge.t7.objects import (
    Table,
    TorchArray,
    TorchFunction,
    TorchObject,
    tensor_of,
)
from bridge.t7.sniff import describe_non_torch

LONG_SIZES = (8, 4)

# Characters of an ASCII storage element, at most: Torch writes doubles with
# 17 significant digits (24 characters with sign and exponent) and longs of
# 20 characters.
_MAX_NUMBER_TEXT = 32

# Records of a first reading kept while the long width is checked; a file of
# more objects is read a third time instead, to keep the memory bound.
_KEEP_RECORDS = 50_000

# Torch element type -> little-endian NumPy dtype; Long follows the file.
_DTYPES: dict[bytes, np.dtype[Any]] = {
    b"Byte": np.dtype("u1"),
    b"Char": np.dtype("i1"),
    b"Short": np.dtype("<i2"),
    b"Int": np.dtype("<i4"),
    b"Float": np.dtype("<f4"),
    b"Double": np.dtype("<f8"),
    b"Half": np.dtype("<f2"),
}


@dataclass(frozen=True)
class Checkpoint:
    """A loaded Torch7 file: its root object and how it was read."""

    path: Path
    root: Any
    long_size: int
    size: int
    # "ascii" for a file saved with torch.save(f, obj, 'ascii').
    mode: Literal["binary", "ascii"] = "binary"


def load(path: str | Path, *, long_size: int | None = None) -> Any:
    """Read a Torch7 file and return its root object with NumPy arrays.

    ``long_size`` (4 or 8) forces the width of C longs in the file; by default
    it is detected. Both of Torch's formats, binary and ASCII, are read.
    """
    return read_checkpoint(path, long_size=long_size).root


def read_checkpoint(path: str | Path, *, long_size: int | None = None) -> Checkpoint:
    """Like :func:`load`, returning the root with what was learnt reading it."""
    path = Path(path)
    data = _read_bytes(path)

    problem = describe_non_torch(data[:512].tobytes(), len(data))
    if problem is not None:
        raise CheckpointError(path, problem)
    # A binary file starts with a type tag of 0 to 8 in its first byte, an
    # ASCII one with the tag's digits.
    ascii = data[:1].tobytes().isdigit()

    if long_size is not None and long_size not in LONG_SIZES:
        raise ValueError(f"long_size must be 4 or 8, not {long_size}")

    lua = runtime.new_runtime()
    reader = runtime.load_module(lua, "t7reader")
    address = data.ctypes.data

    def attempt(width: int) -> Any:
        result = reader.read(address, len(data), width, ascii)
        if result[b"ok"] and result[b"end_offset"] != len(data):
            end = result[b"end_offset"]
            return _Failure(
                end,
                "<root>",
                f"the checkpoint's object ends at byte {end} but the file has "
                f"{len(data) - end} more bytes",
            )
        if not result[b"ok"]:
            return _Failure(
                result[b"offset"],
                result[b"path"].decode("utf-8", "replace"),
                result[b"message"].decode("utf-8", "replace"),
                bool(result[b"short"]),
            )
        return result

    if ascii:
        # Longs are decimal text: their width does not matter.
        result = attempt(8)
        if isinstance(result, _Failure):
            raise result.error(path, " (reading Torch's ASCII format)")
        chosen = 8
    elif long_size is not None:
        result = attempt(long_size)
        if isinstance(result, _Failure):
            raise result.error(
                path,
                f" (reading with {long_size}-byte longs, as asked; without a "
                "width the reader finds the file's own)",
            )
        chosen = long_size
    else:
        chosen, result = _detect_long_size(path, attempt, reader.collect)

    root = _build(result, data, chosen, path)
    return Checkpoint(
        path=path,
        root=root,
        long_size=chosen,
        size=len(data),
        mode="ascii" if ascii else "binary",
    )


@dataclass(frozen=True)
class _Failure:
    offset: int
    path: str
    message: str
    # Failed for want of bytes, as a file cut short does.
    short: bool = False

    def error(self, file: Path, suffix: str = "") -> CheckpointError:
        return CheckpointError(file, self.message + suffix, self.offset, self.path)


def _detect_long_size(path: Path, attempt: Any, collect: Any) -> tuple[int, Any]:
    # Linux and macOS write 8-byte longs, Windows and 32-bit ARM 4-byte ones.
    # A file read with the wrong width loses step at its first tensor, so the
    # width under which the whole file reads cleanly is the file's.
    first = attempt(8)
    if not isinstance(first, _Failure) and first[b"longs_read"] == 0:
        return 8, first
    ok8 = not isinstance(first, _Failure)
    again = ok8 and first[b"n"] > _KEEP_RECORDS
    if again:
        # Two whole readings of a file of many small objects at once would
        # double the peak memory: drop the first and make it again if it is
        # the one wanted.
        first = None
        collect()
    second = attempt(4)
    ok4 = not isinstance(second, _Failure)
    if ok8 and ok4:
        raise CheckpointError(
            path,
            "the file reads cleanly both with 8-byte and with 4-byte longs; "
            "say which with --long-size 8 (Linux, macOS) or --long-size 4 "
            "(Windows, 32-bit ARM)",
        )
    if ok8 and not again:
        return 8, first
    if ok8:
        second = None
        collect()
        return 8, attempt(8)
    assert isinstance(first, _Failure)
    if ok4 and first.short:
        # Read with the wrong width, a file loses step at once; one that
        # keeps step to its end and runs out is more likely cut short.
        raise CheckpointError(
            path,
            f"with 8-byte longs (Linux, macOS) the file runs out early: "
            f"{first.message}; with 4-byte longs (Windows, 32-bit ARM) it reads "
            "to its end. It is cut short, or was written with 4-byte longs: "
            "if it is complete, say --long-size 4",
            first.offset,
            first.path,
        )
    if ok4:
        return 4, second
    # Neither reads: report the attempt that got further, 8-byte on a tie.
    assert isinstance(second, _Failure)
    worse = second if second.offset > first.offset else first
    width = 4 if worse is second else 8
    raise worse.error(path, f" (reading with {width}-byte longs)")


def _read_bytes(path: Path) -> np.ndarray[Any, np.dtype[np.uint8]]:
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            # Not a bytearray, which is zeroed first: that pass over the
            # memory took as long again as the read itself.
            data = np.empty(size, dtype=np.uint8)
            got = f.readinto(data.data)
    except IsADirectoryError:
        raise CheckpointError(path, "is a directory, not a checkpoint") from None
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file: {e.strerror}") from None
    if got != size:
        raise CheckpointError(path, f"read {got} of {size} bytes; file changed?")
    return data


def _build(result: Any, data: np.ndarray, long_size: int, file: Path) -> Any:
    """Turn the Lua reader's records into Python objects, without recursion.

    Records are fetched from Lua one at a time and let go: a file of many
    small objects would otherwise hold a Python proxy for each of them.
    """
    heap = result[b"heap"]
    n = result[b"n"]
    objects: list[Any] = [None] * (n + 1)
    dtypes = dict(_DTYPES)
    dtypes[b"Long"] = np.dtype("<i8" if long_size == 8 else "<i4")

    def value(v: Any) -> Any:
        if isinstance(v, bytes):
            return _string(v)
        if isinstance(v, (int, float, bool)) or v is None:
            return v
        return objects[v[b"slot"]]

    # Containers and storages first, so tensors and fields can point at them.
    tensors = []
    for slot in range(1, n + 1):
        rec = heap[slot]
        kind = rec[b"kind"]
        if kind == b"table":
            objects[slot] = Table()
        elif kind == b"object":
            objects[slot] = TorchObject(
                rec[b"class"].decode("utf-8", "replace"), rec[b"version"], Table()
            )
        elif kind == b"storage":
            dtype = dtypes[rec[b"elem"]]
            if rec[b"text_offset"] is not None:
                array = _parse_elements(rec, data, dtype, file).view(TorchArray)
            else:
                array = np.frombuffer(
                    data, dtype=dtype, count=rec[b"count"], offset=rec[b"data_offset"]
                ).view(TorchArray)
            array.torch_class = rec[b"class"].decode()
            objects[slot] = array
        elif kind == b"function":
            start = rec[b"bytecode_offset"]
            objects[slot] = TorchFunction(
                rec[b"tag"],
                data[start : start + rec[b"bytecode_length"]].tobytes(),
                None,
                rec[b"at"],
            )
        elif kind == b"tensor":
            tensors.append(slot)

    for slot in tensors:
        rec = heap[slot]
        objects[slot] = _tensor(rec, dtypes[rec[b"elem"]], objects)

    for slot in range(1, n + 1):
        obj = objects[slot]
        if isinstance(obj, Table):
            rec = heap[slot]
            keys, values = rec[b"keys"], rec[b"values"]
            for i in range(1, len(keys) + 1):
                obj[value(keys[i])] = value(values[i])
        elif isinstance(obj, TorchObject):
            fields = heap[slot][b"fields"]
            if fields is not None:
                obj.fields = objects[fields[b"slot"]]
        elif isinstance(obj, TorchFunction):
            obj.upvalues = value(heap[slot][b"upvalues"])

    return value(result[b"root"])


def _tensor(rec: Any, dtype: np.dtype[Any], objects: list[Any]) -> TorchArray:
    sizes = tuple(rec[b"size"].values())
    strides = tuple(rec[b"stride"].values())
    offset = rec[b"offset"]
    storage_ref = rec[b"storage"]
    storage = objects[storage_ref[b"slot"]] if storage_ref is not None else None
    # The Lua reader has checked that the view lies inside its storage.
    return tensor_of(storage, offset, sizes, strides, rec[b"class"].decode(), dtype)


def _parse_elements(
    rec: Any, data: np.ndarray, dtype: np.dtype[Any], file: Path
) -> np.ndarray[Any, Any]:
    """The elements of an ASCII storage, parsed from their line of text."""
    start = rec[b"text_offset"]
    count = rec[b"count"]
    tokens = data[start : start + rec[b"text_length"]].tobytes().split()

    def error(message: str) -> CheckpointError:
        where = rec[b"path"].decode("utf-8", "replace")
        return CheckpointError(file, message, start, where)

    if len(tokens) != count:
        raise error(
            f"{rec[b'class'].decode()} claims {count} elements but its line holds "
            f"{len(tokens)}"
        )
    # NumPy gives every token the width of the longest: one long word among
    # many numbers would take gigabytes.
    longest = max(map(len, tokens), default=0)
    if longest > _MAX_NUMBER_TEXT:
        raise error(
            f"{rec[b'class'].decode()} holds a value {longest} characters long, "
            f"longer than any number Torch writes ({_MAX_NUMBER_TEXT} at most)"
        )
    try:
        if dtype.kind == "f":
            # As Torch reads them: a float from the text, then a half from it.
            parsed = np.array(tokens).astype(np.float64)
            if dtype.itemsize < 8:
                parsed = parsed.astype(np.float32)
            return parsed.astype(dtype)
        wide = np.array(tokens).astype(np.int64)
    except (ValueError, OverflowError) as e:
        raise error(
            f"{rec[b'class'].decode()} holds a value that is not a number: {e}"
        ) from None
    info = np.iinfo(dtype)
    if count and (wide.min() < info.min or wide.max() > info.max):
        raise error(
            f"{rec[b'class'].decode()} holds a value outside {dtype.name}'s range"
        )
    return wide.astype(dtype)


def _string(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw

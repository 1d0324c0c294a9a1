"""Write a msgspec document whose big number arrays are streamed, not built.

The document's shape and field order come from its msgspec Structs, encoded
once with a small placeholder where each array goes; the arrays are then
formatted a chunk at a time straight into the output, so a model of millions
of weights never exists as Python floats or as one big string. Numbers are
formatted by orjson's NumPy path: the shortest text that reads back as the
same float64, without a detour through Python floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import msgspec
import numpy as np
import orjson

# Values formatted per call: large enough to amortise the call, small enough
# to keep each piece of text a few megabytes.
CHUNK = 1 << 18

# NUL never appears raw in msgspec's JSON (strings escape it), so it can mark
# where the arrays go.
_MARK = b"\x00"


def placeholder(index: int) -> msgspec.Raw:
    """What stands in the document for ``arrays[index]``."""
    return msgspec.Raw(b"%s%d%s" % (_MARK, index, _MARK))


def encode_numbers(values: np.ndarray) -> bytes:
    """A JSON array of ``values`` (flattened row by row), all at once."""
    flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    return orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY)


def write(
    out: BinaryIO,
    document: msgspec.Struct,
    arrays: Sequence[np.ndarray],
    *,
    pretty: bool = False,
) -> int:
    """Write ``document`` with ``arrays`` in place of its placeholders; return
    the number of bytes written."""
    skeleton = msgspec.json.encode(document)
    if pretty:
        # Indenting needs the whole text; pretty output is for small models.
        parts = skeleton.split(_MARK)
        for i in range(1, len(parts), 2):
            parts[i] = encode_numbers(arrays[int(parts[i])])
        text = msgspec.json.format(b"".join(parts), indent=2) + b"\n"
        out.write(text)
        return len(text)

    written = 0
    for i, part in enumerate(skeleton.split(_MARK)):
        if i % 2 == 0:
            out.write(part)
            written += len(part)
        else:
            written += _write_numbers(out, arrays[int(part)])
    out.write(b"\n")
    return written + 1


def _write_numbers(out: BinaryIO, values: np.ndarray) -> int:
    flat = values.reshape(-1)
    if flat.size <= CHUNK:
        text = encode_numbers(flat)
        out.write(text)
        return len(text)

    written = 0
    out.write(b"[")
    for start in range(0, flat.size, CHUNK):
        text = encode_numbers(flat[start : start + CHUNK])
        if start:
            out.write(b",")
            written += 1
        # Without the brackets, and without copying megabytes to drop them.
        out.write(memoryview(text)[1:-1])
        written += len(text) - 2
    out.write(b"]")
    return written + 2

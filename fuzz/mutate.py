"""Mutations of a file's bytes, as plain data so that both the runner's random
generator and Hypothesis's strategies can make them.

A mutation is a tuple whose first item names it. Positions and lengths are
taken modulo the data's size when applied, so any numbers make a valid
mutation of any file, and Hypothesis can shrink them freely.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

Mutation = tuple[object, ...]

# Values that sit on the edges the reader checks: type tags, signs, widths,
# 2^31, 2^53 and 2^63.
INTERESTING = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 64, 65, 255, 256, 4096, 65535,
    -1, -2, -128, -(2**31), 2**31 - 1, 2**32 - 1, 2**32, 2**53, 2**53 + 1,
    2**62, 2**63 - 1, -(2**63), -(2**53),
    # NaN bit patterns, where LuaJIT keeps other values' type tags.
    0xFFF9000000000000, 0xFFFF7FFFFFFFFFFF, 0x7FF0000000000001,
)  # fmt: skip

KINDS = (
    "flip", "byte", "int32", "int64", "field", "truncate", "insert", "delete",
    "copy",
)  # fmt: skip


def apply(data: bytes, mutations: Sequence[Mutation], other: bytes = b"") -> bytes:
    """``data`` with each mutation applied in turn; ``other`` is the file a
    ``splice`` takes its tail from."""
    out = bytearray(data)
    for mutation in mutations:
        _apply_one(out, mutation, other)
    return bytes(out)


def _apply_one(out: bytearray, mutation: Mutation, other: bytes) -> None:
    kind, *args = mutation
    size = len(out)
    ints = [int(a) for a in args if isinstance(a, int)]
    at = ints[0] % (size + 1) if ints else 0
    if kind == "splice":
        cut = ints[1] % (len(other) + 1) if len(ints) > 1 else 0
        out[at:] = other[cut:]
        return
    if kind == "truncate":
        del out[at:]
        return
    if kind == "insert":
        raw = args[1] if len(args) > 1 and isinstance(args[1], bytes) else b"\x00"
        out[at:at] = raw
        return
    if size == 0:
        return
    at %= size
    if kind == "flip":
        out[at] ^= 1 << (ints[1] % 8)
    elif kind == "byte":
        out[at] = ints[1] % 256
    elif kind == "int32":
        out[at : at + 4] = struct.pack("<I", ints[1] % 2**32)
    elif kind == "int64":
        out[at : at + 8] = struct.pack("<Q", ints[1] % 2**64)
    elif kind == "field":
        # The 8 bytes after the n-th 4-aligned int equal to a type tag (0 to
        # 8): a number's double, a string's length, a table's index and size.
        tag = struct.pack("<i", ints[1] % 9)
        found = [i for i in range(0, size - 3, 4) if out[i : i + 4] == tag]
        if found:
            where = found[ints[0] % len(found)] + 4
            out[where : where + 8] = struct.pack("<Q", ints[2] % 2**64)
    elif kind == "delete":
        del out[at : at + ints[1] % 64 + 1]
    elif kind == "copy":
        length = ints[1] % 256 + 1
        chunk = bytes(out[at : at + length])
        dest = ints[2] % (size + 1)
        out[dest:dest] = chunk
    else:
        raise ValueError(f"unknown mutation {kind!r}")


def random_mutations(rng: random.Random, size: int, most: int = 6) -> list[Mutation]:
    """Between one and ``most`` random mutations of a file of ``size`` bytes,
    positions mostly on 4-byte boundaries where the format's fields sit."""

    def position() -> int:
        at = rng.randrange(size + 1)
        return at - at % 4 if rng.random() < 0.7 else at

    def value() -> int:
        if rng.random() < 0.6:
            return rng.choice(INTERESTING)
        return rng.randrange(-(2**63), 2**63)

    mutations: list[Mutation] = []
    for _ in range(min(most, rng.choice((1, 1, 1, 2, 2, 3, 4, 6)))):
        kind = rng.choice(KINDS)
        if kind in ("int32", "int64", "byte"):
            mutations.append((kind, position(), value()))
        elif kind == "field":
            mutations.append((kind, rng.randrange(64), rng.randrange(9), value()))
        elif kind == "flip":
            mutations.append((kind, position(), rng.randrange(8)))
        elif kind == "insert":
            raw = rng.choice(
                [
                    struct.pack("<i", rng.choice(INTERESTING) % 2**32 - 2**31),
                    bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))),
                    rng.choice([b"\n", b" ", b"3\n1\n", b"-1\n", b"V 1", b"9" * 20]),
                    # A long number or word, for the ASCII format's lines.
                    bytes([rng.choice(b"19e-x ")]) * rng.randint(1, 5000),
                ]
            )
            mutations.append((kind, position(), raw))
        elif kind == "copy":
            mutations.append((kind, position(), rng.randrange(256), position()))
        else:
            mutations.append((kind, position(), rng.randrange(64)))
    return mutations

"""Say what a file that is not a Torch7 checkpoint looks like instead.

A Torch7 file has no magic number: a binary one starts with a 4-byte type tag
of 0 to 8, an ASCII one with that tag's digit on a line of its own. Other
formats are told by their own first bytes; each answer says what the file is
and what to do about it.
"""

from __future__ import annotations

import codecs
import os
import re
import struct
from pathlib import Path

# A binary Torch file starts with a type tag; an ASCII one with its digits.
_TORCH_TAGS = range(0, 9)
# The first line of a file saved with torch.save(f, obj, 'ascii').
_ASCII_START = re.compile(rb"[0-8]\r?\n")

_READS = "rjs-bridge reads Lua Torch7 checkpoints (.t7)"

# (first bytes, what the file is and what to do), tried in order.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"version https://git-lfs",
        "this is a Git LFS pointer, not the checkpoint itself; "
        "run `git lfs pull` in its repository to fetch the real file",
    ),
    (
        b"PK\x03\x04",
        f"this is a zip archive, as PyTorch's torch.save writes since 1.6; {_READS}",
    ),
    (
        b"\x1f\x8b",
        "this is gzip-compressed; decompress it first (gunzip) and convert the "
        "file inside",
    ),
    (
        b"BZh",
        "this is bzip2-compressed; decompress it first (bunzip2) and convert "
        "the file inside",
    ),
    (
        b"\xfd7zXZ\x00",
        "this is xz-compressed; decompress it first (unxz) and convert the file inside",
    ),
    (
        b"\x28\xb5\x2f\xfd",
        "this is zstd-compressed; decompress it first (unzstd) and convert the "
        "file inside",
    ),
    (
        b"\x89HDF\r\n\x1a\n",
        f"this is an HDF5 file (Keras, torch-hdf5), not a Torch7 checkpoint; {_READS}",
    ),
    (b"\x93NUMPY", f"this is a NumPy array file (.npy); {_READS}"),
    (b"GGUF", f"this is a GGUF model file (llama.cpp); {_READS}"),
    (
        b"\x1bLJ",
        "this is compiled LuaJIT bytecode, a program rather than a checkpoint; "
        "rjs-bridge never runs code from a file",
    ),
    (
        b"\x1bLua",
        "this is compiled Lua bytecode, a program rather than a checkpoint; "
        "rjs-bridge never runs code from a file",
    ),
)


def describe_non_torch(head: bytes, size: int | None = None) -> str | None:
    """A sentence on what ``head`` (a file's first bytes; ``size`` is the
    whole file's, when known) is, when it is clearly not Torch's format; None
    when it may be Torch's."""
    if not head:
        return (
            "the file is empty (0 bytes): the training run or the download that "
            "made it did not finish"
        )
    for magic, answer in _MAGIC:
        if head.startswith(magic):
            return answer
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            f"this is a Python pickle, as older PyTorch's torch.save writes; {_READS}"
        )
    if _is_safetensors(head, size):
        return f"this is a safetensors file (Hugging Face); {_READS}"
    lowered = head.lstrip()[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return (
            "this is an HTML page, not a checkpoint: the download probably "
            "saved a web page (use the file's raw download link)"
        )
    if len(head) >= 4:
        (tag,) = struct.unpack("<i", head[:4])
        if tag in _TORCH_TAGS:
            return None
    if _ASCII_START.match(head) or (len(head) < 3 and head[:1] in b"012345678"):
        # Possibly Torch's ASCII format.
        return None
    if _looks_like_text(head):
        if lowered.startswith((b"{", b"[")):
            return (
                "this is a JSON file, not a checkpoint: rjs-bridge reads the .t7 "
                "file a model was trained into and writes JSON itself"
            )
        return (
            "this is a text file, not a Torch7 checkpoint (those are binary, or "
            "in Torch's ASCII format start with a type number on its own line)"
        )
    return None


def describe_non_torch_file(path: Path) -> str | None:
    """:func:`describe_non_torch` for the file at ``path``; None when it
    cannot be read, which the reader then reports."""
    try:
        with path.open("rb") as f:
            head = f.read(512)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    return describe_non_torch(head, size)


def _is_safetensors(head: bytes, size: int | None) -> bool:
    # An 8-byte little-endian header length, then the JSON header.
    if len(head) < 10 or head[8:9] != b"{":
        return False
    length = int.from_bytes(head[:8], "little")
    limit = size - 8 if size is not None else len(head) - 8
    return 2 <= length <= limit


def _looks_like_text(head: bytes) -> bool:
    # Not final: the head may end inside a character.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)

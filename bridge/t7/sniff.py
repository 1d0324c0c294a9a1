"""Say what a file that is not a Torch7 checkpoint looks like instead."""

from __future__ import annotations

import struct

# A binary Torch file starts with a type tag; an ASCII one with its digits.
_TORCH_TAGS = range(0, 9)


def describe_non_torch(head: bytes) -> str | None:
    """A sentence on what ``head`` (a file's first bytes) is, when it is
    clearly not Torch's format; None when it may be Torch's."""
    if not head:
        return "the file is empty"
    if head.startswith(b"version https://git-lfs"):
        return (
            "this is a Git LFS pointer, not the checkpoint itself; "
            "run `git lfs pull` in its repository to fetch the real file"
        )
    if head.startswith(b"PK\x03\x04"):
        return (
            "this is a zip archive, as PyTorch's torch.save writes since 1.6; "
            "rjs-bridge reads Lua Torch7 checkpoints (.t7)"
        )
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            "this is a Python pickle, as older PyTorch's torch.save writes; "
            "rjs-bridge reads Lua Torch7 checkpoints (.t7)"
        )
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
    if head[:1].isdigit():
        # Possibly Torch's ASCII format, whose first line is a type tag.
        return None
    if _looks_like_text(head):
        return "this is a text file, not a Torch7 checkpoint"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)

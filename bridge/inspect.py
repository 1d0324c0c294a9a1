"""A readable outline of a loaded checkpoint, like char-rnn's inspect script."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bridge.t7.backends import LoadedCheckpoint
from bridge.t7.objects import Table, TorchArray, TorchFunction, TorchObject
from bridge.t7.reader import Checkpoint

# Entries shown per table before the rest are counted instead.
_MAX_ENTRIES = 40


def describe(checkpoint: Checkpoint, *, depth: int = 3) -> Iterator[str]:
    """Lines describing ``checkpoint``: a summary, then its object tree down to
    ``depth`` levels. An object met a second time is named by its first path."""
    root = checkpoint.root
    yield f"file: {checkpoint.path}"
    yield f"size: {checkpoint.size:,} bytes, {checkpoint.long_size}-byte longs"
    if isinstance(checkpoint, LoadedCheckpoint):
        if checkpoint.torch is not None:
            yield f"read by: the Lua Torch at {checkpoint.torch.prefix}"
        else:
            yield "read by: rjs-bridge's embedded reader"
    yield from _summary(root)
    yield ""
    seen: dict[int, str] = {}
    yield from _tree(root, "<root>", "", depth, seen)


def _summary(root: Any) -> Iterator[str]:
    if not isinstance(root, Table):
        return
    vocab = root.get("vocab")
    if isinstance(vocab, Table):
        yield f"vocabulary: {len(vocab)} tokens"
    model = root.get("model")
    if isinstance(model, TorchObject) and "idx_to_token" in model:
        yield f"vocabulary: {len(model['idx_to_token'])} tokens"
    opt = root.get("opt")
    if isinstance(opt, Table):
        options = ", ".join(
            f"{_key(k)}={v!r}"
            for k, v in sorted(opt.items(), key=lambda kv: str(kv[0]))
        )
        yield f"options: {options}"


def _tree(
    value: Any, name: str, indent: str, depth: int, seen: dict[int, str]
) -> Iterator[str]:
    # Depth-first with an explicit stack, as --depth may ask for more levels
    # than Python's recursion limit allows. An item is a value to describe or
    # a line ready to print.
    stack: list[tuple[Any, str, str, int] | str] = [(value, name, indent, depth)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
            continue
        value, name, indent, depth = item
        if isinstance(value, (Table, TorchObject, TorchArray, TorchFunction)):
            first = seen.get(id(value))
            if first is not None:
                yield f"{indent}{name}: same as {first}"
                continue
            seen[id(value)] = name

        if isinstance(value, TorchArray):
            shape = "x".join(str(n) for n in value.shape)
            yield f"{indent}{name}: {value.torch_class} {shape} {value.dtype}"
            continue
        if isinstance(value, TorchFunction):
            yield (
                f"{indent}{name}: Lua function ({len(value.bytecode)} bytes, "
                "not loaded)"
            )
            continue
        if isinstance(value, TorchObject):
            yield f"{indent}{name}: {value.torch_class}"
            entries = value.fields
        elif isinstance(value, Table):
            yield f"{indent}{name}: table of {len(value)}"
            entries = value
        else:
            yield f"{indent}{name}: {value!r}"
            continue

        if depth <= 0:
            if entries:
                yield f"{indent}  ..."
            continue
        # Types first: a list holding an array as a key compares elementwise.
        keys = list(entries)
        is_list = all(type(k) is int for k in keys) and keys == list(
            range(1, len(keys) + 1)
        )
        if (
            is_list
            and len(entries) > 1
            and all(_is_number(v) for v in entries.values())
        ):
            # Loss histories and the like: a line, not hundreds.
            values = list(entries.values())
            shown = ", ".join(f"{v:.6g}" for v in values[:3])
            more = f", ... {values[-1]:.6g}" if len(values) > 3 else ""
            yield f"{indent}  numbers: {shown}{more}"
            continue
        children: list[tuple[Any, str, str, int] | str] = []
        for count, (key, child) in enumerate(entries.items()):
            if count == _MAX_ENTRIES:
                children.append(f"{indent}  ... {len(entries) - count} more entries")
                break
            children.append((child, _key(key), indent + "  ", depth - 1))
        stack.extend(reversed(children))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(key: Any) -> str:
    # A key is printed as it is only when that cannot reach the terminal as
    # a control sequence; a file's strings are a stranger's.
    if isinstance(key, str) and key.isprintable():
        return key
    if isinstance(key, str):
        return f"[{key!r}]"
    if isinstance(key, TorchObject):
        return f"[{key.torch_class}]"
    if isinstance(key, Table):
        return "[table]"
    return f"[{key!r}]"

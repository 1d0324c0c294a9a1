"""Object paths in a loaded Torch7 tree, spelt as the fixtures' README does.

``protos.rnn.modules[3].weight``: string keys joined with dots, integer keys
in brackets, stepping through Table entries and Torch objects' fields.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from bridge.t7 import Table, TorchArray, TorchObject, is_tensor

_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]")


def resolve(root: Any, path: str) -> Any:
    """The object at ``path`` below ``root``; KeyError naming the missing step."""
    value = root
    at = 0
    while at < len(path):
        step = _STEP.match(path, at)
        if step is None:
            raise ValueError(f"cannot parse {path!r} at character {at}")
        name, number = step.groups()
        key: Any = name if name is not None else int(number)
        entries = value.fields if isinstance(value, TorchObject) else value
        if not isinstance(entries, Table) or key not in entries:
            raise KeyError(f"{path!r}: nothing at {path[: step.end()]!r}")
        value = entries[key]
        at = step.end()
    return value


def tensor_paths(root: Any) -> dict[str, TorchArray]:
    """Every non-empty tensor reachable from ``root`` through tables and
    fields, keyed by a shortest path to it (breadth-first)."""
    found: dict[str, TorchArray] = {}
    seen = {id(root)}
    queue: deque[tuple[Any, str]] = deque([(root, "")])
    while queue:
        value, path = queue.popleft()
        if is_tensor(value):
            if value.size > 0:
                found[path] = value
            continue
        entries = value.fields if isinstance(value, TorchObject) else value
        if not isinstance(entries, Table):
            continue
        for key, item in entries.items():
            if id(item) in seen or not isinstance(
                item, (Table, TorchObject, TorchArray)
            ):
                continue
            seen.add(id(item))
            queue.append((item, path + _spell(key, path)))
    return found


def _spell(key: Any, parent: str) -> str:
    if isinstance(key, str):
        return f".{key}" if parent else key
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    return f"[{key!r}]"

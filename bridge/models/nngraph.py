"""A structural view of a serialized nngraph ``nn.gModule``.

nngraph keeps two copies of a graph whose nodes share their ``data`` tables:
``bg`` (children are a node's inputs) and ``fg`` (children are its consumers).
We take the forward nodes, make one :class:`Op` per ``data`` table, and join
each op to its producers and consumers, so a model can be recognised by what
feeds what rather than by the order nodes happen to be listed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import UnsupportedError
from bridge.t7.objects import Table, TorchObject


@dataclass(eq=False)
class Op:
    """One node of the graph: a module applied to the outputs of ``inputs``."""

    data: Table
    module: TorchObject | None
    inputs: list[Op] = field(default_factory=list)
    consumers: list[Op] = field(default_factory=list)

    @property
    def kind(self) -> str | None:
        """The module's class (``nn.Linear``), or None for nngraph's own
        input, output, split and select nodes."""
        return self.module.torch_class if self.module is not None else None

    @property
    def name(self) -> str | None:
        """The ``annotate{name=...}`` given when the graph was built, if any."""
        annotations = self.data.get("annotations")
        if isinstance(annotations, Table):
            name = annotations.get("name")
            return name if isinstance(name, str) else None
        return None

    @property
    def select_index(self) -> int | None:
        """For the nodes that pick one output of a split: which one (1-based)."""
        index = self.data.get("selectindex")
        return index if isinstance(index, int) else None

    def only_input(self) -> Op | None:
        return self.inputs[0] if len(self.inputs) == 1 else None

    def __repr__(self) -> str:
        label = self.kind or "node"
        if self.name:
            label += f" {self.name!r}"
        return f"<{label}>"


class Graph:
    """The ops of an ``nn.gModule`` and the edges between them."""

    def __init__(self, gmodule: TorchObject, where: str) -> None:
        self.where = where
        nodes = gmodule.get("forwardnodes")
        if not isinstance(nodes, Table):
            fg = gmodule.get("fg")
            nodes = fg.get("nodes") if isinstance(fg, TorchObject) else None
        if not isinstance(nodes, Table):
            raise UnsupportedError(
                f"{where}: this nn.gModule has neither forwardnodes nor fg.nodes"
            )

        self.ops: list[Op] = []
        by_data: dict[int, Op] = {}
        forward = [n for k, n in nodes.items() if isinstance(k, int)]
        for node in forward:
            data = _field(node, "data")
            if not isinstance(data, Table):
                raise UnsupportedError(f"{where}: a graph node has no data table")
            if id(data) not in by_data:
                module = data.get("module")
                op = Op(data, module if isinstance(module, TorchObject) else None)
                by_data[id(data)] = op
                self.ops.append(op)

        # In the forward graph a node's children are its consumers.
        for node in forward:
            producer = by_data[id(_field(node, "data"))]
            children = _field(node, "children")
            if not isinstance(children, Table):
                continue
            for key, child in children.items():
                if not isinstance(key, int) or not isinstance(child, TorchObject):
                    continue
                consumer = by_data.get(id(_field(child, "data")))
                if consumer is None:
                    raise UnsupportedError(
                        f"{where}: a graph edge leads outside the forward nodes"
                    )
                producer.consumers.append(consumer)
                consumer.inputs.append(producer)

        # Keep each op's inputs in argument order where nngraph recorded it.
        for op in self.ops:
            mapindex = op.data.get("mapindex")
            if isinstance(mapindex, Table) and len(op.inputs) > 1:
                position = {id(v): k for k, v in mapindex.items() if isinstance(k, int)}
                op.inputs.sort(key=lambda p: position.get(id(p.data), 0))

    def find(self, kind: str) -> Iterator[Op]:
        """The ops whose module is of class ``kind``."""
        return (op for op in self.ops if op.kind == kind)

    def graph_input(self, op: Op) -> int | None:
        """Which of the gModule's inputs ``op`` is (1-based), looking through
        ``nn.Identity``; None if it is computed inside the graph."""
        passed: set[int] = set()
        while op.kind == "nn.Identity" and op.only_input() is not None:
            if id(op) in passed:
                raise UnsupportedError(f"{self.where}: {op!r} feeds itself in a loop")
            passed.add(id(op))
            op = op.inputs[0]
        if op.kind is not None:
            return None
        if not op.inputs:
            # A single-input graph feeds its input node straight in.
            return 1
        split = op.only_input()
        if split is None or split.kind is not None or split.inputs[0:1] == []:
            return None
        innode = split.only_input()
        if innode is None or innode.inputs or op.select_index is None:
            return None
        return op.select_index


def _field(node: Any, name: str) -> Any:
    return node.get(name) if isinstance(node, TorchObject) else None

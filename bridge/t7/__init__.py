"""Torch7's serialization format: reading it into Python objects."""

from bridge.t7.objects import Table, TorchArray, TorchFunction, TorchObject, is_tensor
from bridge.t7.reader import Checkpoint, load, read_checkpoint

__all__ = [
    "Checkpoint",
    "Table",
    "TorchArray",
    "TorchFunction",
    "TorchObject",
    "is_tensor",
    "load",
    "read_checkpoint",
]

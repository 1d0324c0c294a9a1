"""Recognise the language model a checkpoint holds, by what it holds."""

from __future__ import annotations

from typing import Any

from bridge.models import charrnn
from bridge.models.types import GATES, Gate, Layer, RecurrentModel, Source

__all__ = ["GATES", "Gate", "Layer", "RecurrentModel", "Source", "recognise"]


def recognise(root: Any, source: str) -> RecurrentModel:
    """The model in a loaded checkpoint (char-rnn or torch-rnn), or an
    UnsupportedError saying what was found and which kinds are supported."""
    return charrnn.recognise(root, source)

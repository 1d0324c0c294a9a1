"""Recognise the language model a checkpoint holds, by what it holds."""

from __future__ import annotations

from typing import Any

import numpy as np

from bridge.errors import UnsupportedError
from bridge.models import charrnn, torchrnn
from bridge.models.checks import check_model_finite
from bridge.models.types import GATES, Gate, Layer, RecurrentModel, Source
from bridge.t7.objects import Table, TorchObject

__all__ = ["GATES", "Gate", "Layer", "RecurrentModel", "Source", "recognise"]

SUPPORTED = (
    "char-rnn LSTM, GRU and RNN checkpoints (protos.rnn, opt, vocab) and "
    "torch-rnn LSTM and RNN checkpoints (model, an nn.LanguageModel)"
)


def recognise(root: Any, source: str) -> RecurrentModel:
    """The model in a loaded checkpoint (char-rnn or torch-rnn), or an
    UnsupportedError saying what was found and which kinds are supported."""
    # Sums and folds that overflow are reported by check_model_finite, not
    # as NumPy's warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        if torchrnn.is_torchrnn(root):
            model = torchrnn.recognise(root, source)
        elif charrnn.is_charrnn(root):
            model = charrnn.recognise(root, source)
        else:
            raise UnsupportedError(
                f"{source}: not a model rjs-bridge knows: found {_describe(root)}; "
                f"supported are {SUPPORTED}"
            )
    check_model_finite(model)
    return model


def _describe(root: Any) -> str:
    if isinstance(root, Table):
        # repr for keys that are not plain text: the message reaches a terminal.
        names = sorted(
            k if isinstance(k, str) and k.isprintable() else repr(k) for k in root
        )
        keys = ", ".join(names[:12]) or "no keys"
        return f"a table with {keys}"
    if isinstance(root, TorchObject):
        return f"a {root.torch_class}"
    return f"a {type(root).__name__}"

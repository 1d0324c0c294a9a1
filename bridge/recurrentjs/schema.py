"""RecurrentJS's model JSON, as its character demo saves and loads it.

The field order of these Structs is the order of the JSON we write, the
order karpathy/recurrentjs character_demo.html (84d6934) saveModel uses.
Matrices are ``{n, d, w}`` with ``w`` row-major, as R.Mat.toJSON gives.
"""

from __future__ import annotations

import msgspec


class Mat(msgspec.Struct):
    """An ``R.Mat``: ``n`` rows, ``d`` columns, ``w`` the values row by row.

    ``w`` is pre-encoded JSON (a list of numbers) so that weights go from
    NumPy to text without a detour through a list of Python floats.
    """

    n: int
    d: int
    w: msgspec.Raw


class Solver(msgspec.Struct):
    """The demo's RMSProp settings; loadModel reads them unconditionally."""

    decay_rate: float = 0.999
    smooth_eps: float = 1e-8
    step_cache: dict[str, Mat] = msgspec.field(default_factory=dict)


class RecurrentJSModel(msgspec.Struct, omit_defaults=True):
    """What the demo's loadModel reads, in saveModel's order.

    ``checkpoint_order`` is ours, and the demo ignores it: the RecurrentJS
    token of each of the checkpoint's tokens, in the checkpoint's order,
    written only when that is not the file's own order (when a character
    other than the checkpoint's first moved to token 0). It keeps what the
    move loses, so that rjs-bridge's runtime samples an export exactly as it
    samples the checkpoint.
    """

    hidden_sizes: list[int]
    generator: str
    letter_size: int
    model: dict[str, Mat]
    solver: Solver
    letterToIndex: dict[str, int]
    indexToLetter: dict[str, str]
    vocab: list[str]
    checkpoint_order: list[int] | None = None

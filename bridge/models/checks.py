"""Checks every recogniser applies to the weights it hands on."""

from __future__ import annotations

import numpy as np

from bridge.errors import UnsupportedError


def check_finite(values: np.ndarray, label: str) -> None:
    """Refuse NaN and infinite weights, which no JSON number can hold, naming
    the first bad element (1-based, as Torch counts)."""
    bad = np.argwhere(~np.isfinite(values))
    if len(bad) == 0:
        return
    first = tuple(int(i) for i in bad[0])
    where = ", ".join(str(i + 1) for i in first)
    raise UnsupportedError(
        f"{label}[{where}] is {values[first]} ({len(bad)} such values); "
        "the checkpoint's weights are broken and no export can hold them"
    )

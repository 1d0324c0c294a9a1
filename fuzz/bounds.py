"""What the fuzz runner and tests hold the reader to.

Loading a file of S bytes must end within ``SECONDS_PER_INPUT`` (for the
seeds' sizes) and must not use more than ``MEMORY_FACTOR * S +
MEMORY_SLACK`` bytes of memory beyond what the runtime held before the
load. The factor is the README's stated bound; the worst files measured (a
file made of nothing but empty tables, in Torch's ASCII format) need 30.
"""

from __future__ import annotations

MEMORY_FACTOR = 40
MEMORY_SLACK = 32 << 20

# A load past this is reported as a hang by the runner.
SECONDS_PER_INPUT = 10.0


def memory_allowed(size: int) -> int:
    """Bytes a load of a ``size``-byte file may use at most."""
    return MEMORY_FACTOR * size + MEMORY_SLACK

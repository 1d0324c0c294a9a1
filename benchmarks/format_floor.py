"""The floor for formatting: N float32 weights as shortest float64 text.

Run as `python format_floor.py N`: makes N float32 values and formats them
with the fastest formatter we know (orjson's NumPy path) to /dev/null, a
chunk at a time as an exporter would. export_speed.py times this whole
process, interpreter start-up and imports included, as rjs-bridge's are.
"""

from __future__ import annotations

import sys

import numpy as np
import orjson

CHUNK = 1 << 18


def main(count: int) -> None:
    values = np.random.default_rng(0).uniform(-0.08, 0.08, count).astype(np.float32)
    with open("/dev/null", "wb") as out:
        for start in range(0, count, CHUNK):
            chunk = values[start : start + CHUNK].astype(np.float64)
            out.write(orjson.dumps(chunk, option=orjson.OPT_SERIALIZE_NUMPY))


if __name__ == "__main__":
    main(int(sys.argv[1]))

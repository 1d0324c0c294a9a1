"""The floor for formatting: N float32 weights as shortest float64 text.

Run as `python format_floor.py VALUES.npy`: loads the float32 values and
formats them with the fastest formatter we know (orjson's NumPy path) to
/dev/null, a chunk at a time as an exporter would. export_speed.py makes the
file and times this whole process, interpreter start-up, imports and reading
the values included, as rjs-bridge's are.
"""

from __future__ import annotations

import sys

import numpy as np
import orjson

# The chunk that formats fastest here: 2^16 beat 2^18 on 10 M values.
CHUNK = 1 << 16


def main(path: str) -> None:
    values = np.load(path)
    with open("/dev/null", "wb") as out:
        for start in range(0, values.size, CHUNK):
            chunk = values[start : start + CHUNK].astype(np.float64)
            out.write(orjson.dumps(chunk, option=orjson.OPT_SERIALIZE_NUMPY))


if __name__ == "__main__":
    main(sys.argv[1])

"""Fuzz the checkpoint reader for a set time and report what it found.

    python -m fuzz.fuzz_reader --minutes 10 [--workers 2] [--seed 1]

(from the repository's root; ``python fuzz/fuzz_reader.py`` works too).

Each input is a seed file (fuzz/corpus.py: small files of every record kind,
in binary with 8- and 4-byte longs and in ASCII, and the smaller Torch
fixtures) with random mutations (fuzz/mutate.py), or two seeds spliced.
Worker processes load each input with the embedded reader
(``bridge.t7.reader.read_checkpoint``) and, when it loads, run what reads the
tree after it: ``inspect``'s outline, ``to-cpu`` and the writer, and model
recognition. An input is a finding when:

- crash: anything but a CheckpointError or UnsupportedError is raised, or
  the worker dies (a signal, or the memory limit);
- hang: no answer within --timeout seconds (the worker is killed);
- memory: the load's peak resident memory grows by more than
  fuzz/bounds.py allows for the input's size.

Findings are saved under --out with the error. The summary on stdout gives
executions, crashes, hangs, memory findings and peak memory; the exit
status is 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import selectors
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a script (python fuzz/fuzz_reader.py): find the fuzz package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz.bounds import SECONDS_PER_INPUT, memory_allowed
from fuzz.mutate import apply, random_mutations

# Address space of a worker: an absurd allocation fails there instead of
# taking the machine.
WORKER_MEMORY = 4 << 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fuzz.fuzz_reader", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, help="instead of --minutes")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=SECONDS_PER_INPUT)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker()
        return 0

    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    run = _Run(args.out, args.timeout)
    threads = [
        threading.Thread(target=run.drive, args=(args.seed * 1000 + i, seconds))
        for i in range(args.workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(run.summary(seconds))
    return 1 if run.findings else 0


@dataclass
class _Run:
    out: Path
    timeout: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    executions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    signatures: Counter[str] = field(default_factory=Counter)
    peak_extra: int = 0
    peak_input: int = 0
    worker_peak: int = 0
    slowest: float = 0.0

    def drive(self, seed: int, seconds: float) -> None:
        from fuzz.corpus import seeds

        rng = random.Random(seed)
        corpus = list(seeds().values())
        deadline = time.monotonic() + seconds
        worker = _Worker()
        try:
            while time.monotonic() < deadline:
                data = self._input(rng, corpus)
                result = worker.load(data, self.timeout)
                if result is None:
                    worker.close()
                    worker = _Worker()
                    self._record(data, {"outcome": "hang"})
                elif result["outcome"] == "died":
                    worker.close()
                    worker = _Worker()
                    self._record(data, result)
                else:
                    self._record(data, result)
        finally:
            worker.close()

    @staticmethod
    def _input(rng: random.Random, corpus: list[bytes]) -> bytes:
        data = rng.choice(corpus)
        if rng.random() < 0.1:
            other = rng.choice(corpus)
            at, cut = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
            data = apply(data, [("splice", at, cut)], other)
        return apply(data, random_mutations(rng, len(data)))

    def _record(self, data: bytes, result: dict[str, Any]) -> None:
        outcome = result["outcome"]
        with self.lock:
            self.executions += 1
            self.outcomes[outcome] += 1
            self.slowest = max(self.slowest, result.get("seconds", 0.0))
            extra = result.get("extra", 0)
            if extra > self.peak_extra:
                self.peak_extra, self.peak_input = extra, len(data)
            self.worker_peak = max(self.worker_peak, result.get("peak", 0))
            kind = None
            if outcome in ("crash", "died", "hang"):
                kind = "hang" if outcome == "hang" else "crash"
            elif extra > memory_allowed(len(data)):
                kind = "memory"
            if kind is None:
                return
            self.findings[kind] += 1
            signature = f"{kind}: {result.get('error', '')}".splitlines()[0][:200]
            self.signatures[signature] += 1
            if self.signatures[signature] <= 3:
                self.out.mkdir(parents=True, exist_ok=True)
                name = f"{kind}-{sum(self.findings.values()):04d}"
                (self.out / f"{name}.t7").write_bytes(data)
                (self.out / f"{name}.txt").write_text(json.dumps(result, indent=1))

    def summary(self, seconds: float) -> str:
        rate = self.executions / seconds if seconds else 0.0
        ratio = self.peak_extra / self.peak_input if self.peak_input else 0.0
        lines = [
            f"executions: {self.executions:,} in {seconds:.0f} s ({rate:.0f}/s)",
            "outcomes: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(self.outcomes.items())),
            f"crashes: {self.findings['crash']}",
            f"hangs: {self.findings['hang']} (over {self.timeout:g} s)",
            f"memory findings: {self.findings['memory']}",
            f"peak memory of one load: {self.peak_extra / 2**20:.1f} MB over the "
            f"worker's baseline, for a {self.peak_input:,}-byte input "
            f"({ratio:.1f} x its size)",
            f"peak worker memory: {self.worker_peak / 2**20:.1f} MB",
            f"slowest input: {self.slowest:.2f} s",
        ]
        for signature, count in self.signatures.most_common(10):
            lines.append(f"  {count} x {signature}")
        if self.findings:
            lines.append(f"findings saved in {self.out}")
        return "\n".join(lines)


class _Worker:
    """A process that loads inputs sent to it, one at a time."""

    def __init__(self) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH")) if p
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fuzz.fuzz_reader", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self.selector.register(self.process.stdout, selectors.EVENT_READ)

    def load(self, data: bytes, timeout: float) -> dict[str, Any] | None:
        """The worker's report on ``data``; None when it did not answer in
        time."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(struct.pack("<I", len(data)) + data)
            self.process.stdin.flush()
        except BrokenPipeError:
            return {"outcome": "died", "error": "the worker had exited"}
        # The worker starts up once: allow for it on top of the timeout.
        if not self.selector.select(timeout + 30):
            return None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            return {"outcome": "died", "error": f"worker exited with status {code}"}
        report: dict[str, Any] = json.loads(line)
        if report["seconds"] > timeout:
            return None
        return report

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.selector.close()


def _worker() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    import numpy as np

    from bridge.errors import CheckpointError, UnsupportedError
    from bridge.inspect import describe
    from bridge.models import recognise
    from bridge.t7.cpu import to_cpu
    from bridge.t7.reader import read_checkpoint
    from bridge.t7.writer import dumps

    expected = (CheckpointError, UnsupportedError)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-worker-"))
    path = folder / "input.t7"
    stdin, stdout = sys.stdin.buffer, sys.stdout
    # Warm up, so that the baseline holds what every load needs.
    path.write_bytes(dumps({"warm": [1.5, "up", np.zeros(2, np.float32)]}))
    read_checkpoint(path)
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("<I", head)
        path.write_bytes(stdin.read(size))
        baseline = _reset_peak()
        started = time.perf_counter()
        report: dict[str, Any] = {"outcome": "loaded"}
        try:
            checkpoint = read_checkpoint(path)
        except expected as e:
            report = {"outcome": "refused", "error": f"{type(e).__name__}: {e}"}
            checkpoint = None
        except BaseException as e:
            report = {"outcome": "crash", "error": _describe(e)}
            checkpoint = None
        report["extra"] = _peak() - baseline
        if checkpoint is not None:
            # What reads the tree next must cope with anything a file holds.
            try:
                for _ in describe(checkpoint, depth=50):
                    pass
                dumps(to_cpu(checkpoint.root).root, long_size=checkpoint.long_size)
                recognise(checkpoint.root, str(path))
            except expected:
                pass
            except BaseException as e:
                report = {"outcome": "crash", "error": _describe(e)}
        report["seconds"] = time.perf_counter() - started
        report["peak"] = _peak()
        stdout.write(json.dumps(report) + "\n")
        stdout.flush()


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-3:]
    frames = "; ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in where)
    return f"{type(error).__name__}: {str(error)[:300]} [{frames}]"


def _reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _peak()


def _peak() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    sys.exit(main())

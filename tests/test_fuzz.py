"""The reader's contract, on files no one wrote on purpose.

Property: for any bytes, the embedded reader (``bridge.t7.load``) returns a
tree or raises CheckpointError (or UnsupportedError), nothing else, within a
few seconds, and without allocating more than fuzz/bounds.py allows for the
file's size.
The files are the fuzz seeds (fuzz/corpus.py) and generated trees, mutated
(fuzz/mutate.py). This is the short, deterministic run; ``python -m
fuzz.fuzz_reader --minutes N`` runs the same mutations for as long as asked,
in worker processes that also catch hangs and crashes of the process.

Memory here is what tracemalloc sees: Python's and NumPy's allocations,
where every large allocation of a load happens. The Lua reader's own records
are bounded by the file's size (each costs bytes of the file) and are
measured with the process's resident memory in test_hostile.py and by the
runner.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import CheckpointError, UnsupportedError
from bridge.t7 import Table, load
from bridge.t7.writer import dumps
from fuzz import fuzz_reader
from fuzz.bounds import memory_allowed
from fuzz.corpus import seeds
from fuzz.mutate import INTERESTING, Mutation, apply

SEEDS = seeds()
# The small seeds, and one Torch-written checkpoint of each program.
NAMES = sorted(
    n
    for n in SEEDS
    if len(SEEDS[n]) < 5000 or n in ("lstm_2x20.cuda.t7", "torchrnn_rnn.t7")
)
SECONDS = 5.0

_positions = st.integers(0, 1 << 20)
_values = st.sampled_from(INTERESTING) | st.integers(-(2**63), 2**63 - 1)
MUTATIONS: st.SearchStrategy[Mutation] = st.one_of(
    st.tuples(st.just("flip"), _positions, st.integers(0, 7)),
    st.tuples(st.just("byte"), _positions, st.integers(0, 255)),
    st.tuples(st.just("int32"), _positions, _values),
    st.tuples(st.just("int64"), _positions, _values),
    st.tuples(st.just("field"), st.integers(0, 63), st.integers(0, 8), _values),
    st.tuples(st.just("truncate"), _positions),
    st.tuples(
        st.just("insert"),
        _positions,
        st.binary(min_size=1, max_size=16)
        | st.sampled_from([b"\n", b"3\n1\n", b"-1\n", b"V 1", b"9" * 400]),
    ),
    st.tuples(st.just("delete"), _positions, st.integers(0, 63)),
    st.tuples(st.just("copy"), _positions, st.integers(0, 255), _positions),
)

_TREES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.text(max_size=6)
    | hnp.arrays(
        # Long storages, whose width varies, are among the seeds.
        st.sampled_from(["u1", "i1", "<i2", "<i4", "<f2", "<f4", "<f8"]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=3) | st.integers(-3, 3), children, max_size=3
        )
    ),
    max_leaves=8,
)


def check_contract(data: bytes) -> None:
    """Load ``data`` as a file and hold the result to the contract."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.t7"
        path.write_bytes(data)
        tracemalloc.start()
        started = time.perf_counter()
        try:
            load(path)
        except (CheckpointError, UnsupportedError):
            pass
        finally:
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert seconds < SECONDS
    assert peak <= memory_allowed(len(data)), peak


_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(_SETTINGS, max_examples=600)
@given(
    name=st.sampled_from(NAMES),
    mutations=st.lists(MUTATIONS, min_size=1, max_size=4),
    other=st.sampled_from(NAMES),
    splice=st.none() | st.tuples(_positions, _positions),
)
def test_load_mutated_seed_reads_or_refuses(
    name: str,
    mutations: list[Mutation],
    other: str,
    splice: tuple[int, int] | None,
) -> None:
    data = SEEDS[name]
    if splice is not None:
        data = apply(data, [("splice", *splice)], SEEDS[other])
    check_contract(apply(data, mutations))


@settings(_SETTINGS, max_examples=250)
@given(
    tree=_TREES,
    mode=st.sampled_from(["binary", "ascii"]),
    long_size=st.sampled_from([4, 8]),
    mutations=st.lists(MUTATIONS, max_size=3),
)
def test_load_mutated_generated_tree_reads_or_refuses(
    tree: Any, mode: str, long_size: int, mutations: list[Mutation]
) -> None:
    data = dumps(Table({"tree": tree}), long_size=long_size, mode=mode)  # type: ignore[arg-type]

    check_contract(apply(data, mutations))


def test_check_contract_catches_what_it_is_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # The property fails on the three kinds of bug it is there to catch.
    good = SEEDS["tensors.t7"]

    def crash(path: Path) -> None:
        raise IndexError("a bug")

    def allocate(path: Path) -> None:
        np.ones(memory_allowed(len(good)) // 8 + 1)

    def stall(path: Path) -> None:
        time.sleep(SECONDS)

    for broken, error in ((crash, IndexError), (allocate, AssertionError)):
        monkeypatch.setattr(f"{__name__}.load", broken)
        with pytest.raises(error):
            check_contract(good)
    monkeypatch.setattr(f"{__name__}.SECONDS", 0.05)
    monkeypatch.setattr(f"{__name__}.load", stall)
    with pytest.raises(AssertionError):
        check_contract(good)


def test_fuzz_runner_reports_executions_and_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = fuzz_reader.main(["--seconds", "2", "--out", str(tmp_path / "found")])

    report = capsys.readouterr().out.splitlines()
    assert status == 0, report
    assert report[0].startswith("executions: ")
    assert int(report[0].split()[1].replace(",", "")) > 20
    assert report[2:5] == ["crashes: 0", "hangs: 0 (over 10 s)", "memory findings: 0"]
    assert report[5].startswith("peak memory of one load: ")
    assert not (tmp_path / "found").exists()

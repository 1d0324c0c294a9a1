"""Checkpoints from strangers: malformed, hostile and odd files each get a
clear answer; nothing in them runs, nothing hangs, nothing already on disk
is lost.

Every file here is built by the test, byte by byte or with the project's
writer, so that the offsets in the expected messages can be counted from
the format (FORMAT.md). Cases already proven in test_reader.py,
test_export.py, test_charrnn.py and test_synthetic.py are not repeated.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from lupa import luajit21

from bridge import jsonstream
from bridge.cli import cli
from bridge.errors import CheckpointError
from bridge.export import export
from bridge.t7 import Table, TorchFunction, TorchObject, load
from bridge.t7.reader import read_checkpoint
from bridge.t7.writer import dump, dumps, storage, tensor_view
from fuzz.bounds import memory_allowed
from tests.builders import printable_vocab, resize_charrnn_lstm

FIXTURES = Path(__file__).parent / "fixtures"
WriteT7 = Callable[..., Path]


def ints(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def longs(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


def chars(raw: bytes) -> bytes:
    return ints(len(raw)) + raw


def header(index: int, torch_class: bytes, version: bytes = b"V 1") -> bytes:
    """A Torch object's tag, index, version string and class name."""
    return ints(4, index) + chars(version) + chars(torch_class)


# A FloatTensor's header is 36 bytes: tag, index, "V 1", "torch.FloatTensor".
TENSOR = header(1, b"torch.FloatTensor")
# And a FloatStorage's, as object 2: 37 bytes.
STORAGE = header(2, b"torch.FloatStorage")


def tensor(sizes: list[int], strides: list[int], offset: int, rest: bytes) -> bytes:
    """A FloatTensor with 8-byte longs; ``rest`` is its storage object."""
    return (
        TENSOR + ints(len(sizes)) + longs(*sizes) + longs(*strides) + longs(offset)
    ) + rest


def one_float_storage() -> bytes:
    return STORAGE + longs(1) + struct.pack("<f", 1.5)


def written(tmp_path: Path, data: bytes, name: str = "hostile.t7") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def lua_dump(function_source: str) -> bytes:
    """The bytecode string.dump gives for a Lua function expression."""
    lua = luajit21.LuaRuntime(encoding=None)
    dumped = lua.eval(f"string.dump({function_source})")
    assert isinstance(dumped, bytes) and dumped.startswith(b"\x1bLJ")
    return dumped


def run_cli(command: str, *args: str | Path) -> Any:
    """``rjs-bridge COMMAND ARGS``, reading with the embedded reader: these
    tests are about it, and must not change when a Torch is installed."""
    backend = ["--backend", "embedded"] if command in ("export", "inspect") else []
    return CliRunner().invoke(cli, [command, *backend, *map(str, args)])


# Not a Torch file at all. Empty files, text, HTML, Git LFS pointers, pickles
# and zip archives are in test_reader.py::test_load_not_a_torch_file and
# test_load_zip_archive; here the other formats a download can turn out to be.


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            r"the file is empty \(0 bytes\): the training run or the download "
            r"that made it did not finish",
        ),
        (
            gzip.compress(dumps([1.0])),
            r"this is gzip-compressed; decompress it first \(gunzip\) and convert "
            r"the file inside",
        ),
        (bz2.compress(dumps([1.0])), r"this is bzip2-compressed; decompress it"),
        (lzma.compress(dumps([1.0])), r"this is xz-compressed; decompress it"),
        (
            b"\x89HDF\r\n\x1a\n" + bytes(100),
            r"this is an HDF5 file \(Keras, torch-hdf5\), not a Torch7 checkpoint; "
            r"rjs-bridge reads Lua Torch7 checkpoints \(\.t7\)",
        ),
        (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", r"this is a NumPy array file"),
        (b"GGUF\x03\x00\x00\x00" + bytes(40), r"this is a GGUF model file"),
        (
            b'\x1e\x00\x00\x00\x00\x00\x00\x00{"w":{"dtype":"F32","shape":[1]}}  '
            + bytes(4),
            r"this is a safetensors file \(Hugging Face\)",
        ),
        (
            lua_dump("function() return 1 end"),
            r"this is compiled LuaJIT bytecode, a program rather than a checkpoint; "
            r"rjs-bridge never runs code from a file",
        ),
        (
            b'{"hidden_sizes": [20, 20], "generator": "lstm"}\n',
            r"this is a JSON file, not a checkpoint: rjs-bridge reads the \.t7 file",
        ),
        (
            b"1. Train a model with char-rnn\n2. Convert it\n",
            r"this is a text file, not a Torch7 checkpoint \(those are binary, or "
            r"in Torch's ASCII format start with a type number on its own line\)",
        ),
        (
            "naïve text, cut inside a character: é".encode()[:-1],
            r"this is a text file",
        ),
    ],
    ids=[
        "empty",
        "gzip",
        "bzip2",
        "xz",
        "hdf5",
        "npy",
        "gguf",
        "safetensors",
        "luajit-bytecode",
        "json",
        "text-starting-with-a-digit",
        "text-cut-in-a-character",
    ],
)
def test_load_foreign_file_says_what_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = written(tmp_path, content, "model.t7")

    with pytest.raises(CheckpointError, match=rf"^{path}: {message}"):
        load(path)


def test_export_of_a_json_file_says_what_it_is_not_that_it_is_its_own_output(
    tmp_path: Path,
) -> None:
    # The default output of model.json is model.json itself; what the input
    # is matters more than that.
    path = written(tmp_path, b'{"hidden_sizes": [20], "generator": "lstm"}', "m.json")

    result = CliRunner().invoke(cli, ["export", str(path)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}: this is a JSON file, not a checkpoint: rjs-bridge reads "
        "the .t7 file a model was trained into and writes JSON itself\n"
    )


def test_load_binary_file_of_no_known_kind_names_the_tag(tmp_path: Path) -> None:
    # Its first four bytes, c8 c9 ca cb, are the int -875902520.
    path = written(tmp_path, bytes(range(200, 256)) * 4)

    with pytest.raises(
        CheckpointError,
        match=r"byte 0, at <root>: unknown type tag -875902520, expected 0 to 8",
    ):
        load(path)


# Truncated anywhere. The three named cases (in an object header, a string
# and a storage payload) are test_reader.py::test_load_truncated_in_*; here
# every cut of a small checkpoint, in both formats.


def _small_checkpoint() -> Any:
    flat = storage(np.arange(6, dtype=np.float32))
    module = TorchObject("nn.Linear", 1, Table())
    module.fields["weight"] = tensor_view(flat, 1, (2, 3))
    return {
        "name": "lstm",
        "protos": {"rnn": module},
        "bytes": storage(np.frombuffer(b"\x00\n\xff", np.uint8)),
    }


@pytest.mark.parametrize("mode", ["binary", "ascii"])
def test_load_every_truncation_is_refused_at_an_offset_inside_the_file(
    tmp_path: Path, mode: str
) -> None:
    data = dumps(_small_checkpoint(), mode=mode)  # type: ignore[arg-type]

    for cut in range(1, len(data)):
        path = written(tmp_path, data[:cut])
        if not data[cut:].strip():
            # Only the newline ending an ASCII file is gone: nothing is lost.
            assert dumps(load(path), mode=mode) == data  # type: ignore[arg-type]
            continue
        with pytest.raises(CheckpointError) as refused:
            load(path)
        assert refused.value.offset is not None, cut
        assert 0 <= refused.value.offset <= cut, (cut, str(refused.value))


def test_load_storage_cut_short_is_refused_not_read_short(tmp_path: Path) -> None:
    # 12 elements claimed, 11 present: no shorter array is made from them.
    data = STORAGE.replace(ints(4, 2), ints(4, 1), 1) + longs(12) + bytes(44)
    path = written(tmp_path, data)

    with pytest.raises(
        CheckpointError,
        match=r"byte 37, at <root>: torch\.FloatStorage claims 12 elements \(48 "
        r"bytes\) but only 44 bytes follow \(reading with 8-byte longs, as asked; "
        r"without a width the reader finds the file's own\)",
    ):
        read_checkpoint(path, long_size=8)
    # Read with 4-byte longs, these bytes hold 12 whole elements: the reader
    # says so rather than take the file for a Windows one.
    with pytest.raises(
        CheckpointError,
        match=r"byte 37, at <root>: with 8-byte longs \(Linux, macOS\) the file "
        r"runs out early: torch\.FloatStorage claims 12 elements \(48 bytes\) but "
        r"only 44 bytes follow; with 4-byte longs \(Windows, 32-bit ARM\) it reads "
        r"to its end\. It is cut short, or was written with 4-byte longs: if it is "
        r"complete, say --long-size 4$",
    ):
        load(path)
    assert read_checkpoint(path, long_size=4).root.tolist() == [0.0] * 12


def test_load_ascii_byte_storage_cut_short(tmp_path: Path) -> None:
    text = dumps(storage(np.frombuffer(b"abcdef", np.uint8)), mode="ascii")
    path = written(tmp_path, text[:-4])

    with pytest.raises(
        CheckpointError,
        match=r"byte 33, at <root>: file ends at byte 36 while reading "
        r"torch\.ByteStorage elements \(6 bytes needed at offset 33\)",
    ):
        load(path)


# Lying sizes: refused from the numbers alone, before anything is allocated
# (test_lying_files_load_in_constant_memory measures that).

LIES = {
    "storage-longer-than-file": (
        STORAGE.replace(ints(4, 2), ints(4, 1), 1) + longs(2**40) + bytes(200),
        r"byte 37, at <root>: torch\.FloatStorage claims 1099511627776 elements "
        r"\(4398046511104 bytes\) but only 200 bytes follow",
    ),
    "storage-count-beyond-2^53": (
        STORAGE.replace(ints(4, 2), ints(4, 1), 1) + longs(2**63 - 1),
        r"byte 37, at <root>: storage element count 9223372036854775807 is beyond "
        r"2\^53, more than any file holds",
    ),
    "storage-count-negative": (
        STORAGE.replace(ints(4, 2), ints(4, 1), 1) + longs(-3),
        r"byte 37, at <root>: torch\.FloatStorage claims -3 elements",
    ),
    "string-longer-than-file": (
        ints(2, 2**31 - 1) + b"short",
        r"byte 8, at <root>: file ends at byte 13 while reading string "
        r"\(2147483647 bytes needed at offset 8\)",
    ),
    "string-length-negative": (
        ints(2, -5),
        r"byte 4, at <root>: string has negative length -5",
    ),
    "table-entries-beyond-file": (
        ints(3, 1, 2**31 - 1) + bytes(16),
        r"byte 8, at <root>: table claims 2147483647 entries but only 16 bytes "
        r"follow",
    ),
    "function-bytecode-beyond-file": (
        ints(8, 1, 10**9) + b"\x1bLJ",
        r"byte 12, at <root>: file ends at byte 15 while reading function "
        r"bytecode \(1000000000 bytes needed at offset 12\)",
    ),
    "dimension-count-negative": (
        TENSOR + ints(-1),
        r"byte 36, at <root>: torch\.FloatTensor has -1 dimensions, expected 0 to 64",
    ),
    "dimension-count-absurd": (
        TENSOR + ints(10**9),
        r"byte 36, at <root>: torch\.FloatTensor has 1000000000 dimensions",
    ),
    "size-negative": (
        tensor([2, -3], [1, 1], 1, b""),
        r"byte 48, at <root>: torch\.FloatTensor has size -3 in dimension 2",
    ),
    "size-beyond-2^53": (
        tensor([2**62], [1], 1, b""),
        r"byte 40, at <root>: tensor size 4611686018427387904 is beyond 2\^53",
    ),
    "stride-negative": (
        tensor([2], [-1], 1, b""),
        r"byte 48, at <root>: torch\.FloatTensor has stride -1 in dimension 1",
    ),
    "stride-beyond-2^53": (
        tensor([2], [2**60], 1, b""),
        r"byte 48, at <root>: tensor stride 1152921504606846976 is beyond 2\^53",
    ),
    "sizes-multiply-past-any-memory": (
        # Each size is small; with strides of 0 the view would have 2^93
        # elements, all the one element of the storage.
        tensor([2**31] * 3, [0] * 3, 1, one_float_storage()),
        r"byte 36, at <root>: torch\.FloatTensor has sizes "
        r"\{2147483648,2147483648,2147483648\}, more elements than any machine holds",
    ),
    "empty-but-huge-sizes": (
        # No elements, but NumPy cannot even shape it.
        tensor([0, 2**40, 2**40], [1, 1, 1], 1, ints(0)),
        r"byte 36, at <root>: torch\.FloatTensor has sizes "
        r"\{0,1099511627776,1099511627776\}, more elements than any machine holds",
    ),
    "view-past-its-storage": (
        tensor([2, 3], [3, 1], 1, one_float_storage()),
        r"byte 72, at <root>: torch\.FloatTensor view \(offset 1, sizes \{2,3\}, "
        r"strides \{3,1\}\) runs outside its storage of 1 elements",
    ),
    "storage-offset-0": (
        tensor([1], [1], 0, one_float_storage()),
        r"byte 56, at <root>: torch\.FloatTensor view \(offset 0, sizes \{1\}, "
        r"strides \{1\}\) runs outside its storage of 1 elements",
    ),
    "storage-offset-negative": (
        tensor([1], [1], -7, one_float_storage()),
        r"byte 56, at <root>: torch\.FloatTensor view \(offset -7",
    ),
    "sizes-without-storage": (
        # Torch would allocate 2^40 floats for this tensor; we do not.
        tensor([2**20, 2**20], [2**20, 1], 1, ints(0)),
        r"byte 80, at <root>: torch\.FloatTensor has sizes \{1048576,1048576\} "
        r"\(1099511627776 elements\) but no storage",
    ),
}


@pytest.mark.parametrize(("data", "message"), LIES.values(), ids=LIES.keys())
def test_load_lying_size_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = written(tmp_path, data)

    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path, long_size=8)
    # Detected as well as forced, the answer is a refusal.
    with pytest.raises(CheckpointError):
        load(path)


ASCII_LIES = {
    "long-beyond-2^53": (
        b"4\n1\n3\nV 1\n18\ntorch.FloatStorage\n9007199254740993\n",
        r"byte 32, at <root>: storage element count 9007199254740993 is out of "
        r"range \(-9007199254740992 to 9007199254740992\)",
    ),
    "storage-count-beyond-its-line": (
        b"4\n1\n3\nV 1\n18\ntorch.FloatStorage\n1000000000000000\n1 2\n",
        r"byte 49, at <root>: torch\.FloatStorage claims 1000000000000000 "
        r"elements but its line holds 2",
    ),
    "byte-storage-longer-than-file": (
        b"4\n1\n3\nV 1\n17\ntorch.ByteStorage\n1000000\nabc\n",
        r"byte 39, at <root>: file ends at byte 43 while reading "
        r"torch\.ByteStorage elements \(1000000 bytes needed at offset 39\)",
    ),
    # One long word among many numbers would make NumPy give every number its
    # width: 100,000 bytes times 20,000 elements.
    "one-huge-number": (
        b"4\n1\n3\nV 1\n19\ntorch.DoubleStorage\n20000\n"
        + b"1" * 100_000
        + b" 0" * 19_999
        + b"\n",
        r"byte 39, at <root>: torch\.DoubleStorage holds a value 100000 "
        r"characters long, longer than any number Torch writes \(32 at most\)",
    ),
}


@pytest.mark.parametrize(
    ("data", "message"), ASCII_LIES.values(), ids=ASCII_LIES.keys()
)
def test_load_ascii_lying_size_is_refused(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = written(tmp_path, data)

    with pytest.raises(CheckpointError, match=message):
        load(path)


def test_load_repeating_view_loads_without_copying(t7_file: WriteT7) -> None:
    # Torch's expand gives strides of 0: legal, and free to read.
    one = storage(np.array([2.5], np.float32))
    path = t7_file(tensor_view(one, 1, (1000, 1000, 1000), (0, 0, 0)))

    view = load(path)

    assert view.shape == (1000, 1000, 1000)
    assert view.storage is not None and view.storage.size == 1
    assert np.shares_memory(view, view.storage)
    assert view[999, 0, 999] == 2.5


# Memory: loading any file takes at most fuzz.bounds.MEMORY_FACTOR times its
# size beyond what the runtime held, measured as the peak resident memory of
# a process that loads it.

_PEAK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import bridge
    from bridge.t7.writer import dumps

    def peak():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    warm = sys.argv[1] + ".warm"
    open(warm, "wb").write(dumps({"warm": [1.5, np.zeros(2, np.float32)]}))
    bridge.load(warm, backend="embedded")
    extra = []
    for path in sys.argv[2:]:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = peak()
        try:
            bridge.load(path, backend="embedded")
        except bridge.CheckpointError:
            pass
        extra.append(peak() - before)
    print(json.dumps(extra))
    """
)


def _peak_extra(folder: Path, paths: list[Path]) -> list[int]:
    """The peak memory each load of ``paths`` took, in one fresh process."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(folder / "x"), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    extra: list[int] = json.loads(done.stdout)
    return extra


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(),
    reason="measures peak memory through Linux's /proc",
)


@needs_proc
def test_lying_files_load_in_constant_memory(tmp_path: Path) -> None:
    lies = {**LIES, **ASCII_LIES}
    paths = [written(tmp_path, data, f"{name}.t7") for name, (data, _) in lies.items()]
    assert all(p.stat().st_size < 500 for p in paths if "huge-number" not in p.name)

    extra = _peak_extra(tmp_path, paths)

    for path, used in zip(paths, extra, strict=True):
        assert used < 4 << 20, (path.name, used)


def _empty_tables(count: int) -> bytes:
    # One table of `count` empty tables, each under the key `true`: 20 bytes
    # a table, the smallest a new object can be in a binary file.
    entry = ints(5, 1) + ints(3, 0, 0)
    body = b"".join(entry.replace(ints(3, 0), ints(3, i + 2)) for i in range(count))
    return ints(3, 1, count) + body


@needs_proc
def test_memory_bound_holds_for_files_of_many_small_objects(tmp_path: Path) -> None:
    n = 60_000
    one = storage(np.zeros(1, np.float32))
    files = {
        "empty-tables.t7": _empty_tables(n),
        "empty-tables.ascii.t7": b"3\n1\n%d\n" % n
        + b"".join(b"5\n1\n3\n%d\n0\n" % (i + 2) for i in range(n)),
        "deep.t7": dumps(_nested(1999)),
        "wide.t7": dumps({i: i for i in range(n)}),
        "objects.t7": dumps([TorchObject("nn.X", 1, Table()) for _ in range(n // 2)]),
        "views.t7": dumps([tensor_view(one, 1, (1,)) for _ in range(n // 4)]),
        # Many tables before a tensor: both long widths read all of them.
        "tables-then-tensor.t7": dumps([Table() for _ in range(n)] + [np.ones(2)]),
    }
    paths = [written(tmp_path, data, name) for name, data in files.items()]

    extra = _peak_extra(tmp_path, paths)

    for path, used in zip(paths, extra, strict=True):
        assert used <= memory_allowed(path.stat().st_size), (path.name, used)


def _nested(depth: int) -> Table:
    root = Table()
    table = root
    for _ in range(depth):
        inner = Table()
        table[1] = inner
        table = inner
    return root


# Records that are not what they claim: a format error naming the byte. An
# unknown tag at the root is test_reader.py::test_load_unknown_type_tag.

# The root table {[1] = <object>} up to its value: 24 bytes.
IN_TABLE = ints(3, 1, 1) + ints(1) + struct.pack("<d", 1.0)

MALFORMED = {
    "tag-9": (IN_TABLE + ints(9), r"byte 24, at <root>\[1\]: unknown type tag 9"),
    "tag-negative": (
        IN_TABLE + ints(-1),
        r"byte 24, at <root>\[1\]: unknown type tag -1, expected 0 to 8",
    ),
    "tag-huge": (
        IN_TABLE + ints(2**31 - 1),
        r"byte 24, at <root>\[1\]: unknown type tag 2147483647, expected 0 to 8",
    ),
    "class-name-with-spaces": (
        IN_TABLE + header(2, b"nn Linear") + ints(0),
        r"byte 39, at <root>\[1\]: class name \"nn Linear\" is not a class name: "
        r"expected Lua names joined by dots, such as nn\.Linear",
    ),
    "class-name-empty": (
        IN_TABLE + header(2, b"") + ints(0),
        r"byte 39, at <root>\[1\]: class name \"\" is not a class name",
    ),
    "class-name-binary": (
        IN_TABLE + header(2, b"nn.\xff\x00Linear") + ints(0),
        r"byte 39, at <root>\[1\]: class name \"nn\.\\xff\\x00Linear\" is not a "
        r"class name",
    ),
    "class-name-dots": (
        IN_TABLE + header(2, b"nn..Linear.") + ints(0),
        r"byte 39, at <root>\[1\]: class name \"nn\.\.Linear\.\" is not",
    ),
    "class-name-long": (
        IN_TABLE + header(2, b"nn." + b"X" * 300) + ints(0),
        r"byte 39, at <root>\[1\]: class name \"nn\.X{57}\"\.\.\. \(303 bytes\) "
        r"is not a class name",
    ),
    "class-name-not-a-string": (
        # Without "V n" the first string is the class name: here a number's
        # bytes, read as a string's length and bytes.
        IN_TABLE + ints(4, 2, 1) + struct.pack("<d", 2.0) + ints(0),
        r"byte 32, at <root>\[1\]: class name \"\\x00\" is not a class name",
    ),
    "version-not-a-number": (
        IN_TABLE + header(2, b"nn.Linear", b"V one") + ints(0),
        r"byte 32, at <root>\[1\]: malformed version string \"V one\", expected "
        r"\"V <number>\"",
    ),
    "version-negative": (
        IN_TABLE + header(2, b"nn.Linear", b"V -1") + ints(0),
        r"byte 32, at <root>\[1\]: malformed version string \"V -1\"",
    ),
    "version-huge": (
        IN_TABLE + header(2, b"nn.Linear", b"V 99999999999") + ints(0),
        r"byte 32, at <root>\[1\]: version string \"V 99999999999\" holds no "
        r"plausible version",
    ),
    "index-skips-ahead": (
        IN_TABLE + ints(3, 7, 0),
        r"byte 28, at <root>\[1\]: table index 7 is neither a new object's \(2\) "
        r"nor an earlier one's \(1 to 1\)",
    ),
    "boolean-then-garbage": (
        IN_TABLE + ints(5, 1, 77),
        r"byte 32, at <root>: the checkpoint's object ends at byte 32 but the file "
        r"has 4 more bytes",
    ),
}


@pytest.mark.parametrize(("data", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_load_malformed_record_names_the_offset(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = written(tmp_path, data)

    with pytest.raises(CheckpointError, match=rf"^{path}, {message}"):
        load(path)


def test_load_malformed_ascii_record_names_the_offset(tmp_path: Path) -> None:
    path = written(tmp_path, b"3\n1\n1\n1\n1\n4\n2\n3\nV 1\n9\nnn Linear\n0\n")

    with pytest.raises(
        CheckpointError,
        match=r"byte 20, at <root>\[1\]: class name \"nn Linear\" is not a class "
        r"name: expected Lua names joined by dots, such as nn\.Linear \(reading "
        r"Torch's ASCII format\)",
    ):
        load(path)


# Doubles whose bits are a NaN: LuaJIT keeps type tags in NaN patterns, so
# each must come out as a plain NaN, never as another kind of value.
NAN_BITS = [
    0x7FF8000000000000,
    0xFFF8000000000000,
    0x7FF0000000000001,
    0xFFF9000000000000,
    0xFFFA00000000002A,
    0xFFFF7FFFFFFFFFFF,
    0xFFFFFFFFFFFFFFFF,
]


def _number(value: float) -> bytes:
    return ints(1) + struct.pack("<d", value)


def _nan(bits: int) -> bytes:
    return ints(1) + struct.pack("<Q", bits)


def test_load_nan_of_any_bit_pattern_is_a_float_nan(tmp_path: Path) -> None:
    entries = b"".join(_number(i) + _nan(b) for i, b in enumerate(NAN_BITS, 1))
    path = written(tmp_path, ints(3, 1, len(NAN_BITS)) + entries)

    root = load(path)

    assert sorted(root) == list(range(1, len(NAN_BITS) + 1))
    assert all(type(v) is float and v != v for v in root.values())


@pytest.mark.parametrize("bits", NAN_BITS, ids=hex)
def test_load_nan_key_of_any_bit_pattern_is_refused(tmp_path: Path, bits: int) -> None:
    # {[1] = 0.5, [NaN] = 0.5}: the NaN key starts at byte 36.
    data = ints(3, 1, 2) + _number(1) + _number(0.5) + _nan(bits) + _number(0.5)
    path = written(tmp_path, data)

    with pytest.raises(
        CheckpointError, match=r"byte 36, at <root>\[<key>\]: table key is NaN"
    ):
        load(path)


# Deep nesting and reference cycles: loaded or refused cleanly by the reader
# and by everything that walks the tree after it. A table containing itself
# and an object referenced while being read are in test_reader.py.


def test_load_100000_deep_is_refused_with_a_short_path(tmp_path: Path) -> None:
    # The writer walks without recursion, so it writes this too.
    path = written(tmp_path, dumps(_nested(100_000)))

    with pytest.raises(CheckpointError) as refused:
        load(path)

    # 2,000 tables of 24 bytes each: the 2,001st starts at byte 48,000.
    message = str(refused.value)
    assert message == (
        f"{path}, byte 48000, at <root>{'[1]' * 12}...(1976 steps)...{'[1]' * 12}: "
        "objects nested more than 2000 deep (reading with 8-byte longs)"
    )


@pytest.mark.parametrize("command", ["inspect", "export", "to-cpu"])
def test_cli_100000_deep_is_an_error_not_a_trace(tmp_path: Path, command: str) -> None:
    path = written(tmp_path, dumps(_nested(100_000)))

    result = run_cli(command, path)

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}, byte 48000, at <root>[1]")
    assert "nested more than 2000 deep" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.t7"]


def test_deepest_readable_tree_goes_through_inspect_and_to_cpu(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, dumps(_nested(1999)))
    copy = tmp_path / "copy.t7"

    shown = run_cli("inspect", path, "--depth", "5000")
    converted = run_cli("to-cpu", path, "-o", copy)

    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[-1] == " " * 2 * 1999 + "[1]: table of 0"
    assert len(lines) == 4 + 2000
    assert converted.exit_code == 0, converted.output
    assert copy.read_bytes() == path.read_bytes()


def _cycles() -> Table:
    """A table used as a key of a table inside it, and a module whose weight
    is the key of a table that leads back to the module."""
    key = Table({"name": "key"})
    holder = Table({key: "value of the key"})
    key["holder"] = holder
    flat = storage(np.arange(6, dtype=np.float32), "torch.CudaStorage")
    module = TorchObject("nn.Linear", 1, Table())
    weight = tensor_view(flat, 1, (2, 3))
    module.fields["weight"] = weight
    module.fields["by_tensor"] = Table({weight: module})
    module.fields["self"] = module
    root = Table({"key": key, "module": module})
    root["root"] = root
    return root


def test_load_cycles_through_keys_tensors_and_modules(t7_file: WriteT7) -> None:
    root = load(t7_file(_cycles()))

    key, module = root["key"], root["module"]
    assert root["root"] is root
    assert key["holder"][key] == "value of the key"
    assert module.self is module
    assert module.by_tensor[module.weight] is module
    assert module.weight.torch_class == "torch.CudaTensor"


def test_cli_on_cycles_inspects_converts_and_refuses_to_export(
    tmp_path: Path, t7_file: WriteT7
) -> None:
    path = t7_file(_cycles())
    copy = tmp_path / "cpu.t7"

    shown = run_cli("inspect", path, "--depth", "10")
    converted = run_cli("to-cpu", path, "-o", copy)
    exported = run_cli("export", path, "-o", tmp_path / "out.json")

    assert shown.exit_code == 0, shown.output
    assert "    self: same as module" in shown.output
    assert "  root: same as <root>" in shown.output
    assert converted.exit_code == 0, converted.output
    again = load(copy)
    assert again["module"].by_tensor[again["module"].weight] is again["module"]
    assert again["module"].weight.torch_class == "torch.FloatTensor"
    assert exported.exit_code == 1
    assert "not a model rjs-bridge knows: found a table with key, module, root" in (
        exported.output
    )
    assert not (tmp_path / "out.json").exists()


def test_cli_prints_no_control_characters_from_the_file(t7_file: WriteT7) -> None:
    # Escape sequences in keys and values would reach the terminal as commands.
    title, clear = "\x1b]2;owned\x07", "\x1b[2J"
    path = t7_file({title: clear, "opt": {clear: 1, "rnn_size": title}})

    shown = run_cli("inspect", path)
    exported = run_cli("export", path, "-o", path.with_suffix(".json"))

    assert shown.exit_code == 0, shown.output
    assert exported.exit_code == 1
    for output in (shown.output, exported.output):
        assert "\x1b" not in output and "\x07" not in output
    assert "  ['\\x1b]2;owned\\x07']: '\\x1b[2J'" in shown.output
    assert "found a table with '\\x1b]2;owned\\x07', opt;" in exported.output


def _identity_loop(root: Any) -> None:
    """Make the h2h Linear of layer 1 read from two nn.Identity nodes that
    read each other."""
    rnn = root["protos"]["rnn"]
    nodes = list(rnn.forwardnodes.values())
    h2h = next(n for n in nodes if n.data["annotations"].get("name") == "h2h_1")
    (feeder,) = [n for n in nodes if h2h in n.children.values()]
    first = TorchObject("nngraph.Node", 1, Table())
    second = TorchObject("nngraph.Node", 1, Table())
    for node in (first, second):
        module = TorchObject("nn.Identity", 1, Table())
        node.fields["data"] = Table({"module": module, "annotations": Table()})
    first.fields["children"] = Table({1: second, 2: h2h})
    second.fields["children"] = Table({1: first})
    feeder.fields["children"] = Table(
        {k: c for k, c in feeder.children.items() if c is not h2h}
    )
    rnn.fields["forwardnodes"] = Table(enumerate([*nodes, first, second], start=1))


def test_export_graph_whose_nodes_feed_each_other_is_refused(tmp_path: Path) -> None:
    root = load(FIXTURES / "lstm_2x20.t7")
    _identity_loop(root)
    path = tmp_path / "loop.t7"
    dump(root, path)

    result = run_cli("export", path, "-o", tmp_path / "loop.json")

    assert result.exit_code == 1
    assert f"Error: {path}: protos.rnn: <nn.Identity> feeds itself in a loop" in (
        result.output
    )
    assert not (tmp_path / "loop.json").exists()


# Functions: tags 6, 7 and 8 keep the stream in step and their bytecode as
# data (test_reader.py::test_load_function_keeps_bytecode_and_stays_in_step,
# test_load_never_runs_function_bytecode). Here no command runs one either.


@pytest.fixture
def hook_target(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "written-by-the-checkpoint.txt"
    yield target


def _hooked_checkpoint(target: Path) -> Any:
    """A char-rnn LSTM carrying functions of every form that would write
    ``target`` if run, one of them among the options."""
    code = lua_dump(
        f'function() local f = io.open("{target}", "w") f:write("ran") f:close() end'
    )
    root = load(FIXTURES / "lstm_2x20.t7")
    root["on_load"] = TorchFunction(8, code, Table({1: {"name": "f", "value": 1}}), 0)
    root["opt"]["callback"] = TorchFunction(7, code, [code], 0)
    root["protos"]["hooks"] = [TorchFunction(6, code, None, 0), "after the hooks"]
    return root


@pytest.mark.parametrize("mode", ["binary", "ascii"])
def test_cli_never_runs_a_checkpoints_functions(
    tmp_path: Path, hook_target: Path, mode: str
) -> None:
    path = tmp_path / "hooked.t7"
    dump(_hooked_checkpoint(hook_target), path, mode=mode)  # type: ignore[arg-type]

    exported = run_cli("export", path, "-o", tmp_path / "out.json")
    shown = run_cli("inspect", path, "--depth", "2")
    converted = run_cli("to-cpu", path, "-o", tmp_path / "cpu.t7")

    assert not hook_target.exists()
    assert exported.exit_code == 0, exported.output
    assert json.loads((tmp_path / "out.json").read_text())["hidden_sizes"] == [20, 20]
    assert shown.exit_code == 0, shown.output
    assert "  on_load: Lua function (" in shown.output
    assert "bytes, not loaded)" in shown.output
    assert converted.exit_code == 0, converted.output
    copy = load(tmp_path / "cpu.t7")
    assert copy["protos"]["hooks"][2] == "after the hooks"
    assert copy["opt"]["callback"].bytecode == copy["on_load"].bytecode
    # The bytecode is real: run by hand, it writes the file.
    luajit21.LuaRuntime(encoding=None).eval("loadstring")(copy["on_load"].bytecode)()
    assert hook_target.read_text() == "ran"


# Numbers JSON cannot hold. A NaN weight refused by the recogniser is
# test_charrnn.py::test_recognise_refuses_non_finite_weights; here the whole
# command, other models and values, and metadata that must not block.


def _export_error(tmp_path: Path, root: Any, *options: str) -> str:
    path = tmp_path / "bad.t7"
    dump(root, path)
    out = tmp_path / "bad.json"
    out.write_text("kept")

    result = run_cli("export", path, "-o", out, *options)

    assert result.exit_code == 1
    assert out.read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "bad.t7"]
    assert result.output.startswith(f"Error: {path}: ")
    return str(result.output)


def test_export_names_the_tensor_and_element_that_is_not_finite(
    tmp_path: Path,
) -> None:
    root = load(FIXTURES / "lstm_2x20.cuda.t7")
    i2h = next(
        n.data["module"]
        for n in root["protos"]["rnn"].forwardnodes.values()
        if n.data["annotations"].get("name") == "i2h_2"
    )
    i2h.bias[5] = -np.inf

    output = _export_error(tmp_path, root)

    assert (
        "protos.rnn nn.Linear 'i2h_2' bias[6] is -inf (1 such values); the "
        "checkpoint's weights are broken and no export can hold them" in output
    )


def test_export_torchrnn_names_the_tensor_that_is_not_finite(tmp_path: Path) -> None:
    root = load(FIXTURES / "torchrnn_lstm_2x32.t7")
    root["model"].net.modules[2].weight[47, 3] = np.nan

    output = _export_error(tmp_path, root, "--format", "bridge")

    assert "model.net.modules[2] weight[48, 4] is nan (1 such values)" in output


def test_export_refuses_biases_whose_sum_overflows(tmp_path: Path) -> None:
    # Each bias is a finite double; their sum, RecurrentJS's one bias, is not.
    root = load(FIXTURES / "lstm_2x20.t7")
    for node in root["protos"]["rnn"].forwardnodes.values():
        if node.data["annotations"].get("name") in ("i2h_1", "h2h_1"):
            node.data["module"].bias[0] = 1.5e308

    output = _export_error(tmp_path, root)

    assert (
        "layer 1's input gate bias[1] comes to inf once converted (biases summed, "
        "normalization folded in), which no export can hold" in output
    )


def test_export_refuses_a_weight_whose_view_repeats_elements(tmp_path: Path) -> None:
    # A stride of 0 makes a 20x65 weight out of 65 numbers.
    root = load(FIXTURES / "lstm_2x20.t7")
    i2h = next(
        n.data["module"]
        for n in root["protos"]["rnn"].forwardnodes.values()
        if n.data["annotations"].get("name") == "i2h_1"
    )
    row = storage(np.full(65, 0.01))
    i2h.fields["weight"] = tensor_view(row, 1, (80, 65), (0, 1))

    output = _export_error(tmp_path, root)

    assert (
        "protos.rnn nn.Linear 'i2h_1' weight is a view of 5200 elements on a "
        "storage of 65 (sizes (80, 65), strides (0, 1)): it repeats elements, as "
        "no trained weight does" in output
    )


def _metadata_with_non_finite_numbers(root: Any) -> None:
    root["train_losses"] = Table({1: 4.2, 2: np.nan, 3: np.inf, 4: -np.inf})
    root["val_losses"] = Table({100: np.nan})
    root["val_loss"] = np.inf
    root["opt"]["learning_rate"] = np.nan
    root["opt"]["grad_clip"] = -np.inf


def _assert_strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    parsed = json.loads(text, parse_constant=refuse)
    if shutil.which("node"):
        checked = subprocess.run(
            ["node", "-e", "JSON.parse(require('fs').readFileSync(0, 'utf8'))"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr
    return parsed


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lstm_2x20.t7", ()),
        ("lstm_2x20.t7", ("--format", "bridge")),
        ("torchrnn_lstm_2x32.t7", ()),
        ("torchrnn_lstm_2x32.t7", ("--format", "bridge", "--encoding", "float32")),
    ],
)
def test_export_non_finite_metadata_gives_strict_json(
    tmp_path: Path, name: str, options: tuple[str, ...]
) -> None:
    root = load(FIXTURES / name)
    _metadata_with_non_finite_numbers(root)
    path = tmp_path / "meta.t7"
    dump(root, path)
    out = tmp_path / "meta.json"

    result = run_cli("export", path, "-o", out, *options)

    assert result.exit_code == 0, result.output
    document = _assert_strict_json(out.read_text(encoding="utf-8"))
    if "bridge" in options:
        assert document["source"]["options"]["learning_rate"] is None
        assert document["source"]["options"]["grad_clip"] is None


def test_export_refuses_vocabulary_entries_that_are_not_bytes_to_indices(
    tmp_path: Path,
) -> None:
    # Duplicates, multi-byte keys and gaps are test_charrnn.py's; these are
    # keys and indices of the wrong type altogether.
    cases: dict[str, tuple[dict[Any, Any], str]] = {
        "number-key": ({7: 66}, "vocab key 7 is not a single byte"),
        "fractional-index": ({"a": 1.5}, "vocab['a'] is 1.5, expected an index"),
        "boolean-index": ({"a": True}, "vocab['a'] is True, expected an index"),
    }
    for name, (change, message) in cases.items():
        root = load(FIXTURES / "lstm_2x20.t7")
        root["vocab"].update(change)
        folder = tmp_path / name
        folder.mkdir()

        assert message in _export_error(folder, root), name


def test_export_torchrnn_tokens_that_are_not_one_character(tmp_path: Path) -> None:
    root = load(FIXTURES / "torchrnn_lstm_2x32.t7")
    root["model"].idx_to_token[3] = "ab"

    output = _export_error(tmp_path, root, "--format", "bridge")

    assert "model.idx_to_token[3] is 'ab', expected one character" in output


def test_export_256_byte_vocabulary_parses_in_node_as_256_letters(
    tmp_path: Path,
) -> None:
    vocab = printable_vocab(256)
    path = tmp_path / "bytes.t7"
    dump(resize_charrnn_lstm(4, vocab, tensor_class="torch.FloatTensor"), path)
    out = tmp_path / "bytes.json"

    result = run_cli("export", path, "-o", out)

    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    exported = _assert_strict_json(text)
    assert sorted(map(ord, exported["letterToIndex"])) == list(range(256))
    assert exported["indexToLetter"]["0"] == "\n"
    assert {exported["indexToLetter"][str(i)] for i in range(256)} == {
        chr(b) for b in range(256)
    }
    if shutil.which("node"):
        letters = subprocess.run(
            [
                "node",
                "-e",
                "const m = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
                "const k = Object.keys(m.letterToIndex);"
                "console.log(k.length, k.map(c => c.charCodeAt(0))"
                ".sort((a, b) => a - b).every((c, i) => c === i));",
            ],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert letters.stdout == "256 true\n", letters.stderr


# Long width. 4- and 8-byte files are told apart in test_reader.py
# (test_load_detects_4_byte_longs, test_load_fixture_rewritten_with_4_byte_longs);
# here a file that reads cleanly both ways, which must be reported.


def _ambiguous() -> bytes:
    """A file that reads to its end with 8-byte and with 4-byte longs.

    Read with 8-byte longs: {[1] = ByteStorage of 8 bytes, [function] = nil}.
    With 4-byte longs the storage's count takes 4 bytes fewer, so its last 4
    bytes (the int 2) start a string key whose length is the function's tag
    (8), covering its index and bytecode length; the bytecode then holds a
    string value that runs over the upvalues' and the entry value's nils.
    """
    bytecode = ints(2, 12) + bytes(4)
    return (
        ints(3, 1, 2)
        + ints(1)
        + struct.pack("<d", 1)
        + header(2, b"torch.ByteStorage")
        + longs(8)
        + bytes(4)
        + ints(2)
        + ints(8, 3)
        + chars(bytecode)
        + ints(0)
        + ints(0)
    )


AMBIGUOUS = (
    r"the file reads cleanly both with 8-byte and with 4-byte longs; say which "
    r"with --long-size 8 \(Linux, macOS\) or --long-size 4 \(Windows, 32-bit ARM\)$"
)


def test_load_file_that_reads_both_ways_is_reported_not_guessed(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, _ambiguous())

    with pytest.raises(CheckpointError, match=rf"^{path}: {AMBIGUOUS}"):
        load(path)
    as8 = read_checkpoint(path, long_size=8).root
    as4 = read_checkpoint(path, long_size=4).root
    assert list(as8) == [1]
    assert as8[1].tolist() == [0, 0, 0, 0, 2, 0, 0, 0]
    assert as4 == {1: as4[1], "\x03\x00\x00\x00\x0c\x00\x00\x00": "\x00" * 12}
    assert as4[1].tolist() == [0] * 8


def test_cli_ambiguous_file_needs_long_size(tmp_path: Path) -> None:
    path = written(tmp_path, _ambiguous())

    guessed = run_cli("export", path, "-o", tmp_path / "out.json")
    unsure = run_cli("inspect", path)
    shown = run_cli("inspect", path, "--long-size", "4")
    as8 = run_cli("export", path, "-o", tmp_path / "out.json", "--long-size", "8")
    converted = run_cli("to-cpu", path, "-o", tmp_path / "cpu.t7", "--long-size", "4")

    for refused in (guessed, unsure):
        assert refused.exit_code == 1
        assert refused.output.startswith(f"Error: {path}: the file reads cleanly both")
    assert shown.exit_code == 0, shown.output
    assert "size: 108 bytes, 4-byte longs" in shown.output
    assert "  [1]: torch.ByteStorage 8 uint8" in shown.output
    assert "  ['\\x03\\x00\\x00\\x00\\x0c\\x00\\x00\\x00']: '\\x00" in shown.output
    # Read as asked, the file gets as far as the model check.
    assert as8.exit_code == 1
    assert "not a model rjs-bridge knows: found a table with 1;" in as8.output
    assert converted.exit_code == 0, converted.output
    copy = read_checkpoint(tmp_path / "cpu.t7", long_size=4)
    assert copy.root[1].tolist() == [0] * 8
    assert not (tmp_path / "out.json").exists()


def test_cli_long_size_that_does_not_fit_names_the_width(tmp_path: Path) -> None:
    out = tmp_path / "out.json"

    result = run_cli("export", FIXTURES / "lstm_2x20.t7", "-o", out, "--long-size", "4")

    assert result.exit_code == 1
    assert result.output.endswith(
        "table key is nil (reading with 4-byte longs, as asked; without a width "
        "the reader finds the file's own)\n"
    )
    assert not out.exists()


# ASCII checkpoints, end to end through the command.


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lstm_2x20.t7", ()),
        ("pg_lstm_2x64.cuda.t7", ()),
        ("torchrnn_lstm_bn.t7", ("--format", "bridge")),
    ],
)
def test_cli_exports_an_ascii_checkpoint_as_its_binary_twin(
    tmp_path: Path, name: str, options: tuple[str, ...]
) -> None:
    ascii_path = tmp_path / "ascii.t7"
    dump(load(FIXTURES / name), ascii_path, mode="ascii")
    binary_path = tmp_path / "binary.t7"
    shutil.copyfile(FIXTURES / name, binary_path)
    assert ascii_path.read_bytes()[:2] in (b"3\n", b"4\n")

    from_ascii = run_cli("export", ascii_path, *options)
    from_binary = run_cli("export", binary_path, *options)

    assert from_ascii.exit_code == 0, from_ascii.output
    assert from_binary.exit_code == 0, from_binary.output
    ours = (tmp_path / "ascii.json").read_text(encoding="utf-8")
    twin = (tmp_path / "binary.json").read_text(encoding="utf-8")
    if "bridge" in options:
        # The record of the source names its file and hash.
        ours, twin = json.loads(ours), json.loads(twin)
        for document in (ours, twin):
            del document["source"]["file"], document["source"]["sha256"]
    assert ours == twin


# Output side. A failed export keeping an existing file and the refusal of
# `-o` naming the input itself are test_export.py's
# (test_export_failure_keeps_existing_output, test_export_refuses_to_overwrite_input).


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("command", ["export", "to-cpu"])
@pytest.mark.parametrize("route", ["symlink", "hard-link", "dotted-path"])
def test_cli_output_that_is_the_input_by_another_name_is_refused(
    tmp_path: Path, command: str, route: str
) -> None:
    model = tmp_path / "model.t7"
    shutil.copyfile(FIXTURES / "lstm_2x20.cuda.t7", model)
    (tmp_path / "sub").mkdir()
    out = tmp_path / "sub" / "out.t7"
    if route == "symlink":
        out.symlink_to(model)
    elif route == "hard-link":
        os.link(model, out)
    else:
        out = tmp_path / "sub" / ".." / "model.t7"

    result = run_cli(command, model, "-o", out)

    assert result.exit_code == 1
    assert result.output == f"Error: {out}: refusing to overwrite the input file\n"
    assert model.read_bytes() == (FIXTURES / "lstm_2x20.cuda.t7").read_bytes()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/out.json", "the folder {folder} does not exist"),
        ("file.txt/out.json", "{folder} is a file, not a folder"),
    ],
)
def test_cli_output_folder_that_cannot_hold_it(
    tmp_path: Path, where: str, message: str
) -> None:
    (tmp_path / "file.txt").write_text("a file")
    out = tmp_path / where

    result = run_cli("export", FIXTURES / "lstm_2x20.t7", "-o", out)

    assert result.exit_code == 1
    folder = out.parent
    assert result.output == f"Error: {out}: {message.format(folder=folder)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder no one may create files in, root included (through the
    immutable attribute, where chattr works)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        immutable = (
            shutil.which("chattr") is not None
            and subprocess.run(["chattr", "+i", folder], capture_output=True).returncode
            == 0
        )
        if not immutable:
            folder.chmod(0o755)
            pytest.skip("root writes anywhere, and chattr +i is not available")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", folder], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize("command", ["export", "to-cpu"])
def test_cli_output_in_a_read_only_folder(read_only_folder: Path, command: str) -> None:
    out = read_only_folder / "out.json"

    result = run_cli(command, FIXTURES / "lstm_2x20.cuda.t7", "-o", out)

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {out}: the folder {read_only_folder} is not writable\n"
    )
    assert list(read_only_folder.iterdir()) == []


@pytest.mark.parametrize("command", ["export", "to-cpu"])
def test_cli_on_a_corrupt_checkpoint_keeps_the_existing_output(
    tmp_path: Path, command: str
) -> None:
    model = written(tmp_path, (FIXTURES / "lstm_2x20.t7").read_bytes()[:100_000])
    out = tmp_path / "model.out"
    out.write_text("the output of last week")

    result = run_cli(command, model, "-o", out)

    assert result.exit_code == 1
    assert "torch.DoubleStorage claims 11685 elements" in result.output
    assert out.read_text() == "the output of last week"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.t7", "model.out"]


@pytest.mark.parametrize(
    "failure", [OSError(28, "No space left on device"), KeyboardInterrupt()]
)
def test_export_failing_while_writing_keeps_the_existing_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    out = tmp_path / "model.json"
    out.write_text("the export of last week")
    real_write = jsonstream.write
    seen: list[str] = []

    class FailingFile:
        """Takes the first 10,000 bytes, then fails."""

        def __init__(self, target: Any) -> None:
            self.target = target
            self.taken = 0

        def write(self, piece: bytes) -> int:
            if self.taken > 10_000:
                seen.extend(_parts(tmp_path))
                raise failure
            self.taken += len(piece)
            return int(self.target.write(piece))

    def write_some(target: Any, *args: Any, **options: Any) -> int:
        return real_write(FailingFile(target), *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(jsonstream, "write", write_some)

    with pytest.raises(type(failure)):
        export(FIXTURES / "lstm_2x20.t7", out)

    # The half-written file existed, beside the output, and is gone.
    assert len(seen) == 1 and seen[0].startswith(".model.json.")
    assert out.read_text() == "the export of last week"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_export_bridge_format_with_options_that_contain_themselves(
    tmp_path: Path,
) -> None:
    root = load(FIXTURES / "lstm_2x20.t7")
    root["opt"]["self"] = root["opt"]
    path = tmp_path / "loop.t7"
    dump(root, path)

    export(path, tmp_path / "loop.json", format="bridge")

    options = json.loads((tmp_path / "loop.json").read_text())["source"]["options"]
    assert options["rnn_size"] == 20
    # JSON cannot nest a table in itself: the table is written once more, and
    # its repeat inside that as null.
    assert options["self"]["rnn_size"] == 20
    assert options["self"]["self"] is None

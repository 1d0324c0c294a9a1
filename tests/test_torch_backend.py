"""The torch backend (bridge.t7.torch_backend, bridge.t7.backends): finding a
Torch install, refusing checkpoint code, and, where a Lua Torch7 is installed,
reading every fixture to the tree our embedded reader gives.

Tests marked ``needs_torch`` run when a Torch is found (TORCH_PREFIX,
TORCH_INSTALL, a ``th`` on PATH or ~/torch/install) and are skipped otherwise.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner
from lupa import luajit21

from bridge import jsonstream
from bridge.cli.options import ReaderChoice, reader_options
from bridge.errors import CheckpointError, UnsupportedError
from bridge.models import recognise
from bridge.recurrentjs.mapping import AUTO_BOUNDARY, to_recurrentjs
from bridge.t7 import Table, TorchArray, TorchFunction, TorchObject
from bridge.t7.backends import LoadedCheckpoint, load_tree
from bridge.t7.classes import BACKENDS, ELEMENT_TYPES, Backend, array_class_name
from bridge.t7.torch_backend import (
    CheckpointCodeError,
    TorchInstall,
    TorchLoadError,
    TorchNotFoundError,
    _torch_runtime,
    find_torch,
    function_paths,
    read_with_torch,
    require_torch,
)
from bridge.t7.writer import storage, tensor_view
from tests.t7_paths import resolve

FIXTURES = Path(__file__).parent / "fixtures"
T7_FILES = sorted(p.name for p in FIXTURES.glob("*.t7"))
WriteT7 = Callable[..., Path]

TORCH = find_torch()
needs_torch = pytest.mark.skipif(
    TORCH is None,
    reason="needs a Lua Torch7 install: set TORCH_PREFIX to its install tree "
    "(the folder holding share/lua/5.1/torch) to run it",
)


def torch_load(path: Path, **options: Any) -> LoadedCheckpoint:
    assert TORCH is not None
    return load_tree(path, backend="torch", torch_prefix=TORCH.prefix, **options)


def embedded_load(path: Path) -> LoadedCheckpoint:
    return load_tree(path, backend="embedded")


def bits(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def lua_dump(function_source: str) -> bytes:
    """The bytecode lupa's LuaJIT gives for a Lua function expression."""
    dumped = luajit21.LuaRuntime(encoding=None).eval(f"string.dump({function_source})")
    assert isinstance(dumped, bytes) and dumped.startswith(b"\x1bLJ")
    return dumped


_COMPOSITES = (Table, TorchObject, TorchArray, TorchFunction)


def assert_same_tree(expected: Any, actual: Any) -> int:
    """Check that two loaded trees are equal: the same tables, objects (class,
    version, fields), functions, arrays (class, dtype, shape, bits, view) and
    the same sharing, whatever the order of table entries. Returns how many
    tables, objects, arrays and functions were compared."""
    forward: dict[int, Any] = {}
    backward: dict[int, Any] = {}
    queue: deque[tuple[Any, Any, str]] = deque()
    # Entries keyed by a table or object, matched once their key is paired.
    keyed: list[tuple[Any, Any, Any, str]] = []

    def pair(x: Any, y: Any, path: str) -> None:
        if not isinstance(x, _COMPOSITES):
            assert type(x) is type(y), f"{path}: {x!r} vs {y!r}"
            if isinstance(x, float):
                assert struct.pack("<d", x) == struct.pack("<d", y), path
            else:
                assert x == y, f"{path}: {x!r} vs {y!r}"
            return
        if id(x) in forward or id(y) in backward:
            assert forward.get(id(x)) is y, f"{path}: shared differently"
            assert backward.get(id(y)) is x, f"{path}: shared differently"
            return
        forward[id(x)] = y
        backward[id(y)] = x
        queue.append((x, y, path))

    pair(expected, actual, "<root>")
    while queue or keyed:
        if not queue:
            for value, other, key, path in keyed:
                assert id(key) in forward, f"{path}: a key reached only as a key"
                partner = forward[id(key)]
                assert partner in other, f"{path}: key missing"
                pair(value, other[partner], path)
            keyed = []
            continue
        x, y, path = queue.popleft()
        assert type(x) is type(y), f"{path}: {type(x).__name__} vs {type(y).__name__}"
        if isinstance(x, Table):
            assert len(x) == len(y), f"{path}: {len(x)} vs {len(y)} entries"
            for key, value in x.items():
                if isinstance(key, _COMPOSITES):
                    keyed.append((value, y, key, f"{path}[<object>]"))
                else:
                    assert key in y, f"{path}: no key {key!r}"
                    pair(value, y[key], f"{path}[{key!r}]")
        elif isinstance(x, TorchObject):
            assert x.torch_class == y.torch_class, path
            assert x.version == y.version, path
            pair(x.fields, y.fields, path)
        elif isinstance(x, TorchFunction):
            assert (x.tag, x.bytecode, x.offset) == (y.tag, y.bytecode, y.offset), path
            pair(x.upvalues, y.upvalues, f"{path}.<upvalues>")
        else:
            assert x.torch_class == y.torch_class, path
            assert x.dtype == y.dtype, f"{path}: {x.dtype} vs {y.dtype}"
            assert x.shape == y.shape, f"{path}: {x.shape} vs {y.shape}"
            assert bits(x) == bits(y), f"{path}: values differ"
            header = (x.storage_offset, x.torch_size, x.torch_stride)
            assert header == (y.storage_offset, y.torch_size, y.torch_stride), path
            if x.storage is not None or y.storage is not None:
                pair(x.storage, y.storage, f"{path}.<storage>")
    return len(forward)


# Finding Torch


def fake_torch(prefix: Path, init: str = "") -> Path:
    """A folder laid out as a Torch install tree; ``init`` is its torch/init.lua."""
    lua = prefix / "share" / "lua" / "5.1" / "torch"
    lua.mkdir(parents=True)
    (lua / "init.lua").write_text(init)
    c = prefix / "lib" / "lua" / "5.1"
    c.mkdir(parents=True)
    (c / "libtorch.so").write_bytes(b"")
    return prefix


@pytest.fixture
def no_torch_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TORCH_PREFIX, TORCH_INSTALL or th on PATH, and an empty home."""
    monkeypatch.delenv("TORCH_PREFIX", raising=False)
    monkeypatch.delenv("TORCH_INSTALL", raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_find_torch_prefers_the_explicit_prefix(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = fake_torch(no_torch_around / "explicit")
    monkeypatch.setenv("TORCH_PREFIX", str(fake_torch(no_torch_around / "env")))

    assert find_torch(explicit) == TorchInstall(explicit, "--torch-prefix")


def test_find_torch_takes_the_install_folder_of_a_distro_checkout(
    no_torch_around: Path,
) -> None:
    tree = fake_torch(no_torch_around / "torch" / "install")

    assert find_torch(no_torch_around / "torch") == TorchInstall(tree, "--torch-prefix")


def test_find_torch_explicit_prefix_without_torch_is_an_error(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = no_torch_around / "empty"
    empty.mkdir()
    monkeypatch.setenv("TORCH_PREFIX", str(fake_torch(no_torch_around / "env")))

    with pytest.raises(
        TorchNotFoundError,
        match=rf"^--torch-prefix {empty}: has no share/lua/5.1/torch/init.lua; "
        r"expected a Torch install tree holding share/lua/5.1/torch/init.lua and "
        r"lib/lua/5.1/libtorch.so$",
    ):
        find_torch(empty)


def test_find_torch_explicit_prefix_without_libtorch(no_torch_around: Path) -> None:
    tree = fake_torch(no_torch_around / "tree")
    (tree / "lib" / "lua" / "5.1" / "libtorch.so").unlink()

    with pytest.raises(TorchNotFoundError, match=r"has .*init.lua but no .*libtorch"):
        find_torch(tree)


def test_find_torch_reads_torch_prefix_then_torch_install(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fake_torch(no_torch_around / "first")
    second = fake_torch(no_torch_around / "second")
    monkeypatch.setenv("TORCH_PREFIX", str(first))
    monkeypatch.setenv("TORCH_INSTALL", str(second))

    assert find_torch() == TorchInstall(first, "TORCH_PREFIX")
    monkeypatch.delenv("TORCH_PREFIX")
    assert find_torch() == TorchInstall(second, "TORCH_INSTALL")


def test_find_torch_warns_of_a_variable_naming_no_torch(
    no_torch_around: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    second = fake_torch(no_torch_around / "second")
    monkeypatch.setenv("TORCH_PREFIX", str(no_torch_around / "missing"))
    monkeypatch.setenv("TORCH_INSTALL", str(second))

    with caplog.at_level(logging.WARNING):
        assert find_torch() == TorchInstall(second, "TORCH_INSTALL")
    assert caplog.messages == [
        f"TORCH_PREFIX={no_torch_around / 'missing'} is not a Torch install "
        "tree: does not exist"
    ]


def test_find_torch_uses_the_tree_of_th_on_path(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = fake_torch(no_torch_around / "install")
    (tree / "bin").mkdir()
    th = tree / "bin" / "th"
    th.write_text("#!/bin/sh\n")
    th.chmod(0o755)
    monkeypatch.setenv("PATH", f"{no_torch_around / 'bin'}{os.pathsep}{tree / 'bin'}")

    assert find_torch() == TorchInstall(tree, "th on PATH")


def test_find_torch_follows_a_symlinked_th(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = fake_torch(no_torch_around / "install")
    (tree / "bin").mkdir()
    (tree / "bin" / "th").write_text("#!/bin/sh\n")
    (tree / "bin" / "th").chmod(0o755)
    (no_torch_around / "bin" / "th").symlink_to(tree / "bin" / "th")

    assert find_torch() == TorchInstall(tree, "th on PATH")


def test_find_torch_last_tries_torch_install_in_home(no_torch_around: Path) -> None:
    tree = fake_torch(no_torch_around / "home" / "torch" / "install")

    assert find_torch() == TorchInstall(tree, "~/torch/install")


def test_find_torch_none_found(no_torch_around: Path) -> None:
    assert find_torch() is None


def test_require_torch_says_where_it_looked(
    no_torch_around: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_INSTALL", str(no_torch_around / "gone"))
    home = no_torch_around / "home"

    with pytest.raises(TorchNotFoundError) as caught:
        require_torch()

    assert str(caught.value) == (
        "no Lua Torch7 found for --backend torch; looked at: --torch-prefix (not "
        f"given); TORCH_PREFIX (not set); TORCH_INSTALL={no_torch_around / 'gone'} "
        f"(does not exist); th on PATH (none); {home}/torch/install (does not "
        "exist). Point --torch-prefix or TORCH_PREFIX at a Torch install tree (the "
        "folder holding share/lua/5.1/torch), or use --backend embedded"
    )


def test_load_tree_torch_backend_without_torch(no_torch_around: Path) -> None:
    with pytest.raises(TorchNotFoundError, match=r"looked at: --torch-prefix"):
        load_tree(FIXTURES / "rnn_2x32.t7", backend="torch")


def test_load_tree_auto_without_torch_uses_the_embedded_reader(
    no_torch_around: Path,
) -> None:
    checkpoint = load_tree(FIXTURES / "rnn_2x32.t7")

    assert (checkpoint.backend, checkpoint.torch) == ("embedded", None)
    assert checkpoint.root["protos"]["rnn"].torch_class == "nn.gModule"


def test_load_tree_unknown_backend() -> None:
    with pytest.raises(ValueError, match=r"backend must be one of auto, torch, "):
        load_tree(FIXTURES / "rnn_2x32.t7", backend="lua")  # type: ignore[arg-type]


def test_torch_that_does_not_load_is_reported(no_torch_around: Path) -> None:
    broken = fake_torch(
        no_torch_around / "broken", init='error("this Torch is broken")'
    )

    with pytest.raises(
        TorchLoadError,
        match=rf"^the Lua Torch at {broken} \(found by --torch-prefix\) cannot be "
        r"loaded into rjs-bridge's LuaJIT: .*this Torch is broken",
    ):
        load_tree(FIXTURES / "rnn_2x32.t7", backend="torch", torch_prefix=broken)


def test_auto_backend_reads_on_when_the_torch_found_does_not_load(
    no_torch_around: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = fake_torch(
        no_torch_around / "broken", init='error("this Torch is broken")'
    )
    monkeypatch.setenv("TORCH_PREFIX", str(broken))

    with caplog.at_level(logging.WARNING, logger="bridge.t7.backends"):
        checkpoint = load_tree(FIXTURES / "rnn_2x32.t7")

    assert (checkpoint.backend, checkpoint.torch) == ("embedded", None)
    assert checkpoint.root["protos"]["rnn"].torch_class == "nn.gModule"
    assert len(caplog.messages) == 1
    message = caplog.messages[0]
    assert message.startswith(
        f"the Lua Torch at {broken} (found by TORCH_PREFIX) cannot be loaded into "
        "rjs-bridge's LuaJIT: "
    )
    assert message.endswith(
        "torch/init.lua:1: this Torch is broken; reading with the embedded reader "
        "instead"
    )


# Code in checkpoints


def hooked_checkpoint(target: Path, tag: int = 8) -> Table:
    """A checkpoint whose model holds a function that writes ``target``."""
    code = lua_dump(
        f'function() local f = io.open("{target}", "w") f:write("ran") f:close() end'
    )
    hook = TorchFunction(tag, code, Table(), 0)
    return Table(
        {
            "model": TorchObject("nn.Hooked", 1, Table({"hook": hook, "size": 3})),
            "steps": Table({1: hook}),
        }
    )


def test_function_checkpoint_is_refused_before_torch_is_touched(
    t7_file: WriteT7, tmp_path: Path
) -> None:
    target = tmp_path / "ran.txt"
    path = t7_file(hooked_checkpoint(target))
    # Any Lua run from this tree would fail the load with another error.
    tripwire = fake_torch(tmp_path / "torch", init='error("Torch was touched")')

    with pytest.raises(CheckpointCodeError) as caught:
        load_tree(path, backend="torch", torch_prefix=tripwire)

    assert caught.value.paths == ("<root>.model.hook",)
    assert str(caught.value) == (
        f"{path}: holds a serialized Lua function, at <root>.model.hook. Torch's "
        "reader would turn their bytecode into live Lua functions, and LuaJIT does "
        "not check bytecode, so rjs-bridge does not hand this file to Torch. Read "
        "it with --backend embedded, which keeps functions as data and never loads "
        "them, or pass --trust-checkpoint-code if you trust where the file came "
        "from."
    )
    assert not target.exists()


def test_function_checkpoint_is_refused_with_auto_backend(
    t7_file: WriteT7, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = t7_file(hooked_checkpoint(tmp_path / "ran.txt"))
    tripwire = fake_torch(tmp_path / "torch", init='error("Torch was touched")')
    monkeypatch.setenv("TORCH_PREFIX", str(tripwire))

    with pytest.raises(CheckpointCodeError, match=r"at <root>\.model\.hook\. "):
        load_tree(path)


def test_function_checkpoint_reads_as_data_with_the_embedded_backend(
    t7_file: WriteT7, tmp_path: Path
) -> None:
    target = tmp_path / "ran.txt"
    checkpoint = hooked_checkpoint(target)
    path = t7_file(checkpoint)

    root = embedded_load(path).root

    hook = root["model"]["hook"]
    assert isinstance(hook, TorchFunction)
    assert hook.bytecode == checkpoint["model"]["hook"].bytecode
    assert root["steps"][1] is hook
    assert not target.exists()
    # The bytecode does write the file when someone runs it.
    luajit21.LuaRuntime(encoding=None).eval("loadstring")(hook.bytecode)()
    assert target.read_text() == "ran"


def test_function_paths_lists_every_function_shortest_path_first() -> None:
    code = lua_dump("function() return 1 end")
    inner = TorchFunction(8, code, Table(), 0)
    outer = TorchFunction(8, code, Table({1: Table({"value": inner})}), 0)
    root = Table(
        {
            "a": Table({"deep": Table({"er": outer})}),
            "b": outer,
            "with space": Table({3: inner, 2.5: "x"}),
        }
    )

    assert function_paths(root) == ["<root>.b", "<root>['with space'][3]"]


def test_many_functions_are_counted_and_listed_ten_at_most(
    t7_file: WriteT7, tmp_path: Path
) -> None:
    code = lua_dump("function() return 1 end")
    path = t7_file(Table({i: TorchFunction(8, code, Table(), 0) for i in range(1, 13)}))
    fake = TorchInstall(tmp_path / "nowhere", "test")

    with pytest.raises(
        CheckpointCodeError,
        match=r"holds 12 serialized Lua functions, at <root>\[1\], <root>\[2\], .*"
        r"<root>\[10\] and 2 more\. ",
    ):
        read_with_torch(path, fake)


@needs_torch
@pytest.mark.parametrize("tag", [6, 7, 8])
def test_trusted_function_checkpoint_loads_but_never_runs(
    t7_file: WriteT7, tmp_path: Path, tag: int
) -> None:
    target = tmp_path / "ran.txt"
    path = t7_file(hooked_checkpoint(target, tag))

    trusted = torch_load(path, trust_checkpoint_code=True)

    assert trusted.backend == "torch"
    # Tag 6 functions have no index: each mention is a function of its own.
    count = 7 if tag == 6 else 6
    assert assert_same_tree(embedded_load(path).root, trusted.root) == count
    assert not target.exists()


@needs_torch
@pytest.mark.parametrize("mode", ["binary", "ascii"])
def test_torch_loader_refuses_functions_on_its_own(
    t7_file: WriteT7, tmp_path: Path, mode: str
) -> None:
    # The check inside the load, behind our reader's scan: the loader alone,
    # given a file with a function, stops before Torch reads it.
    assert TORCH is not None
    target = tmp_path / "ran.txt"
    path = t7_file(hooked_checkpoint(target), mode=mode)
    offset = embedded_load(path).root["model"]["hook"].offset
    loader = _torch_runtime(TORCH)

    result = loader.load(
        os.fsencode(path), b"ascii" if mode == "ascii" else b"b64", False
    )

    assert (result[b"ok"], result[b"code"], result[b"offset"]) == (
        False,
        b"function",
        offset,
    )
    assert not target.exists()


# Reading with Torch


# How many tables, objects, arrays and functions each fixture holds.
OBJECT_COUNTS = {
    "gru_2x32.t7": 989,
    "lstm_1x16_dropout.t7": 612,
    "lstm_2x20.cuda.t7": 1023,
    "lstm_2x20.float.t7": 1023,
    "lstm_2x20.t7": 1023,
    "lstm_3x128.cuda.t7": 1453,
    "lstm_3x128.float.t7": 1453,
    "lstm_3x128.t7": 1453,
    "pg_lstm_2x64.cuda.t7": 1023,
    "rnn_2x32.t7": 405,
    "torchrnn_lstm_2x32.t7": 84,
    "torchrnn_lstm_bn.t7": 132,
    "torchrnn_rnn.t7": 72,
}


@needs_torch
@pytest.mark.parametrize("name", T7_FILES)
def test_fixture_reads_the_same_with_both_backends(name: str) -> None:
    embedded = embedded_load(FIXTURES / name)

    torch = torch_load(FIXTURES / name)

    assert TORCH is not None
    assert torch.backend == "torch"
    assert torch.torch == TorchInstall(TORCH.prefix, "--torch-prefix")
    assert (torch.long_size, torch.size, torch.mode) == (8, embedded.size, "binary")
    assert assert_same_tree(embedded.root, torch.root) == OBJECT_COUNTS[name]


@needs_torch
@pytest.mark.parametrize("name", [n for n in T7_FILES if not n.startswith("pg_")])
def test_fixture_arrays_from_torch_equal_torch_dumps(name: str) -> None:
    dump_name = name.replace(".cuda.t7", ".float.t7").replace(".t7", ".tensors.npz")
    root = torch_load(FIXTURES / name).root

    with np.load(FIXTURES / dump_name) as expected:
        assert expected.files
        for path in expected.files:
            array = resolve(root, path)
            assert array.dtype == expected[path].dtype, path
            assert array.shape == expected[path].shape, path
            assert bits(array) == bits(expected[path]), path


@needs_torch
def test_gpu_fixture_keeps_its_class_names() -> None:
    root = torch_load(FIXTURES / "lstm_2x20.cuda.t7").root

    linear = root["protos"]["rnn"]["modules"][3]
    assert linear.torch_class == "nn.Linear"
    assert linear["_type"] == "torch.CudaTensor"
    assert linear["weight"].torch_class == "torch.CudaTensor"
    assert linear["weight"].storage.torch_class == "torch.CudaStorage"
    assert linear["weight"].dtype == np.dtype("<f4")


@needs_torch
@pytest.mark.parametrize("name", T7_FILES)
def test_fixture_exports_the_same_with_both_backends(name: str) -> None:
    def export(root: Any) -> bytes | str:
        try:
            mapping = to_recurrentjs(recognise(root, name), AUTO_BOUNDARY)
        except UnsupportedError as e:
            return str(e)
        out = io.BytesIO()
        jsonstream.write(out, mapping.model, mapping.arrays)
        return out.getvalue()

    assert export(torch_load(FIXTURES / name).root) == export(
        embedded_load(FIXTURES / name).root
    )


@needs_torch
@pytest.mark.parametrize("name", T7_FILES)
def test_fixture_in_ascii_reads_the_same_with_both_backends(
    name: str, t7_file: WriteT7
) -> None:
    path = t7_file(embedded_load(FIXTURES / name).root, mode="ascii")

    torch = torch_load(path)

    assert torch.mode == "ascii"
    assert assert_same_tree(embedded_load(path).root, torch.root) == OBJECT_COUNTS[name]


# The char-rnn LSTM fixtures hold a LongStorage element beyond 32 bits, which
# no file of 4-byte longs can hold (see test_reader.py).
@needs_torch
@pytest.mark.parametrize(
    "name",
    ["gru_2x32.t7", "rnn_2x32.t7"] + [n for n in T7_FILES if n.startswith("torchrnn_")],
)
def test_fixture_with_4_byte_longs_reads_the_same_with_both_backends(
    name: str, t7_file: WriteT7
) -> None:
    path = t7_file(embedded_load(FIXTURES / name).root, long_size=4)
    embedded = embedded_load(path)

    torch = torch_load(path)

    assert (torch.long_size, embedded.long_size) == (4, 4)
    assert assert_same_tree(embedded.root, torch.root) == OBJECT_COUNTS[name]


ARRAY_TYPES = [(backend, element) for backend in BACKENDS for element in ELEMENT_TYPES]


@needs_torch
@pytest.mark.parametrize(("backend", "element"), ARRAY_TYPES)
def test_tensor_of_every_class(
    t7_file: WriteT7, backend: Backend, element: str
) -> None:
    data = storage(
        [0, 1, 2, 3, 100, 127, 5, 9], array_class_name(backend, element, "Storage")
    )
    view = tensor_view(data, 2, (2, 3), (1, 2))
    path = t7_file(
        Table({"view": view, "whole": tensor_view(data, 1, (8,)), "data": data})
    )

    root = torch_load(path).root

    assert assert_same_tree(embedded_load(path).root, root) == 4
    assert root["view"].torch_class == array_class_name(backend, element, "Tensor")
    assert root["view"].tolist() == [[1, 3, 127], [2, 100, 5]]
    assert root["view"].storage is root["data"] is root["whole"].storage


@needs_torch
def test_empty_tensors(t7_file: WriteT7) -> None:
    # What Torch writes for torch.DoubleTensor(): no dimensions, no storage.
    empty = np.empty(0, "<f8").view(TorchArray)
    empty.torch_class = "torch.DoubleTensor"
    empty.torch_size = empty.torch_stride = ()
    sized = tensor_view(storage(np.zeros(4, "<f4")), 1, (0, 4))
    path = t7_file(Table({"empty": empty, "sized": sized}))

    root = torch_load(path).root

    assert assert_same_tree(embedded_load(path).root, root) == 4
    assert (root["empty"].shape, root["empty"].torch_size) == ((0,), ())
    assert root["empty"].storage is None
    assert root["sized"].shape == (0, 4)
    assert len(root["sized"].storage) == 4


@needs_torch
def test_classes_torch_lacks_are_made_on_demand(
    t7_file: WriteT7, caplog: pytest.LogCaptureFixture
) -> None:
    weight = tensor_view(storage(np.arange(6, dtype="<f8")), 1, (2, 3))
    root = Table(
        {
            "layer": TorchObject("nn.NotInNN", 1, Table({"weight": weight, "n": 2})),
            "widget": TorchObject("mypackage.Widget", 3, Table({"name": "w"})),
            "old": TorchObject("Plain", 0, Table({1: True})),
        }
    )
    path = t7_file(root)

    with caplog.at_level(logging.DEBUG, logger="bridge.t7.torch_backend"):
        loaded = torch_load(path).root

    assert assert_same_tree(embedded_load(path).root, loaded) == 9
    assert [loaded[k].version for k in ("layer", "widget", "old")] == [1, 3, 0]
    # Created in the order the file holds them.
    assert (
        "classes this Torch lacks, read as plain: nn.NotInNN, mypackage.Widget, Plain"
        in caplog.messages
    )


@needs_torch
@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "_LOADED",
            """class name "_LOADED" is taken in Lua's registry by something Torch """
            "cannot read from a file",
        ),
        ("torch.DiskFile", """class name "torch.DiskFile" is taken in Lua's"""),
    ],
)
def test_class_names_that_cannot_be_classes(
    t7_file: WriteT7, name: str, message: str
) -> None:
    path = t7_file(Table({"x": TorchObject(name, 1, Table())}))

    with pytest.raises(
        CheckpointError, match=re.escape("Torch's torch.load failed: " + message)
    ):
        torch_load(path)


@needs_torch
def test_class_name_that_is_not_a_name_never_reaches_torch(t7_file: WriteT7) -> None:
    # The embedded reader's scan, which runs first, refuses it.
    path = t7_file(Table({"x": TorchObject("not a name", 1, Table())}))

    with pytest.raises(
        CheckpointError,
        match=re.escape('class name "not a name" is not a class name: expected Lua'),
    ):
        torch_load(path)


@needs_torch
def test_auto_backend_takes_the_torch_found(caplog: pytest.LogCaptureFixture) -> None:
    assert TORCH is not None

    with caplog.at_level(logging.INFO, logger="bridge.t7.backends"):
        checkpoint = load_tree(FIXTURES / "torchrnn_rnn.t7")

    assert (checkpoint.backend, checkpoint.torch) == ("torch", TORCH)
    assert caplog.messages == [
        f"reading {FIXTURES / 'torchrnn_rnn.t7'} with the Lua Torch at "
        f"{TORCH.prefix} (found by {TORCH.found_by})"
    ]


# The command-line options


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--depth", default=3)
@reader_options
def show(model: Path, depth: int, reader: ReaderChoice) -> None:
    """Show MODEL."""
    checkpoint = reader.load(model)
    click.echo(f"{depth} {reader.backend} {checkpoint.backend} {checkpoint.root['i']}")


def test_reader_options_reach_the_command_as_one_choice(no_torch_around: Path) -> None:
    result = CliRunner().invoke(
        show, [str(FIXTURES / "rnn_2x32.t7"), "--backend", "embedded", "--depth", "1"]
    )

    assert (result.exit_code, result.output) == (0, "1 embedded embedded 423\n")


def test_reader_options_help() -> None:
    result = CliRunner().invoke(show, ["--help"])

    assert result.exit_code == 0
    assert "--backend [auto|torch|embedded]" in result.output
    assert "--torch-prefix DIR" in result.output
    assert "--trust-checkpoint-code" in result.output


def test_reader_options_torch_backend_without_torch(no_torch_around: Path) -> None:
    result = CliRunner().invoke(
        show, [str(FIXTURES / "rnn_2x32.t7"), "--backend", "torch"]
    )

    assert isinstance(result.exception, TorchNotFoundError)


def test_reader_options_unknown_backend() -> None:
    result = CliRunner().invoke(
        show, [str(FIXTURES / "rnn_2x32.t7"), "--backend", "lua"]
    )

    assert result.exit_code == 2
    assert "Invalid value for '--backend'" in result.output


# Every command that reads a checkpoint takes the backend options.


@pytest.mark.parametrize(
    "command",
    [
        ["export", "-o", "-"],
        ["inspect"],
        ["sample", "-n", "5"],
    ],
)
def test_commands_with_backend_torch_and_no_torch_say_where_they_looked(
    no_torch_around: Path, command: list[str]
) -> None:
    from click.testing import CliRunner

    from bridge.cli import cli

    args = [*command[:1], str(FIXTURES / "lstm_2x20.t7"), *command[1:]]
    result = CliRunner().invoke(cli, [*args, "--backend", "torch"])

    assert result.exit_code == 1
    assert "Error: " in result.output
    assert "TORCH_PREFIX" in result.output
    assert "Traceback" not in result.output


@needs_torch
@pytest.mark.parametrize(
    "arguments",
    [
        ["export", "-o", "-"],
        ["export", "--format", "bridge", "--encoding", "float32", "-o", "-"],
        ["sample", "-n", "50", "--seed", "3"],
    ],
)
@pytest.mark.parametrize("name", ["gru_2x32.t7", "lstm_3x128.cuda.t7"])
def test_commands_give_the_same_output_with_either_backend(
    arguments: list[str], name: str
) -> None:
    from click.testing import CliRunner

    from bridge.cli import cli

    assert TORCH is not None
    if name.startswith("gru") and arguments[-1] == "-" and "bridge" not in arguments:
        arguments = [*arguments[:-2], "--format", "bridge", "-o", "-"]
    args = [*arguments[:1], str(FIXTURES / name), *arguments[1:]]
    runner = CliRunner()

    embedded = runner.invoke(cli, ["-q", *args, "--backend", "embedded"])
    torch = runner.invoke(
        cli, ["-q", *args, "--backend", "torch", "--torch-prefix", str(TORCH.prefix)]
    )

    assert embedded.exit_code == 0, embedded.output
    assert torch.exit_code == 0, torch.output
    assert torch.stdout_bytes == embedded.stdout_bytes
    assert len(embedded.stdout_bytes) > 40

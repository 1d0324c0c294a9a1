"""Read a Torch7 file with the user's own Lua Torch, driven through lupa.

Finding Torch: an explicit prefix (``--torch-prefix``), then the ``TORCH_PREFIX``
and ``TORCH_INSTALL`` variables, then the install tree of a ``th`` on PATH,
then ``~/torch/install``. A Torch tree is a luarocks tree holding
``share/lua/5.1/torch/init.lua`` and ``lib/lua/5.1/libtorch.so``; Lua's
``package.path`` and ``package.cpath`` are pointed at it and nowhere else. A
prefix whose ``install`` folder is the tree (the torch distro's checkout) is
taken too.

Binding: Torch's C modules (``libtorch``, ``libpaths``, ``libTHNN``...) call
the Lua C API, and must call the one of the LuaJIT that lupa embeds. Lupa's
extension module is made to share its symbols with later libraries
(``dlopen`` with ``RTLD_NOLOAD | RTLD_GLOBAL``), whenever it was imported, and
only when this backend is used: modules built without ``-lluajit`` then bind to
it, and so do modules linked to another LuaJIT, whose own copy goes unused.
After that, a lupa runtime of another Lua version imported later in the same
process would bind to LuaJIT as well and crash; rjs-bridge uses none.

Safety: before Torch sees a file, our own reader reads it; when it holds
serialized functions the load is refused with :class:`CheckpointCodeError`
naming where they are, unless the caller trusts the file's code. Inside the
load, ``lua/torch_loader.lua`` refuses any function again before Torch turns
its bytecode into a live function.

Reading: Torch's ``torch.load`` reads the file (binary with 8- or 4-byte longs,
or ASCII); GPU classes are read as the CPU class of the same width and missing
Lua classes are created as plain ones (see ``lua/torch_loader.lua``). Each
storage's elements are copied once into a NumPy array from the address Torch
holds them at; tensors are views of those arrays, so the tree is the one
:func:`bridge.t7.reader.read_checkpoint` gives: same tables, objects (class
names and versions as the file wrote them), arrays and sharing.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import shutil
import sys
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import BridgeError, CheckpointError, UnsupportedError
from bridge.t7 import runtime
from bridge.t7.objects import (
    Table,
    TorchArray,
    TorchFunction,
    TorchObject,
    tensor_of,
    view_fits,
)
from bridge.t7.reader import Checkpoint, read_checkpoint

logger = logging.getLogger(__name__)

# The variables naming a Torch install tree, in the order they are tried.
PREFIX_VARIABLES = ("TORCH_PREFIX", "TORCH_INSTALL")

LUA_DIR = Path("share", "lua", "5.1")
C_DIR = Path("lib", "lua", "5.1")
_C_SUFFIX = ".dll" if sys.platform == "win32" else ".so"

# How many function paths an error lists before saying how many more.
_MAX_LISTED = 10


class TorchNotFoundError(BridgeError):
    """No Lua Torch7 install was found where rjs-bridge looks for one."""

    def __init__(self, message: str, looked: tuple[str, ...]) -> None:
        self.looked = looked
        super().__init__(message)


class TorchLoadError(BridgeError):
    """A Torch install was found, but it does not load into lupa's LuaJIT."""


class CheckpointCodeError(BridgeError):
    """A checkpoint holds serialized Lua functions, which Torch's reader would
    load as code; refused unless the caller trusts the file.

    ``paths`` are the object paths of the functions (``<root>.model.hook``)
    when our reader could list them; ``offset`` the byte of the first one when
    only the load itself met it.
    """

    def __init__(
        self, file: str | Path, paths: tuple[str, ...], offset: int | None = None
    ) -> None:
        self.file = str(file)
        self.paths = paths
        self.offset = offset
        if paths:
            listed = ", ".join(paths[:_MAX_LISTED])
            if len(paths) > _MAX_LISTED:
                listed += f" and {len(paths) - _MAX_LISTED} more"
            count = (
                "a serialized Lua function"
                if len(paths) == 1
                else (f"{len(paths)} serialized Lua functions")
            )
            where = f"{self.file}: holds {count}, at {listed}"
        else:
            where = f"{self.file}, byte {offset}: holds a serialized Lua function"
        super().__init__(
            f"{where}. Torch's reader would turn their bytecode into live Lua "
            "functions, and LuaJIT does not check bytecode, so rjs-bridge does "
            "not hand this file to Torch. Read it with --backend embedded, which "
            "keeps functions as data and never loads them, or pass "
            "--trust-checkpoint-code if you trust where the file came from."
        )


@dataclass(frozen=True)
class TorchInstall:
    """A Lua Torch7 install tree and how it was found."""

    prefix: Path
    # "--torch-prefix", "TORCH_PREFIX", "TORCH_INSTALL", "th on PATH" or
    # "~/torch/install".
    found_by: str

    @property
    def lua_dir(self) -> Path:
        return self.prefix / LUA_DIR

    @property
    def c_dir(self) -> Path:
        return self.prefix / C_DIR


def find_torch(torch_prefix: str | Path | None = None) -> TorchInstall | None:
    """The Torch install to use, or None when there is none.

    An explicit ``torch_prefix`` that holds no Torch is an error
    (:class:`TorchNotFoundError`), never skipped.
    """
    install, _ = _search(torch_prefix)
    return install


def require_torch(torch_prefix: str | Path | None = None) -> TorchInstall:
    """Like :func:`find_torch`, but no Torch is an error that says where it
    looked."""
    install, looked = _search(torch_prefix)
    if install is None:
        raise TorchNotFoundError(
            "no Lua Torch7 found for --backend torch; looked at: "
            + "; ".join(looked)
            + ". Point --torch-prefix or TORCH_PREFIX at a Torch install tree "
            "(the folder holding share/lua/5.1/torch), or use --backend embedded",
            tuple(looked),
        )
    return install


def _search(torch_prefix: str | Path | None) -> tuple[TorchInstall | None, list[str]]:
    looked: list[str] = []

    if torch_prefix is not None:
        prefix = Path(torch_prefix).expanduser()
        tree, problem = _torch_tree(prefix)
        if tree is None:
            raise TorchNotFoundError(
                f"--torch-prefix {prefix}: {problem}; expected a Torch install "
                f"tree holding {LUA_DIR / 'torch' / 'init.lua'} and "
                f"{C_DIR / ('libtorch' + _C_SUFFIX)}",
                (f"--torch-prefix {prefix}: {problem}",),
            )
        return TorchInstall(tree, "--torch-prefix"), looked
    looked.append("--torch-prefix (not given)")

    for name in PREFIX_VARIABLES:
        value = os.environ.get(name)
        if not value:
            looked.append(f"{name} (not set)")
            continue
        tree, problem = _torch_tree(Path(value).expanduser())
        if tree is not None:
            return TorchInstall(tree, name), looked
        logger.warning("%s=%s is not a Torch install tree: %s", name, value, problem)
        looked.append(f"{name}={value} ({problem})")

    th = shutil.which("th")
    if th is None:
        looked.append("th on PATH (none)")
    else:
        # bin/th sits in the install tree, maybe behind a symlink.
        candidates = [Path(th).parent.parent, Path(th).resolve().parent.parent]
        problems = []
        for prefix in dict.fromkeys(candidates):
            tree, problem = _torch_tree(prefix)
            if tree is not None:
                return TorchInstall(tree, "th on PATH"), looked
            problems.append(f"{prefix}: {problem}")
        looked.append(f"th on PATH ({th}: " + "; ".join(problems) + ")")

    home = Path.home() / "torch" / "install"
    tree, problem = _torch_tree(home)
    if tree is not None:
        return TorchInstall(tree, "~/torch/install"), looked
    looked.append(f"{home} ({problem})")
    return None, looked


def _torch_tree(prefix: Path) -> tuple[Path | None, str]:
    """The Torch tree at ``prefix`` (or at its ``install`` folder), else None
    and what is missing."""
    try:
        return _find_tree(prefix)
    except OSError as e:
        # A folder we may not enter (HOME=/root as another user), a name too
        # long: no Torch there, and no reason to stop.
        return None, f"cannot be read ({e.strerror or e})"


def _find_tree(prefix: Path) -> tuple[Path | None, str]:
    if not prefix.is_dir():
        return None, "does not exist" if not prefix.exists() else "is not a folder"
    problem = ""
    for candidate in (prefix, prefix / "install"):
        init = candidate / LUA_DIR / "torch" / "init.lua"
        library = candidate / C_DIR / f"libtorch{_C_SUFFIX}"
        if not init.is_file():
            problem = problem or f"has no {LUA_DIR / 'torch' / 'init.lua'}"
        elif not library.is_file():
            problem = f"has {init} but no {library}"
        else:
            return candidate.absolute(), ""
    return None, problem


def read_with_torch(
    path: str | Path,
    install: TorchInstall,
    *,
    trust_checkpoint_code: bool = False,
    long_size: int | None = None,
) -> Checkpoint:
    """Read a Torch7 file with the Torch at ``install``; the tree equals the
    one :func:`bridge.t7.reader.read_checkpoint` gives.

    Files holding serialized functions raise :class:`CheckpointCodeError`
    unless ``trust_checkpoint_code`` is true.
    """
    path = Path(path)

    # Our reader goes first: it checks the file, finds its long size, and
    # lists any functions before Torch sees a byte.
    scanned = read_checkpoint(path, long_size=long_size)
    functions = function_paths(scanned.root)
    if functions and not trust_checkpoint_code:
        raise CheckpointCodeError(path, tuple(functions))
    # Only what was learnt is kept: the scan's tree need not outlive Torch's.
    scanned = dataclasses.replace(scanned, root=None)

    mode = "ascii" if scanned.mode == "ascii" else f"b{scanned.long_size * 8}"

    loader = _torch_runtime(install)
    result = loader.load(os.fsencode(path), mode.encode(), trust_checkpoint_code)
    if not result[b"ok"]:
        offset = result[b"offset"]
        if result[b"code"] == b"function":
            raise CheckpointCodeError(path, (), offset)
        message = result[b"message"].decode("utf-8", "replace")
        raise CheckpointError(path, f"Torch's torch.load failed: {message}", offset)

    created = [name.decode() for name in result[b"created"].values()]
    if created:
        logger.debug("classes this Torch lacks, read as plain: %s", ", ".join(created))
    root = _build(result, scanned.long_size, path)
    return dataclasses.replace(scanned, root=root)


def _torch_runtime(install: TorchInstall) -> Any:
    """``lua/torch_loader.lua`` in a fresh LuaJIT runtime, prepared with the
    Torch at ``install``."""
    lua = runtime.new_runtime()
    lupa_module = sys.modules[type(lua).__module__]
    _share_lua_symbols(lupa_module.__file__)

    package = lua.globals().package
    lua_dir = os.fsencode(install.lua_dir)
    package.path = lua_dir + b"/?.lua;" + lua_dir + b"/?/init.lua"
    package.cpath = os.fsencode(install.c_dir) + b"/?" + _C_SUFFIX.encode()

    loader = runtime.load_module(lua, "torch_loader")
    try:
        loaded = loader.prepare()
    except lupa_module.LuaError as e:
        message = str(e).split("\nstack traceback:")[0]
        raise TorchLoadError(
            f"the Lua Torch at {install.prefix} (found by {install.found_by}) "
            f"cannot be loaded into rjs-bridge's LuaJIT: {message}"
        ) from None
    for name in ("nn", "nngraph"):
        if not loaded[name.encode()]:
            error = loaded[f"{name}_error".encode()].decode("utf-8", "replace")
            logger.debug("%s not loaded from %s: %s", name, install.prefix, error)
    return loader


@cache
def _share_lua_symbols(module_file: str) -> None:
    # Torch's C modules find lua_* among the symbols already loaded with
    # global visibility; promote lupa's module to that without reloading it.
    if not hasattr(os, "RTLD_NOLOAD"):
        return
    try:
        ctypes.CDLL(module_file, mode=os.RTLD_NOW | os.RTLD_GLOBAL | os.RTLD_NOLOAD)
    except OSError as e:
        raise BridgeError(
            f"cannot share lupa's LuaJIT ({module_file}) with Torch's C modules: {e}"
        ) from None


def function_paths(root: Any) -> list[str]:
    """The object path of every serialized function reachable from ``root``,
    shortest first (``<root>.model.hook``)."""
    # Each object reached keeps a link to its parent and the step from it
    # (a key, or a literal such as ".<upvalues>"); paths are spelt out only
    # for the functions found, so millions of nested objects cost a link each.
    links: list[tuple[int, Any, bool]] = [(-1, "<root>", False)]
    found: list[int] = []
    seen = {id(root)}
    queue: deque[tuple[Any, int]] = deque([(root, 0)])
    while queue:
        value, at = queue.popleft()
        children: list[tuple[Any, Any, bool]]
        if isinstance(value, TorchFunction):
            found.append(at)
            children = [(value.upvalues, ".<upvalues>", False)]
        elif isinstance(value, TorchObject):
            children = [(v, k, True) for k, v in value.fields.items()]
        elif isinstance(value, Table):
            children = []
            for k, v in value.items():
                children.append((k, "[<key>]", False))
                children.append((v, k, True))
        else:
            continue
        for child, step, is_key in children:
            if isinstance(child, (Table, TorchObject, TorchFunction)) and (
                id(child) not in seen
            ):
                seen.add(id(child))
                links.append((at, step, is_key))
                queue.append((child, len(links) - 1))
    return [_spell(links, at) for at in found]


def _spell(links: list[tuple[int, Any, bool]], at: int) -> str:
    steps = []
    while at >= 0:
        parent, step, is_key = links[at]
        steps.append(_describe_key(step) if is_key else step)
        at = parent
    return "".join(reversed(steps))


def _describe_key(key: Any) -> str:
    # The spelling of lua/t7reader.lua's object paths.
    if isinstance(key, str):
        if key.isidentifier() and key.isascii():
            return "." + key
        return "[" + repr(key) + "]"
    if isinstance(key, bool):
        return "[<boolean>]"
    if isinstance(key, int):
        return f"[{key}]"
    if isinstance(key, float):
        return f"[{key!r}]"
    if isinstance(key, bytes):
        return "[" + repr(key) + "]"
    return "[<object>]"


# Torch element type -> NumPy kind; the width is the element's size in memory.
_KINDS = {
    b"Byte": "u",
    b"Char": "i",
    b"Short": "i",
    b"Int": "i",
    b"Long": "i",
    b"Float": "f",
    b"Double": "f",
    b"Half": "f",
}


def _file_dtype(elem: bytes, long_size: int) -> np.dtype[Any]:
    # The dtype our reader gives: little-endian, Long as wide as the file's.
    widths = {b"Byte": 1, b"Char": 1, b"Short": 2, b"Int": 4, b"Half": 2}
    widths |= {b"Float": 4, b"Double": 8, b"Long": long_size}
    return np.dtype(f"<{_KINDS[elem]}{widths[elem]}")


def _build(result: Any, long_size: int, file: Path) -> Any:
    """Turn the loader's records into Python objects, without recursion."""
    heap = result[b"heap"]
    n = result[b"n"]
    records = [heap[slot] for slot in range(1, n + 1)]
    objects: list[Any] = [None] * (n + 1)

    def value(v: Any) -> Any:
        if isinstance(v, bytes):
            return _string(v)
        if isinstance(v, (int, float, bool)) or v is None:
            return v
        return objects[v[1]]

    # Storages and containers first, so tensors and fields can point at them.
    tensors = []
    for slot, rec in enumerate(records, start=1):
        kind = rec[b"kind"]
        if kind == b"table":
            objects[slot] = Table()
        elif kind == b"object":
            objects[slot] = TorchObject(
                rec[b"class"].decode("utf-8", "replace"), rec[b"version"], Table()
            )
        elif kind == b"storage":
            objects[slot] = _storage(rec, long_size, file)
        elif kind == b"function":
            objects[slot] = TorchFunction(
                rec[b"tag"], rec[b"bytecode"], None, rec[b"at"]
            )
        elif kind == b"tensor":
            tensors.append((slot, rec))

    for slot, rec in tensors:
        objects[slot] = _tensor(rec, long_size, objects, file)

    for slot, rec in enumerate(records, start=1):
        obj = objects[slot]
        kind = rec[b"kind"]
        if kind == b"table":
            keys, values = rec[b"keys"], rec[b"values"]
            for i in range(1, rec[b"n"] + 1):
                obj[value(keys[i])] = value(values[i])
        elif kind == b"object":
            obj.fields = objects[rec[b"fields"][1]]
        elif kind == b"function":
            obj.upvalues = value(rec[b"upvalues"])

    return value(result[b"root"])


def _storage(rec: Any, long_size: int, file: Path) -> TorchArray:
    # The one copy: Torch's elements, from the address it holds them at.
    elem = rec[b"elem"]
    if elem not in _KINDS:
        raise UnsupportedError(
            f"{file}: Torch read a {rec[b'class'].decode()} of {elem.decode()} "
            "elements, which rjs-bridge does not convert"
        )
    count = rec[b"count"]
    in_memory = np.dtype(f"={_KINDS[elem]}{rec[b'element_size']}")
    array = np.empty(count, dtype=in_memory)
    if count:
        ctypes.memmove(array.ctypes.data, rec[b"address"], array.nbytes)
    wanted = _file_dtype(elem, long_size)
    if array.dtype != wanted:
        array = array.astype(wanted)
    storage = array.view(TorchArray)
    storage.torch_class = rec[b"class"].decode()
    return storage


def _tensor(rec: Any, long_size: int, objects: list[Any], file: Path) -> TorchArray:
    dtype = _file_dtype(rec[b"elem"], long_size)
    sizes = tuple(rec[b"size"][i] for i in range(1, rec[b"ndim"] + 1))
    strides = tuple(rec[b"stride"][i] for i in range(1, rec[b"ndim"] + 1))
    offset = rec[b"offset"]
    storage_ref = rec[b"storage"]
    storage = objects[storage_ref[1]] if storage_ref is not None else None
    torch_class = rec[b"class"].decode()

    # Torch's reader does not check the view.
    if storage is not None and not view_fits(offset, sizes, strides, len(storage)):
        raise CheckpointError(
            file,
            f"a {torch_class} view (offset {offset}, sizes {sizes}, strides "
            f"{strides}) runs outside its storage of {len(storage)} elements",
        )
    return tensor_of(storage, offset, sizes, strides, torch_class, dtype)


def _string(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw

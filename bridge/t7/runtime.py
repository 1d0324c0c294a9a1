"""The embedded LuaJIT runtime (through lupa) and our Lua sources."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bridge.errors import BridgeError


def _lupa_luajit() -> Any:
    # The reader reads bytes in place through LuaJIT's FFI, so plain Lua will
    # not do.
    try:
        from lupa import luajit21 as lua_module
    except ImportError:
        try:
            from lupa import luajit20 as lua_module
        except ImportError:
            raise BridgeError(
                "the installed lupa has no LuaJIT runtime; install a lupa wheel "
                "built with LuaJIT (pip install lupa on Linux, macOS or Windows)"
            ) from None
    return lua_module


def new_runtime() -> Any:
    """A fresh LuaJIT runtime with strings passed as bytes, untouched."""
    lua_module = _lupa_luajit()
    return lua_module.LuaRuntime(
        encoding=None, register_eval=False, register_builtins=False
    )


@cache
def lua_source(name: str) -> str:
    """The text of ``lua/<name>.lua``: installed in the package, or in the
    source tree beside it."""
    # A plain path rather than importlib.resources, whose import costs more
    # than the rest of this module: the package is always installed as files,
    # since LuaJIT reads nothing from a zip either way.
    installed = Path(__file__).resolve().parents[1] / "lua" / f"{name}.lua"
    if installed.is_file():
        return installed.read_text(encoding="utf-8")
    in_tree = Path(__file__).resolve().parents[2] / "lua" / f"{name}.lua"
    return in_tree.read_text(encoding="utf-8")


def load_module(lua: Any, name: str) -> Any:
    """Run ``lua/<name>.lua`` in ``lua`` and return the module table it returns."""
    chunk = lua.compile(lua_source(name).encode("utf-8"), name=f"@lua/{name}.lua")
    return chunk()

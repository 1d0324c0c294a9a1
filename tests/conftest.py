"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.t7.writer import dumps

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    """The folder of checkpoints written by real Torch (see its README)."""
    return FIXTURES


@pytest.fixture
def t7_file(tmp_path: Path) -> Callable[..., Path]:
    """Write an object as a .t7 file in a temporary folder; returns its path.

    Takes the object, then ``name=`` and any keyword of ``bridge.t7.writer.dumps``.
    """

    def write(obj: Any, name: str = "checkpoint.t7", **options: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(dumps(obj, **options))
        return path

    return write

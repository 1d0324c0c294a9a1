"""Write output files atomically: all of it, or nothing and the old file kept."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bridge.errors import OutputError


def check_output_path(output: Path, *inputs: Path) -> None:
    """Refuse an output that would overwrite an input or cannot be written."""
    for source in inputs:
        with contextlib.suppress(OSError):
            if output.exists() and output.samefile(source):
                raise OutputError(f"{output}: refusing to overwrite the input file")
        if output.resolve() == source.resolve():
            raise OutputError(f"{output}: refusing to overwrite the input file")
    if _is_special(output):
        # A device or a pipe (/dev/null, >(gzip)) is written through as is.
        if not os.access(output, os.W_OK):
            raise OutputError(f"{output}: is not writable")
        return
    # A symbolic link is followed: the file it names is the one replaced.
    output = output.resolve()
    folder = output.parent
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{output}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise OutputError(f"{output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{output}: the folder {folder} is not writable")
    if output.is_dir():
        raise OutputError(f"{output}: is a directory")


@contextlib.contextmanager
def atomic_output(output: Path | None) -> Iterator[BinaryIO]:
    """A binary file to write ``output`` through; None or ``-`` means stdout.

    The data goes to a temporary file beside ``output`` that replaces it only
    when the block finishes without an exception.
    """
    if output is None or str(output) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    if _is_special(output):
        # Devices and pipes cannot be replaced, and need not be.
        try:
            special = output.open("wb")
        except OSError as e:
            raise OutputError(f"{output}: cannot write: {e.strerror}") from None
        with special:
            yield special
        return

    # Through a symbolic link, replace the file it names, not the link.
    output = output.resolve()
    mode = _mode_of(output)
    try:
        fd, temp = tempfile.mkstemp(
            prefix=f".{output.name}.", suffix=".part", dir=output.parent
        )
    except OSError as e:
        raise OutputError(
            f"{output}: cannot create a file there: {e.strerror}"
        ) from None
    try:
        # No fsync: the rename already guarantees that a failed or interrupted
        # run never shows a partial file, and an output lost to a power cut
        # is made again from its input; forcing 100 MB to disk first would
        # add a tenth of the export's time.
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(temp, mode)
        os.replace(temp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is a device, a pipe or a socket."""
    try:
        return not stat.S_ISREG(path.stat().st_mode) and not path.is_dir()
    except OSError:
        return False


def _mode_of(output: Path) -> int:
    """The permissions to give the new file: the old one's, if any, so that a
    private output stays private; else what the umask allows."""
    try:
        return stat.S_IMODE(output.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def size_text(n: int) -> str:
    """A byte count for people: ``1.3 MB``, ``98.6 kB``, ``512 bytes``."""
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} kB"
    return f"{n} bytes"

"""Write output files atomically: all of it, or nothing and the old file kept."""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bridge.errors import OutputError
from bridge.signals import interrupts_held


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
        out = standard_output()
        yield out
        out.flush()
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
    # Interrupts wait while the temporary file is made and while it is put
    # in place: between the file appearing and this block knowing its name,
    # or in the middle of the swap, a Ctrl-C would leave it behind. One that
    # comes as a held block ends finds the clean-up below ready for it.
    temp: str | None = None
    f: BinaryIO | None = None
    placed = False
    try:
        with interrupts_held():
            try:
                fd, temp = tempfile.mkstemp(
                    prefix=f".{output.name}.", suffix=".part", dir=output.parent
                )
            except OSError as e:
                raise OutputError(
                    f"{output}: cannot create a file there: {e.strerror}"
                ) from None
            f = os.fdopen(fd, "wb")
        # No fsync: the rename already guarantees that a failed or interrupted
        # run never shows a partial file, and an output lost to a power cut
        # is made again from its input; forcing 100 MB to disk first would
        # add a tenth of the export's time.
        with f:
            yield f
        with interrupts_held():
            os.chmod(temp, mode)
            _replace(temp, output)
            placed = True
    except BaseException:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
        if temp is not None and not placed:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise


def _replace(temp: str, output: Path) -> None:
    """Put ``temp`` in ``output``'s place in one step.

    Where the system can, the two names are swapped and the old file, now at
    ``temp``, is then removed. A plain rename over an existing file would do
    as well, but ext4 answers it by starting to write the new file out to
    disk there and then (its guard for programs that skip fsync), which adds
    0.07 s to an export of 100 MB; a swap does not trigger that.
    """
    if output.is_file() and _exchange(temp, output):
        os.unlink(temp)
    else:
        os.replace(temp, output)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: str, second: Path) -> bool:
    """Swap the names ``first`` and ``second`` atomically; False if either is
    missing or the system or file system cannot (then nothing changed)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False  # a C library older than glibc 2.28
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    done: int = renameat2(
        _AT_FDCWD,
        os.fsencode(first),
        _AT_FDCWD,
        os.fsencode(second),
        _RENAME_EXCHANGE,
    )
    return done == 0


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


def standard_output() -> BinaryIO:
    """The binary standard output; OutputError when the process has none (it
    was started with ``>&-``), rather than results silently lost."""
    if sys.stdout is None:
        raise OutputError(
            "standard output is closed, so the results have nowhere to go"
        )
    return sys.stdout.buffer


def write_all(out: BinaryIO, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to ``out`` or raise.

    A buffered stream can take only part of a big write and report the short
    count without an error, as when the pipe it writes into is closed
    midway (``| head``); writing the rest raises the error that stopped it.
    """
    view = memoryview(data).cast("B")
    while view:
        written = out.write(view)
        if not written:
            raise OSError(f"writing {len(view)} bytes made no progress")
        view = view[written:]


def size_text(n: int) -> str:
    """A byte count for people: ``1.3 MB``, ``98.6 kB``, ``512 bytes``."""
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} kB"
    return f"{n} bytes"

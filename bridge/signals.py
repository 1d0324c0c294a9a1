"""Holding back Ctrl-C and SIGTERM over the few steps that must not be cut."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; one that came meanwhile
    is delivered, and acts as usual, as the block ends.

    Python raises KeyboardInterrupt (and rjs-bridge's SIGTERM handler
    SystemExit) between any two steps of Python code; inside the block they
    cannot come between a file being made and its clean-up being arranged,
    or in the middle of an extension module's set-up. Where threads cannot
    mask signals (Windows), the block runs as it is.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)

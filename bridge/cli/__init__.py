"""The ``rjs-bridge`` command line: one command a module, thin over the library."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import signal
import sys
from typing import Any

import click

from bridge import __version__
from bridge.errors import BridgeError
from bridge.signals import interrupts_held

# Command name -> the module defining it, imported only when the command
# runs (or --help lists them), so each command starts without loading the
# others' dependencies.
_COMMANDS = {
    "export": "bridge.cli.export",
    "inspect": "bridge.cli.inspect",
    "sample": "bridge.cli.sample",
    "verify": "bridge.cli.verify",
    "page": "bridge.cli.page",
    "serve": "bridge.cli.serve",
    "to-cpu": "bridge.cli.to_cpu",
}


class _Group(click.Group):
    """Loads commands on demand, and turns every BridgeError into
    ``Error: ...`` and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = _COMMANDS.get(name)
        if module is None:
            return None
        # Some extension modules crash the process, rather than fail, when an
        # import made inside their own set-up is interrupted (orjson's does:
        # github.com/ijl/orjson/issues/310; Ctrl-C at that moment crashed
        # about one export in 300). Ctrl-C and SIGTERM wait until the
        # command's modules are loaded, a tenth of a second, then act.
        with interrupts_held():
            loaded = importlib.import_module(module)
        command = getattr(loaded, name.replace("-", "_"))
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:
            # The reader went away (| head): stop quietly with the status of a
            # Unix tool that SIGPIPE ended, 128 + 13, since the output is
            # incomplete. Point stdout at /dev/null so the exit's flush does
            # not fail too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(128 + signal.SIGPIPE) from None
        except OSError as e:
            # Writing results failed (a full disk, /dev/full).
            where = f"{e.filename}: " if e.filename else ""
            raise click.ClickException(
                f"{where}cannot write: {e.strerror or e}"
            ) from None


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="rjs-bridge")
@click.option("-v", "--verbose", is_flag=True, help="Print details of the work.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
def cli(verbose: bool, quiet: bool) -> None:
    """Turn Lua Torch7 char-rnn and torch-rnn checkpoints into models a web
    browser runs."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(message)s", stream=sys.stderr, force=True
    )


# The cycle collector's first generation is collected after this many net new
# container objects instead of 700: importing NumPy and the commands alone set
# it off some 60 times, for nothing (they make no garbage cycles).
_GC_THRESHOLD = 50_000


def main() -> None:
    # Let a terminated run (kill, timeout, a cancelled CI job) unwind like an
    # interrupted one, so that no temporary output is left behind.
    signal.signal(signal.SIGTERM, _terminated)
    gc.set_threshold(_GC_THRESHOLD)
    try:
        cli(prog_name="rjs-bridge")
    finally:
        # Spare the exit its last pass of the cycle collector: it would walk
        # and free a whole model's objects (0.025 s of a 0.36 s export) only
        # for the process to hand the memory back anyway. Everything that
        # needs closing is closed by now.
        gc.freeze()


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)

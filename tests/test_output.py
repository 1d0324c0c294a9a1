"""Where outputs go: devices and pipes, symbolic links, permissions, signals."""

from __future__ import annotations

import importlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from bridge import output
from bridge.cli import cli
from bridge.output import atomic_output

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "lstm_1x16_dropout.t7"


def test_export_writes_through_a_pipe_and_keeps_it_a_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()

    result = CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(pipe)])

    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert received[0].startswith(b'{"hidden_sizes":[16]')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root")
def test_export_to_a_character_device_leaves_it_a_device(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))

    result = CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(null)])

    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(null.stat().st_mode)


def test_export_through_a_symlink_replaces_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)

    result = CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(link)])

    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert real.read_text().startswith('{"hidden_sizes":[16]')


def test_export_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    out = tmp_path / "private.json"
    out.write_text("old")
    out.chmod(0o600)

    result = CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(out)])

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("swap", [True, False], ids=["swapped", "renamed"])
def test_export_replaces_an_old_output_whole_and_leaves_nothing_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: bool
) -> None:
    fresh = tmp_path / "fresh.json"
    CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(fresh)])
    out = tmp_path / "model.json"
    out.write_text("old")
    # Another name for the old file, and a reader that has it open: both go
    # on seeing the old file, never a mixture.
    other = tmp_path / "other-name"
    os.link(out, other)
    if not swap:
        monkeypatch.setattr(output, "_exchange", lambda first, second: False)

    with out.open("rb") as held:
        result = CliRunner().invoke(cli, ["-q", "export", str(SMALL), "-o", str(out)])
        assert held.read() == b"old"

    assert result.exit_code == 0, result.output
    assert out.read_bytes() == fresh.read_bytes()
    assert out.read_bytes().startswith(b'{"hidden_sizes":[16]')
    assert other.read_text() == "old"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fresh.json", "model.json", "other-name"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's renameat2")
def test_exchange_swaps_two_names(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("1")
    second.write_text("2")

    assert output._exchange(str(first), second)
    assert (first.read_text(), second.read_text()) == ("2", "1")
    assert not output._exchange(str(first), tmp_path / "missing")
    assert first.read_text() == "2"


def test_terminated_export_leaves_no_partial_file(tmp_path: Path) -> None:
    # The export sends itself SIGTERM while writing, as kill or timeout would.
    out = tmp_path / "out.json"
    out.write_text("precious")
    script = (
        "import os, signal, sys\n"
        "from bridge import jsonstream\n"
        "from bridge.cli import main\n"
        "real = jsonstream.encode_numbers\n"
        "def stop(values):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return real(values)\n"
        "jsonstream.encode_numbers = stop\n"
        f"sys.argv = ['rjs-bridge', 'export', {str(SMALL)!r}, '-o', {str(out)!r}]\n"
        "main()\n"
    )

    done = subprocess.run([sys.executable, "-c", script], capture_output=True)

    assert done.returncode == 128 + 15, done.stderr
    assert out.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_sample_to_a_full_disk_is_an_error_not_a_traceback() -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "bridge.cli", "sample", str(SMALL), "-n", "50"],
            stdout=full,
            stderr=subprocess.PIPE,
        )

    assert done.returncode == 1
    assert (
        done.stderr.decode().strip() == "Error: cannot write: No space left on device"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["sample", str(SMALL), "-n", "100000"],
        ["export", str(FIXTURES / "lstm_3x128.cuda.t7"), "-o", "-"],
        ["page", str(FIXTURES / "lstm_3x128.cuda.t7"), "-o", "-"],
    ],
    ids=["sample", "export", "page"],
)
def test_output_into_a_closed_pipe_stops_quietly_with_sigpipes_status(
    command: list[str],
) -> None:
    # The output is cut short, so the status says so, as a Unix tool ended by
    # SIGPIPE does (141), and no summary claims a whole output was written.
    line = " ".join([sys.executable, "-m", "bridge.cli", *command])
    done = subprocess.run(
        f"{line} | head -c 5 > /dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
    )

    assert done.stdout.decode().strip() == "141"
    assert done.stderr == b""


@pytest.mark.parametrize("value", ["nan", "0", "-1"])
def test_sample_refuses_a_temperature_that_is_not_usable(value: str) -> None:
    result = CliRunner().invoke(cli, ["sample", str(SMALL), "--temperature", value])

    assert result.exit_code == 2
    assert "Invalid value for '-t' / '--temperature'" in result.output


def test_sample_primes_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    # A command line holding byte 0xe9 alone reaches Python as U+DCE9.
    from bridge.t7.writer import dump
    from tests.builders import resize_charrnn_lstm

    vocab = [b"\n", b"a", b"\xe9"]
    dump(
        resize_charrnn_lstm(8, vocab, tensor_class="torch.FloatTensor"),
        tmp_path / "l.t7",
    )

    result = CliRunner().invoke(
        cli, ["sample", str(tmp_path / "l.t7"), "--primetext", "a\udce9", "-n", "3"]
    )

    assert result.exit_code == 0, result.output
    assert len(result.stdout_bytes) == 3


def test_finding_torch_in_an_unreadable_place_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TORCH_PREFIX", "x" * 5000)

    result = CliRunner().invoke(cli, ["inspect", str(SMALL), "--depth", "0"])

    assert result.exit_code == 0, result.output
    assert "read by: rjs-bridge's embedded reader" in result.output


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")
def test_commands_are_imported_with_interrupts_held_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An interrupt inside orjson's own imports crashed the process; while a
    # command's modules load, SIGINT and SIGTERM wait, then act.
    masks = []
    real_import = importlib.import_module

    def import_module(name: str) -> object:
        masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, set()))
        if name == "bridge.cli.inspect":
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        return real_import(name)

    monkeypatch.setattr(importlib, "import_module", import_module)

    with pytest.raises(KeyboardInterrupt):
        cli.get_command(click.Context(cli), "inspect")

    assert {signal.SIGINT, signal.SIGTERM} <= masks[0]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")
@pytest.mark.parametrize("moment", ["making the file", "putting it in place"])
def test_ctrl_c_at_the_edges_of_an_output_leaves_no_part_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    # A Ctrl-C as the temporary file is made, or in the middle of the swap,
    # waits until the step is whole: either no output, or the new one.
    out = tmp_path / "model.json"
    out.write_text("old")
    me = threading.get_ident()

    def interrupting(real: Any, after: bool) -> Any:
        def step(*args: Any, **kwargs: Any) -> Any:
            if not after:
                signal.pthread_kill(me, signal.SIGINT)
            result = real(*args, **kwargs)
            if after:
                signal.pthread_kill(me, signal.SIGINT)
            return result

        return step

    # Just after the file exists; just before the swap begins.
    if moment == "making the file":
        monkeypatch.setattr(tempfile, "mkstemp", interrupting(tempfile.mkstemp, True))
    else:
        monkeypatch.setattr(output, "_replace", interrupting(output._replace, False))

    with pytest.raises(KeyboardInterrupt), atomic_output(out) as f:
        f.write(b"new")

    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]
    assert out.read_text() == ("old" if moment == "making the file" else "new")


@pytest.mark.parametrize(
    "command",
    [
        ["export", str(SMALL), "-o", "-"],
        ["sample", str(SMALL), "-n", "5"],
        ["inspect", str(SMALL)],
        ["verify", str(SMALL), str(SMALL)],
    ],
    ids=["export", "sample", "inspect", "verify"],
)
def test_results_for_a_closed_standard_output_are_an_error(
    command: list[str],
) -> None:
    # Started with stdout closed (>&-): one line of error, not a traceback,
    # and not a success with the results lost.
    line = " ".join([sys.executable, "-m", "bridge.cli", *command])
    done = subprocess.run(
        f"{line} >&-", shell=True, executable="/bin/bash", capture_output=True
    )

    assert done.returncode == 1
    assert done.stderr == (
        b"Error: standard output is closed, so the results have nowhere to go\n"
    )

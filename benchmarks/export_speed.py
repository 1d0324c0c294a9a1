"""How fast and lean `rjs-bridge export` is on big char-rnn checkpoints.

Makes its own checkpoints with the project's Torch writer (char-rnn LSTMs of
3 x 512 with a 96-byte vocabulary, CUDA- and Double-typed, and 3 x 700
CUDA-typed; random weights), then times whole processes on them, each the
median of several runs, with wall time and peak resident memory:

1. ``rjs-bridge export`` (RecurrentJS format, exact numbers), written to a
   file, and written to /dev/null (``-o -``), which is what the floor does;
2. ``rjs-bridge export --format bridge --encoding float32`` (compact);
3. torchfile (PyPI) + json.dump of the same RecurrentJS structure;
4. the floor: ``cat FILE > /dev/null`` plus formatting as many floats with
   the fastest formatter we know (benchmarks/format_floor.py);
5. ``bridge.load`` alone, against reading the file alone.

Run: ``python benchmarks/export_speed.py [--runs 5] [--out FILE.json]``.
It prints a table and the ratios, and writes them to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Checkpoints are made in a child process: this one stays small, since a
# child's peak memory as the kernel reports it starts from its parent's.
_MAKE = """
import sys
sys.path.insert(0, {root!r})
from bridge.t7.writer import dump
from tests.builders import printable_vocab, resize_charrnn_lstm
dump(resize_charrnn_lstm({size}, printable_vocab(96), tensor_class={cls!r}), {path!r})
"""

_FLOOR_VALUES = """
import numpy as np
values = np.random.default_rng(0).uniform(-0.08, 0.08, {count}).astype(np.float32)
np.save({path!r}, values)
"""

MODELS = [
    ("lstm_3x512_cuda", 512, "torch.CudaTensor"),
    ("lstm_3x512_double", 512, "torch.DoubleTensor"),
    ("lstm_3x700_cuda", 700, "torch.CudaTensor"),
]


# Every command runs as an installed program would: Python may cache its
# compiled modules (as pip does on install), whatever this shell says.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str], runs: int) -> dict[str, float]:
    """Median wall seconds and peak RSS (MB) of ``command`` over ``runs``,
    after one run that is not counted (it fills the caches)."""
    walls, peaks = [], []
    for run in range(runs + 1):
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=_ENV,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            error = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"{' '.join(command)} failed:\n{error}")
        if process.stderr:
            process.stderr.close()
        if run:
            walls.append(wall)
            # ru_maxrss is in kilobytes on Linux.
            peaks.append(usage.ru_maxrss / 1024)
    return {"seconds": statistics.median(walls), "peak_mb": max(peaks)}


def python_code(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "export_speed.json"
    )
    parser.add_argument("--skip-torchfile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rjs-bridge-bench-") as folder:
        results = [_benchmark(Path(folder), model, args) for model in MODELS]

    report = {
        "machine": {
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "runs": args.runs,
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}\n")
    print(markdown_table(report))


def _benchmark(
    work: Path, model: tuple[str, int, str], args: argparse.Namespace
) -> dict[str, object]:
    """Make one checkpoint in ``work`` and time every command on it."""
    name, rnn_size, tensor_class = model
    source = work / f"{name}.t7"
    make = _MAKE.format(
        root=str(ROOT), size=rnn_size, cls=tensor_class, path=str(source)
    )
    subprocess.run([sys.executable, "-c", make], check=True, cwd=ROOT)
    weights = 3 * 4 * rnn_size * (rnn_size + 1) * 2 - 4 * rnn_size * (rnn_size - 96)
    weights += 96 * (rnn_size + 1)
    row: dict[str, object] = {
        "model": name,
        "file_mb": source.stat().st_size / 1e6,
        "weights": weights,
    }
    cli = [sys.executable, "-m", "bridge.cli", "-q", "export", str(source)]
    row["export_to_file"] = measure([*cli, "-o", str(work / "out.json")], args.runs)
    row["export"] = measure([*cli, "-o", "-"], args.runs)
    row["export_mb"] = (work / "out.json").stat().st_size / 1e6
    compact = [*cli, "--format", "bridge", "--encoding", "float32"]
    probe = subprocess.run(
        [*compact, "-o", str(work / "out.bridge.json")], capture_output=True
    )
    if probe.returncode == 0:
        row["export_bridge_float32"] = measure(
            [*compact, "-o", str(work / "out.bridge.json")], args.runs
        )
    if not args.skip_torchfile:
        row["torchfile_json"] = measure(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "torchfile_export.py"),
                str(source),
                str(work / "torchfile.json"),
            ],
            args.runs,
        )
    read = measure(["cat", str(source)], args.runs)
    # Values like trained weights, read from a file as rjs-bridge reads
    # its: making them in the floor's process would count work we skip.
    values = work / f"{name}.floor.npy"
    subprocess.run(
        [
            sys.executable,
            "-c",
            _FLOOR_VALUES.format(count=weights, path=str(values)),
        ],
        check=True,
    )
    formatting = measure(
        [sys.executable, str(ROOT / "benchmarks" / "format_floor.py"), str(values)],
        args.runs,
    )
    row["floor"] = {
        "seconds": read["seconds"] + formatting["seconds"],
        "read_seconds": read["seconds"],
        "format_seconds": formatting["seconds"],
    }
    row["load"] = measure(
        python_code(f"import bridge; bridge.load({str(source)!r})"), args.runs
    )
    row["read_in_python"] = measure(
        python_code(
            f"import numpy, lupa, msgspec, click\nopen({str(source)!r}, 'rb').read()"
        ),
        args.runs,
    )
    print_row(row)
    # The next model's timings should not share the disk with this one's files.
    for made in work.iterdir():
        made.unlink()
    return row


def markdown_table(report: dict) -> str:
    """The figures as the README's table (seconds, and peak MB in brackets)."""

    def cell(figures: dict | None) -> str:
        if figures is None:
            return "-"
        return f"{figures['seconds']:.2f} s ({figures['peak_mb']:.0f} MB)"

    lines = [
        "| checkpoint | export | to /dev/null | bridge float32 | torchfile + json "
        "| floor | load / read |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["results"]:
        floor = row["floor"]["seconds"]
        load = row["load"]["seconds"] / row["read_in_python"]["seconds"]
        lines.append(
            f"| {row['model']}, {row['file_mb']:.0f} MB, "
            f"{row['weights'] / 1e6:.1f} M weights "
            f"| {cell(row['export_to_file'])} | {cell(row['export'])} "
            f"| {cell(row.get('export_bridge_float32'))} "
            f"| {cell(row.get('torchfile_json'))} | {floor:.2f} s | {load:.2f}x |"
        )
    lines.append("")
    for row in report["results"]:
        floor = row["floor"]["seconds"]
        parts = [
            f"export to /dev/null {row['export']['seconds'] / floor:.2f}x the floor"
        ]
        if "torchfile_json" in row:
            tf = row["torchfile_json"]["seconds"]
            parts.append(
                f"{tf / row['export_to_file']['seconds']:.1f}x faster than torchfile "
                f"+ json to a file ({tf / row['export']['seconds']:.1f}x to /dev/null)"
            )
        lines.append(f"- {row['model']}: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def print_row(row: dict) -> None:
    export = row["export"]
    floor = row["floor"]
    print(f"\n{row['model']}: {row['file_mb']:.1f} MB file, {row['weights']:,} weights")
    print(f"  {'what':<34} {'seconds':>8} {'peak MB':>8}")
    lines = [
        ("rjs-bridge export -o FILE", row["export_to_file"]),
        ("rjs-bridge export -o - >/dev/null", export),
    ]
    if "export_bridge_float32" in row:
        lines.append(
            ("rjs-bridge export --format bridge f32", row["export_bridge_float32"])
        )
    if "torchfile_json" in row:
        lines.append(("torchfile + json.dump", row["torchfile_json"]))
    lines.append(("bridge.load (process)", row["load"]))
    lines.append(("python + imports + read (process)", row["read_in_python"]))
    for label, figures in lines:
        print(f"  {label:<34} {figures['seconds']:8.3f} {figures['peak_mb']:8.1f}")
    print(
        f"  {'floor: cat + format floats':<34} {floor['seconds']:8.3f}"
        f"   (cat {floor['read_seconds']:.3f} + format {floor['format_seconds']:.3f})"
    )
    ratio = export["seconds"] / floor["seconds"]
    print(f"  export (to /dev/null) / floor: {ratio:.2f}x")
    if "torchfile_json" in row:
        speedup = row["torchfile_json"]["seconds"] / export["seconds"]
        print(f"  torchfile + json / export: {speedup:.1f}x")
    load_ratio = row["load"]["seconds"] / row["read_in_python"]["seconds"]
    print(f"  load / read (same imports): {load_ratio:.2f}x")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()

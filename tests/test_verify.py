"""`rjs-bridge verify`: every export of every fixture passes, and a tampered
or mismatched one fails with exit status 1."""

from __future__ import annotations

import base64
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bridge.cli import cli
from tests.fixture_models import EXPORTS, FIXTURES, exported


def _verify(checkpoint: Path, export: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["verify", str(checkpoint), str(export), *options])


@pytest.mark.parametrize(("name", "fmt", "encoding"), EXPORTS)
def test_verify_passes_every_export(name: str, fmt: str, encoding: str) -> None:
    tolerance = "1e-9" if encoding == "numbers" else "1e-6"

    result = _verify(
        FIXTURES / name, exported(name, fmt, encoding), "--tolerance", tolerance
    )

    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[-1]
        == f"PASS: within the tolerance {float(tolerance):g}"
    )


def test_verify_reports_what_it_fed_and_the_largest_difference() -> None:
    path = exported("pg_lstm_2x64.cuda.t7", "rjs", "numbers")

    result = _verify(FIXTURES / "pg_lstm_2x64.cuda.t7", path)

    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"checkpoint: {FIXTURES / 'pg_lstm_2x64.cuda.t7'} (Torch7 checkpoint, LSTM, "
        "2 layers of 64, 64, 51 tokens)",
        f"export: {path} (RecurrentJS format)",
        "fed 168 tokens: the default text without 'T.PACKMYBOXWIHFVEDZNLQURJGS!&/*=' "
        "(not in the vocabulary), then each of the 51 tokens",
        "largest probability difference: 0",
        "PASS: within the tolerance 1e-09",
    ]


def test_verify_float32_of_float64_weights_needs_a_looser_tolerance() -> None:
    path = exported("lstm_2x20.t7", "bridge", "float32")

    result = _verify(FIXTURES / "lstm_2x20.t7", path)

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[1] == f"export: {path} (rjs-bridge format, float32 weights)"
    assert (
        lines[3] == "largest probability difference: 1.06e-08 (step 174, token '\\n')"
    )
    assert lines[4:] == [
        "FAIL: above the tolerance 1e-09",
        "the export's weights are float32-encoded, which rounds float64 weights: "
        "such an export needs a looser tolerance, such as --tolerance 1e-06",
    ]


def test_verify_float32_of_float32_weights_is_exact() -> None:
    path = exported("torchrnn_lstm_2x32.t7", "bridge", "float32")

    result = _verify(FIXTURES / "torchrnn_lstm_2x32.t7", path)

    assert result.exit_code == 0
    assert "largest probability difference: 0\n" in result.output


def _tamper_numbers(doc: dict[str, Any]) -> None:
    doc["layers"][1]["gates"]["update"]["b"]["data"][7] += 1e-3


def _tamper_float32(doc: dict[str, Any]) -> None:
    matrix = doc["embedding"]
    raw = bytearray(base64.b64decode(matrix["data"]))
    (value,) = struct.unpack_from("<f", raw, 40)
    struct.pack_into("<f", raw, 40, value + 0.01)
    matrix["data"] = base64.b64encode(bytes(raw)).decode()


def _tamper_rjs(doc: dict[str, Any]) -> None:
    doc["model"]["Wch0"]["w"][3] += 1e-3


@pytest.mark.parametrize(
    ("name", "fmt", "encoding", "tamper"),
    [
        ("gru_2x32.t7", "bridge", "numbers", _tamper_numbers),
        ("torchrnn_lstm_bn.t7", "bridge", "float32", _tamper_float32),
        ("torchrnn_lstm_2x32.t7", "rjs", "numbers", _tamper_rjs),
    ],
)
def test_verify_fails_a_tampered_export(
    tmp_path: Path, name: str, fmt: str, encoding: str, tamper: Any
) -> None:
    path = tmp_path / "tampered.json"
    shutil.copy(exported(name, fmt, encoding), path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    tamper(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")

    result = _verify(FIXTURES / name, path, "--tolerance", "1e-6")

    assert result.exit_code == 1
    difference = next(
        line for line in result.output.splitlines() if line.startswith("largest")
    )
    assert float(difference.split()[3]) > 1e-6
    assert "FAIL: above the tolerance 1e-06" in result.output


def test_verify_fails_an_export_of_another_checkpoint() -> None:
    # The float32 copy of lstm_2x20's weights: same shapes, other values.
    path = exported("lstm_2x20.float.t7", "bridge", "numbers")

    result = _verify(FIXTURES / "lstm_2x20.t7", path)

    assert result.exit_code == 1
    assert "note: the export was made from another file (SHA-256 " in result.output
    assert "largest probability difference: 1.68e-08" in result.output
    assert result.output.endswith("FAIL: above the tolerance 1e-09\n")


@pytest.mark.parametrize(
    ("checkpoint", "export", "message"),
    [
        (
            "pg_lstm_2x64.cuda.t7",
            "lstm_2x20.t7",
            "the checkpoint's layers are [64, 64], the export's [20, 20]",
        ),
        ("rnn_2x32.t7", "gru_2x32.t7", "the checkpoint is a RNN, the export a GRU"),
        (
            "torchrnn_rnn.t7",
            "rnn_2x32.t7",
            "the checkpoint's tokens are chars, the export's bytes",
        ),
    ],
)
def test_verify_fails_a_model_of_another_shape(
    checkpoint: str, export: str, message: str
) -> None:
    result = _verify(FIXTURES / checkpoint, exported(export, "bridge", "numbers"))

    assert result.exit_code == 1
    assert result.output.endswith(f"FAIL: {message}\n")


def test_verify_feeds_the_given_text() -> None:
    path = exported("rnn_2x32.t7", "bridge", "numbers")

    result = _verify(FIXTURES / "rnn_2x32.t7", path, "--text", "KING:\nWhat?")

    assert result.exit_code == 0
    assert "fed 11 tokens: the given text\n" in result.output


def test_verify_refuses_given_text_the_vocabulary_lacks() -> None:
    path = exported("pg_lstm_2x64.cuda.t7", "bridge", "numbers")

    result = _verify(FIXTURES / "pg_lstm_2x64.cuda.t7", path, "--text", "the End")

    assert result.exit_code == 1
    assert result.output == (
        "Error: the text's character 5, 'E' (U+0045), is not in the vocabulary "
        "(the model knows 51 tokens)\n"
    )


def test_readme_verify_example_is_real() -> None:
    root = FIXTURES.parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = (
        "rjs-bridge verify examples/pg_lstm_2x64.cuda.t7 "
        "examples/pg_lstm_2x64.cuda.json"
    )
    shown = readme.split(f"$ {command}\n")[1].split("```")[0].splitlines()

    result = _verify(
        root / "examples" / "pg_lstm_2x64.cuda.t7",
        root / "examples" / "pg_lstm_2x64.cuda.json",
    )

    assert result.exit_code == 0
    assert shown == ["...", *result.output.splitlines()[-2:]]


def test_verify_refuses_empty_text() -> None:
    root = FIXTURES.parent.parent
    result = _verify(
        root / "examples" / "pg_lstm_2x64.cuda.t7",
        root / "examples" / "pg_lstm_2x64.cuda.json",
        "--text",
        "",
    )

    assert result.exit_code == 2
    assert "is empty; give text to feed, or leave it out" in result.output

"""`rjs-bridge sample` on every fixture, its checkpoint and its exports.

With --argmax and Torch's priming text, every file must write exactly the
continuation Torch computed (X.greedy.json); with a seed, a checkpoint and
its exports must write the same text.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from bridge.bridgeformat import encode
from bridge.cli import cli
from bridge.models.types import Gate, Layer, RecurrentModel, Source
from tests.builders import saturated_charrnn
from tests.fixture_models import (
    CHECKPOINTS,
    EXPORTS,
    FIXTURES,
    PRIME,
    exported,
    greedy,
)

# Every file: each checkpoint, then each export.
FILES = [(name, None, None) for name in CHECKPOINTS] + EXPORTS


def _path(name: str, fmt: str | None, encoding: str | None) -> Path:
    if fmt is None or encoding is None:
        return FIXTURES / name
    return exported(name, fmt, encoding)


def _sample(path: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["sample", str(path), *options])


@pytest.mark.parametrize(("name", "fmt", "encoding"), FILES)
def test_sample_argmax_writes_torchs_continuation(
    name: str, fmt: str | None, encoding: str | None
) -> None:
    expected = greedy(name)
    # Torch left out the priming characters the vocabulary lacks.
    prime = "".join(c for c in PRIME if c not in expected["skipped_chars"])

    result = _sample(
        _path(name, fmt, encoding), "--argmax", "--primetext", prime, "--length", "200"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == bytes.fromhex(expected["continuation_hex"])
    assert len(result.stdout_bytes) == 200


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_sample_with_a_seed_is_the_same_from_checkpoint_and_exports(name: str) -> None:
    def options(seed: int) -> list[str]:
        return ["--seed", str(seed), "-t", "0.8", "-n", "150", "--primetext", "he"]

    from_checkpoint = _sample(FIXTURES / name, *options(11))
    again = _sample(FIXTURES / name, *options(11))
    other_seed = _sample(FIXTURES / name, *options(12))

    assert from_checkpoint.exit_code == 0, from_checkpoint.output
    assert len(from_checkpoint.stdout_bytes) == 150
    assert again.stdout_bytes == from_checkpoint.stdout_bytes
    assert other_seed.stdout_bytes != from_checkpoint.stdout_bytes
    for export_name, fmt, encoding in EXPORTS:
        if export_name == name:
            result = _sample(exported(name, fmt, encoding), *options(11))
            assert result.stdout_bytes == from_checkpoint.stdout_bytes, (fmt, encoding)


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        (
            "lstm_2x20.t7",
            ["--seed", "1", "-n", "60"],
            b"b\nSyv ooeyah id m ho?; his, pir shny sacc Tom d os,yl, putit",
        ),
        (
            "torchrnn_lstm_bn.t7",
            ["--seed", "7", "-n", "60", "-t", "0.8", "--primetext", "KING:\n"],
            b"Fsqhe wthe san the Toh ste hile ave,\nCne is thele ty the atr",
        ),
    ],
)
def test_sample_writes_the_text_the_sampler_definition_gives(
    name: str, options: list[str], expected: bytes
) -> None:
    result = _sample(FIXTURES / name, *options)

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == expected


def test_sample_without_primetext_starts_from_a_uniform_draw() -> None:
    # Seed 0's first number, 0.2664..., picks the 18th of 65 tokens: 'E'.
    sampled = _sample(FIXTURES / "lstm_2x20.t7", "-n", "1")
    greedy_first = _sample(FIXTURES / "lstm_2x20.t7", "-n", "1", "--argmax")

    assert sampled.stdout_bytes == b"E"
    assert greedy_first.stdout_bytes == b"\n"


def _alternating(tokens: list[bytes] | list[str]) -> RecurrentModel:
    """A tanh RNN over two tokens that always predicts the other one."""
    return RecurrentModel(
        kind="rnn",
        tokens=tokens,
        token_unit="byte" if isinstance(tokens[0], bytes) else "char",
        embedding=None,
        layers=[
            Layer({"hidden": Gate(x=5 * np.eye(2), h=np.zeros((2, 2)), b=np.zeros(2))})
        ],
        decoder_w=np.array([[0.0, 1.0], [1.0, 0.0]]),
        decoder_b=np.zeros(2),
        source=Source("alternating.t7", "test", "none", [], 0),
    )


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        # Byte tokens are written raw: two of them make one UTF-8 character.
        ([b"\xc3", b"\xa9"], "ééé".encode()),
        (["é", "😀"], "😀é😀é😀é".encode()),
    ],
)
def test_sample_writes_tokens_as_bytes_that_decode_as_utf8(
    tmp_path: Path, tokens: list[bytes] | list[str], expected: bytes
) -> None:
    path = tmp_path / "alternating.json"
    path.write_bytes(encode(_alternating(tokens), sha256="0" * 64))

    result = _sample(path, "--argmax", "--primetext", "é", "-n", "6")

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == expected


@pytest.mark.parametrize(
    ("name", "prime", "message"),
    [
        (
            "pg_lstm_2x64.cuda.t7",
            PRIME,
            "Error: the priming text's character 1, 'T' (U+0054), is not in the "
            "vocabulary (the model knows 51 tokens)\n",
        ),
        (
            "torchrnn_rnn.t7",
            "naïve",
            "Error: the priming text's character 3, 'ï' (U+00EF), is not in the "
            "vocabulary (the model knows 65 tokens)\n",
        ),
    ],
)
def test_sample_priming_error_names_the_missing_character(
    name: str, prime: str, message: str
) -> None:
    result = _sample(FIXTURES / name, "--primetext", prime)

    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert result.output == message


def test_sample_priming_error_from_an_export_is_the_same() -> None:
    path = exported("pg_lstm_2x64.cuda.t7", "rjs", "numbers")

    result = _sample(path, "--primetext", "the end.")

    assert result.exit_code == 1
    assert "character 8, '.' (U+002E), is not in the vocabulary" in result.output


def test_sample_length_zero_writes_nothing() -> None:
    result = _sample(FIXTURES / "gru_2x32.t7", "--length", "0")

    assert result.exit_code == 0
    assert result.stdout_bytes == b""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--temperature", "0"], "0.0 is not in the range 1e-06<=x<=1000000.0"),
        (["--length", "-1"], "-1 is not in the range x>=0"),
    ],
)
def test_sample_refuses_bad_options(options: list[str], message: str) -> None:
    result = _sample(FIXTURES / "gru_2x32.t7", *options)

    assert result.exit_code == 2
    assert message in result.output


def test_sample_a_file_that_is_no_model_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"generator": "lstm"}')

    result = _sample(path)

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: not a RecurrentJS model: ")


def test_readme_sample_example_is_real() -> None:
    root = FIXTURES.parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = (
        "rjs-bridge sample examples/pg_lstm_2x64.cuda.t7 --argmax "
        "--primetext 'the best ' --length 60"
    )
    assert f"$ {command}\n" in readme

    result = _sample(
        root / "examples" / "pg_lstm_2x64.cuda.t7",
        "--argmax",
        "--primetext",
        "the best ",
        "--length",
        "60",
    )

    # The README drops the trailing space the continuation ends with.
    assert result.stdout_bytes.decode().rstrip(" ") + "\n" in readme.split(command)[1]


def test_sample_refuses_scores_that_overflow_to_nan(tmp_path: Path) -> None:
    # Finite weights of 1.5e308: the export holds them, but the first step's
    # sums overflow and the scores come out NaN.
    model = saturated_charrnn(tmp_path / "overflowing.t7", 1.5e308)
    export = CliRunner().invoke(cli, ["-q", "export", str(model)])
    assert export.exit_code == 0, export.output

    for path in (model, model.with_suffix(".json")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = _sample(path, "-n", "5")

        assert result.exit_code == 1
        # "E" comes from the uniform start; after it the scores are extreme
        # but finite, and after the newline they are not.
        assert result.stdout_bytes == b"E\n"
        assert result.stderr == (
            f"Error: {path}: after 2 tokens the model's scores include NaN and "
            "infinity: its "
            "weights are too large for float64 arithmetic, so there is no "
            "distribution to sample from\n"
        )


def test_sample_of_saturated_gates_is_quiet_and_the_same_from_the_export(
    tmp_path: Path,
) -> None:
    # Weights of 1e300 keep every sum finite; only the gates' exponentials
    # overflow, to the 0 and 1 they should give.
    model = saturated_charrnn(tmp_path / "saturated.t7", 1e300)
    export = CliRunner().invoke(cli, ["-q", "export", str(model)])
    assert export.exit_code == 0, export.output

    texts = []
    for path in (model, model.with_suffix(".json")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = _sample(path, "-n", "200", "--seed", "3")
        assert result.exit_code == 0, result.output
        texts.append(result.stdout)

    assert texts[0] == texts[1]
    assert len(texts[0]) == 200

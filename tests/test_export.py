"""`rjs-bridge export` on the real char-rnn checkpoints Torch wrote.

Each export is run through an independent NumPy RecurrentJS and must give
Torch's own next-character probabilities (golden files computed by Torch in
double precision) to within 1e-9 at every step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bridge.cli import cli
from bridge.export import export
from bridge.recurrentjs.mapping import NO_BOUNDARY, Boundary
from tests.recurrentjs_reference import RecurrentJSLSTM

FIXTURES = Path(__file__).parent / "fixtures"

# checkpoint -> golden file of Torch's probabilities for its weights.
LSTM_CHECKPOINTS = {
    "lstm_2x20.t7": "lstm_2x20.golden.json",
    "lstm_2x20.float.t7": "lstm_2x20.float.golden.json",
    "lstm_2x20.cuda.t7": "lstm_2x20.float.golden.json",
    "lstm_3x128.t7": "lstm_3x128.golden.json",
    "lstm_3x128.float.t7": "lstm_3x128.float.golden.json",
    "lstm_3x128.cuda.t7": "lstm_3x128.float.golden.json",
    "lstm_1x16_dropout.t7": "lstm_1x16_dropout.golden.json",
    "pg_lstm_2x64.cuda.t7": "pg_lstm_2x64.float.golden.json",
    "torchrnn_lstm_2x32.t7": "torchrnn_lstm_2x32.golden.json",
    "torchrnn_lstm_bn.t7": "torchrnn_lstm_bn.golden.json",
}


def _export(tmp_path: Path, name: str, **options: object) -> dict:
    out = tmp_path / (Path(name).stem + ".json")
    export(FIXTURES / name, out, **options)  # type: ignore[arg-type]
    return json.loads(out.read_text(encoding="utf-8"))


def _max_error(exported: dict, golden: dict) -> float:
    """Feed the golden text to the exported model; compare with Torch."""
    net = RecurrentJSLSTM(exported)
    # char-rnn tokens are bytes, shown as Latin-1; torch-rnn's are characters.
    bytewise = golden.get("source") == "karpathy/char-rnn"
    vocab = [
        bytes.fromhex(h).decode("latin-1" if bytewise else "utf-8")
        for h in golden["vocab_hex"]
    ]
    worst = 0.0
    for step, torch_index in enumerate(golden["inputs"]):
        token = exported["letterToIndex"][vocab[torch_index - 1]]
        probs = net.probs(token)
        # Back to Torch's order: the probability of vocab[i] for each i.
        ours = np.array([probs[exported["letterToIndex"][ch]] for ch in vocab])
        worst = max(worst, float(np.abs(ours - golden["probs_double"][step]).max()))
    return worst


@pytest.mark.parametrize("name", sorted(LSTM_CHECKPOINTS))
def test_export_matches_torch_probabilities(tmp_path: Path, name: str) -> None:
    golden = json.loads((FIXTURES / LSTM_CHECKPOINTS[name]).read_text())
    exported = _export(tmp_path, name)

    assert len(golden["inputs"]) == len(golden["probs_double"]) > 50
    assert _max_error(exported, golden) < 1e-9


@pytest.mark.parametrize("name", ["lstm_2x20.t7", "pg_lstm_2x64.cuda.t7"])
def test_export_without_boundary_matches_torch(tmp_path: Path, name: str) -> None:
    golden = json.loads((FIXTURES / LSTM_CHECKPOINTS[name]).read_text())
    exported = _export(tmp_path, name, boundary=NO_BOUNDARY)

    # Token 0 is inert: a zero input and a probability of exactly 0.
    assert "\n" in exported["letterToIndex"]
    assert exported["letterToIndex"]["\n"] != 0
    assert not any(exported["model"]["Wil"]["w"][: exported["letter_size"]])
    net = RecurrentJSLSTM(exported)
    assert net.probs(1)[0] == 0.0
    assert _max_error(exported, golden) < 1e-9


def test_export_with_other_boundary_matches_torch(tmp_path: Path) -> None:
    golden = json.loads((FIXTURES / "lstm_2x20.golden.json").read_text())
    exported = _export(tmp_path, "lstm_2x20.t7", boundary=Boundary("."))

    assert exported["letterToIndex"]["."] == 0
    assert exported["indexToLetter"]["0"] == "."
    assert _max_error(exported, golden) < 1e-9


def test_export_demo_sentence_is_torchs_argmax(tmp_path: Path) -> None:
    exported = _export(tmp_path, "pg_lstm_2x64.cuda.t7")
    expected = (FIXTURES / "pg_lstm_2x64.float.greedy.txt").read_text()

    sentence = RecurrentJSLSTM(exported).predict_sentence()

    assert sentence == expected.rstrip("\n")
    assert len(sentence) == 101


def test_export_layout_is_recurrentjs_order(tmp_path: Path) -> None:
    exported = _export(tmp_path, "lstm_2x20.t7")

    assert list(exported) == [
        "hidden_sizes",
        "generator",
        "letter_size",
        "model",
        "solver",
        "letterToIndex",
        "indexToLetter",
        "vocab",
    ]
    per_layer = ["Wix", "Wih", "bi", "Wfx", "Wfh", "bf"]
    per_layer += ["Wox", "Woh", "bo", "Wcx", "Wch", "bc"]
    expected = ["Wil"] + [f"{n}{d}" for d in (0, 1) for n in per_layer]
    assert list(exported["model"]) == [*expected, "Whd", "bd"]
    assert exported["hidden_sizes"] == [20, 20]
    assert exported["letter_size"] == 65
    assert exported["solver"] == {
        "decay_rate": 0.999,
        "smooth_eps": 1e-8,
        "step_cache": {},
    }
    shapes = {k: (v["n"], v["d"]) for k, v in exported["model"].items()}
    assert shapes["Wil"] == (65, 65)
    assert shapes["Wix0"] == (20, 65)
    assert shapes["Wih1"] == (20, 20)
    assert shapes["bc1"] == (20, 1)
    assert shapes["Whd"] == (65, 20)
    # Newline is token 0; the others keep the checkpoint's order.
    assert exported["letterToIndex"]["\n"] == 0
    assert exported["vocab"][:4] == [" ", "!", "$", "&"]
    assert exported["indexToLetter"]["1"] == " "


def test_export_keeps_torch_values_exactly(tmp_path: Path) -> None:
    import bridge

    exported = _export(tmp_path, "lstm_2x20.cuda.t7")
    rnn = bridge.load(FIXTURES / "lstm_2x20.cuda.t7")["protos"]["rnn"]
    i2h = next(
        m for m in rnn.modules.values() if m.torch_class == "nn.Linear"
    )  # the first Linear of the flattened modules is layer 1's i2h
    h2h_bias = [m for m in rnn.modules.values() if m.torch_class == "nn.Linear"][1].bias

    wfx0 = np.array(exported["model"]["Wfx0"]["w"]).reshape(20, 65)
    assert np.array_equal(wfx0, i2h.weight[20:40].astype(np.float64))
    bf0 = np.array(exported["model"]["bf0"]["w"])
    expected = i2h.bias[20:40].astype(np.float64) + h2h_bias[20:40].astype(np.float64)
    assert np.array_equal(bf0, expected)


def test_export_cli_default_output_and_summary(tmp_path: Path) -> None:
    source = tmp_path / "lm_lstm_epoch30.00_1.2345.t7"
    source.write_bytes((FIXTURES / "pg_lstm_2x64.cuda.t7").read_bytes())

    result = CliRunner().invoke(cli, ["export", str(source)])

    assert result.exit_code == 0, result.output
    out = tmp_path / "lm_lstm_epoch30.00_1.2345.json"
    assert json.loads(out.read_text())["hidden_sizes"] == [64, 64]
    assert "LSTM, 2 layers of 64, 64, vocabulary 51 (token 0 = '\\n')" in result.output
    assert "66,547 parameters (torch.CudaTensor)" in result.output


def test_export_cli_to_stdout(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["-q", "export", str(FIXTURES / "lstm_1x16_dropout.t7"), "-o", "-"]
    )

    assert result.exit_code == 0
    assert json.loads(result.stdout)["hidden_sizes"] == [16]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gru_2x32.t7", "this is a GRU model; RecurrentJS runs LSTMs only"),
        ("rnn_2x32.t7", "this is an RNN model; RecurrentJS runs LSTMs only"),
        ("torchrnn_rnn.t7", "Use --format bridge, which holds it exactly"),
    ],
)
def test_export_refuses_other_models_and_writes_nothing(
    tmp_path: Path, name: str, message: str
) -> None:
    out = tmp_path / "out.json"

    result = CliRunner().invoke(cli, ["export", str(FIXTURES / name), "-o", str(out)])

    assert result.exit_code == 1
    assert f"Error: {FIXTURES / name}" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_failure_keeps_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("precious")

    result = CliRunner().invoke(
        cli, ["export", str(FIXTURES / "rnn_2x32.t7"), "-o", str(out)]
    )

    assert result.exit_code == 1
    assert out.read_text() == "precious"
    assert list(tmp_path.iterdir()) == [out]


def test_export_refuses_to_overwrite_input(tmp_path: Path) -> None:
    source = tmp_path / "m.t7"
    source.write_bytes((FIXTURES / "lstm_2x20.t7").read_bytes())

    result = CliRunner().invoke(cli, ["export", str(source), "-o", str(source)])

    assert result.exit_code == 1
    assert "refusing to overwrite the input file" in result.output
    assert source.read_bytes() == (FIXTURES / "lstm_2x20.t7").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n", "Git LFS"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML page"),
        (b"PK\x03\x04" + bytes(40), "zip archive"),
        (b"\x80\x02\x8a\x0alz\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M", "Python pickle"),
        (b"hello, this is a text file\n", "text file"),
    ],
)
def test_export_not_a_torch_file(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "model.t7"
    source.write_bytes(content)

    result = CliRunner().invoke(cli, ["export", str(source)])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {source}: ")
    assert message in result.output
    assert not (tmp_path / "model.json").exists()


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (150_000, "byte 132480, at <root>.protos.rnn.innode.data.reverseMap"),
        (
            150_000,
            "torch.DoubleStorage claims 11685 elements (93480 bytes) but "
            "only 17512 bytes follow",
        ),
        (20, "byte 8, at <root>: table claims 8 entries but only 8 bytes follow"),
    ],
)
def test_export_truncated_checkpoint_names_byte(
    tmp_path: Path, cut: int, message: str
) -> None:
    data = (FIXTURES / "lstm_2x20.t7").read_bytes()
    source = tmp_path / "cut.t7"
    source.write_bytes(data[:cut])

    result = CliRunner().invoke(cli, ["export", str(source)])

    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "cut.json").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["export", "--boundary", "ab"],
            "Error: Invalid value for '--boundary': 'ab' is not one character; use "
            "a character such as '.', or an escape such as '\\n' or '\\x0a'\n",
        ),
        (
            ["inspect", "--depth", "-1"],
            "Error: Invalid value for '--depth': -1 is not in the range x>=0.\n",
        ),
    ],
    ids=["boundary", "depth"],
)
def test_bad_option_values_name_their_option(
    arguments: list[str], message: str
) -> None:
    command, *options = arguments
    model = str(FIXTURES / "lstm_2x20.t7")

    result = CliRunner().invoke(cli, [command, model, *options])

    assert result.exit_code == 2
    assert result.stderr.endswith(message)

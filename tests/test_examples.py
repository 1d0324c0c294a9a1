"""The README's example stays true: its command makes the committed JSON."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bridge.cli import cli

ROOT = Path(__file__).parent.parent


def test_readme_first_command_makes_the_committed_example(tmp_path: Path) -> None:
    source = tmp_path / "pg_lstm_2x64.cuda.t7"
    source.write_bytes((ROOT / "examples" / "pg_lstm_2x64.cuda.t7").read_bytes())

    result = CliRunner().invoke(cli, ["export", str(source)])

    assert result.exit_code == 0, result.output
    made = (tmp_path / "pg_lstm_2x64.cuda.json").read_bytes()
    assert made == (ROOT / "examples" / "pg_lstm_2x64.cuda.json").read_bytes()


def test_readme_shows_the_real_summary_and_sentence() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = ROOT / "tests" / "fixtures" / "pg_lstm_2x64.float.greedy.txt"

    assert sentence.read_text().strip() in readme
    assert (
        "LSTM, 2 layers of 64, 64, vocabulary 51 (token 0 = '\\n'), 66,547 "
        "parameters (torch.CudaTensor) -> examples/pg_lstm_2x64.cuda.json, 1.3 MB"
    ) in readme
    # The README starts with the two commands, before any other block.
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    assert readme.index("```sh\n") < readme.index("## ")
    assert first_block.splitlines() == [
        "pip install . && rjs-bridge export examples/pg_lstm_2x64.cuda.t7",
        "pip install '.[test]' && python -m pytest",
    ]

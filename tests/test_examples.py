"""The README's example stays true: its command makes the committed JSON."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
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


def _writing_transcripts(readme: str) -> list[tuple[str, str]]:
    """The README's ``$ rjs-bridge export|page|to-cpu ...`` lines, each with
    the line it shows printed."""
    lines = readme.splitlines()
    return [
        (line[2:], lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith(
            ("$ rjs-bridge export", "$ rjs-bridge page", "$ rjs-bridge to-cpu")
        )
    ]


def test_readme_transcripts_show_what_the_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from the repository as the README does, but write into tmp_path.
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    transcripts = _writing_transcripts(readme)
    assert len(transcripts) == 5

    for command, shown in transcripts:
        arguments = shlex.split(command)[1:]
        target = None
        if "-o" in arguments:
            at = arguments.index("-o") + 1
            target = arguments[at]
            arguments[at] = str(tmp_path / target)
        elif not shown.startswith("Error: "):
            found = re.search(r" -> (\S+), ", shown)
            assert found, shown
            target = found.group(1)
            arguments += ["-o", str(tmp_path / Path(target).name)]

        result = CliRunner().invoke(cli, arguments)

        printed = result.stderr.rstrip("\n")
        if target is not None:
            written = arguments[arguments.index("-o") + 1]
            printed = printed.replace(written, target)
        # Only the seconds may differ.
        seconds = re.compile(r"\d+\.\d\d s$")
        assert seconds.sub("", printed) == seconds.sub("", shown), command

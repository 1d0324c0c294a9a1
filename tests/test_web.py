"""The JavaScript runtime (bridge/web/runtime.js), run by Node on exports of the
Torch-written fixtures, and the page and server around it.

Each fixture is exported with the Python API, once per format and encoding,
and Node feeds the golden text through the export: it must give Torch's own
next-character probabilities (``probs_double``) within 1e-9 from exact JSON
numbers and within 1e-6 from float32 weights. Sampling must give, token for
token, what ``rjs-bridge sample`` writes for the same seed, and argmax must
give Torch's own greedy continuation.

Exports the exporter refuses (UnsupportedError: a model kind it does not
handle yet) are expected failures that turn into passes when it does.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bridge.bridgeformat.encode import Encoding
from bridge.cli import cli
from bridge.errors import UnsupportedError
from bridge.export import Format, export
from bridge.output import size_text
from bridge.runtime import Mulberry32
from bridge.t7.backends import ReaderChoice
from bridge.web import load_page_model, page_server, render_page
from tests.builders import saturated_charrnn

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
JS = HERE / "js"
OUTPUT = HERE / "output"

# Every checkpoint -> the golden file of Torch's probabilities for its
# weights (a GPU-typed file's weights are those of its .float twin).
CHECKPOINTS = {
    "lstm_2x20.t7": "lstm_2x20.golden.json",
    "lstm_2x20.float.t7": "lstm_2x20.float.golden.json",
    "lstm_2x20.cuda.t7": "lstm_2x20.float.golden.json",
    "lstm_3x128.t7": "lstm_3x128.golden.json",
    "lstm_3x128.float.t7": "lstm_3x128.float.golden.json",
    "lstm_3x128.cuda.t7": "lstm_3x128.float.golden.json",
    "lstm_1x16_dropout.t7": "lstm_1x16_dropout.golden.json",
    "pg_lstm_2x64.cuda.t7": "pg_lstm_2x64.float.golden.json",
    "gru_2x32.t7": "gru_2x32.golden.json",
    "rnn_2x32.t7": "rnn_2x32.golden.json",
    "torchrnn_lstm_2x32.t7": "torchrnn_lstm_2x32.golden.json",
    "torchrnn_lstm_bn.t7": "torchrnn_lstm_bn.golden.json",
}
# Torch's argmax continuation, computed in double from the checkpoint's
# weights (so not for the float32-rounded .float and .cuda twins, except the
# one checkpoint that only exists GPU-typed).
GREEDY = {
    "lstm_2x20.t7": "lstm_2x20.greedy.json",
    "lstm_3x128.t7": "lstm_3x128.greedy.json",
    "lstm_1x16_dropout.t7": "lstm_1x16_dropout.greedy.json",
    "pg_lstm_2x64.cuda.t7": "pg_lstm_2x64.float.greedy.json",
    "gru_2x32.t7": "gru_2x32.greedy.json",
    "rnn_2x32.t7": "rnn_2x32.greedy.json",
    "torchrnn_lstm_2x32.t7": "torchrnn_lstm_2x32.greedy.json",
    "torchrnn_lstm_bn.t7": "torchrnn_lstm_bn.greedy.json",
}
# RecurrentJS's format holds LSTMs only, by design.
LSTMS = [name for name in CHECKPOINTS if "lstm" in name]

# (format, encoding) of every export the runtime reads.
EXPORTS: list[tuple[Format, Encoding]] = [
    ("bridge", "numbers"),
    ("bridge", "float32"),
    ("rjs", "numbers"),
]
TOLERANCE = {"numbers": 1e-9, "float32": 1e-6}

CASES = [
    pytest.param(name, fmt, encoding, id=f"{name}-{fmt}-{encoding}")
    for name in CHECKPOINTS
    for fmt, encoding in EXPORTS
    if fmt == "bridge" or name in LSTMS
]

NODE = shutil.which("node")
# CI installs Node; only a developer's machine may lack it.
needs_node = pytest.mark.skipif(
    NODE is None and not os.environ.get("CI"),
    reason="Node.js is not installed (CI installs it): the runtime runs in Node",
)

# The largest differences measured, written to tests/output/ at the end.
_MEASURED: dict[str, float] = {}


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Path]]:
    """Export a fixture (once per format and encoding); returns the JSON's path.

    A model kind the exporter refuses makes the calling test an expected
    failure.
    """
    folder = tmp_path_factory.mktemp("exports")
    done: dict[tuple[str, str, str], Path | UnsupportedError] = {}

    def get(name: str, fmt: Format, encoding: Encoding) -> Path:
        key = (name, fmt, encoding)
        if key not in done:
            out = folder / f"{Path(name).stem}.{fmt}.{encoding}.json"
            try:
                export(FIXTURES / name, out, format=fmt, encoding=encoding)
                done[key] = out
            except UnsupportedError as e:
                done[key] = e
        result = done[key]
        if isinstance(result, UnsupportedError):
            pytest.xfail(f"the exporter refuses it: {result}")
        return result

    yield get
    if _MEASURED:
        OUTPUT.mkdir(exist_ok=True)
        lines = [f"{case}\t{diff:.3g}" for case, diff in sorted(_MEASURED.items())]
        (OUTPUT / "runtime_max_differences.tsv").write_text("\n".join(lines) + "\n")


def _node(script: str, *args: str) -> Any:
    assert NODE is not None, "Node.js is needed (CI installs it)"
    done = subprocess.run(
        [NODE, str(JS / script), *args],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _sample(model: Path, *options: str) -> str:
    """What ``rjs-bridge sample MODEL OPTIONS`` writes, as text."""
    result = CliRunner().invoke(cli, ["sample", str(model), *options])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8", "replace")


def _golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / CHECKPOINTS[name]).read_text())
    return data


@needs_node
def test_runtime_unit_tests_pass_in_node() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", str(JS)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# fail 0$", done.stdout, re.MULTILINE)


@needs_node
@pytest.mark.parametrize(("name", "fmt", "encoding"), CASES)
def test_runtime_gives_torchs_probabilities(
    exported: Callable[..., Path], name: str, fmt: Format, encoding: Encoding
) -> None:
    path = exported(name, fmt, encoding)
    golden = _golden(name)

    out = json.loads(_node("probabilities.js", str(path), golden["text"]))

    assert out["skipped"] == []
    assert out["tokens"] == [i - 1 for i in golden["inputs"]]
    diff = float(np.abs(np.array(out["probs"]) - golden["probs_double"]).max())
    _MEASURED[f"{name}\t{fmt}\t{encoding}"] = diff
    assert diff < TOLERANCE[encoding]


@needs_node
@pytest.mark.parametrize(("name", "fmt", "encoding"), CASES)
def test_runtime_samples_what_rjs_bridge_sample_writes(
    exported: Callable[..., Path], name: str, fmt: Format, encoding: Encoding
) -> None:
    path = exported(name, fmt, encoding)
    prime = _golden(name)["text"]
    settings = {"prime": prime, "length": 300, "temperature": 0.8, "seed": 20261203}

    ours = _node("sample.js", str(path), json.dumps(settings)).decode()
    expected = _sample(
        path, "--primetext", prime, "-n", "300", "-t", "0.8", "--seed", "20261203"
    )

    assert ours == expected
    assert len(ours) == 300


@needs_node
@pytest.mark.parametrize("name", GREEDY)
def test_runtime_argmax_writes_torchs_greedy_text(
    exported: Callable[..., Path], name: str
) -> None:
    greedy = json.loads((FIXTURES / GREEDY[name]).read_text())
    prime = "".join(ch for ch in greedy["prime"] if ch not in greedy["skipped_chars"])
    settings = {"prime": prime, "length": greedy["length"], "argmax": True}

    path = exported(name, "bridge", "numbers")

    ours = _node("sample.js", str(path), json.dumps(settings))

    assert ours == bytes.fromhex(greedy["continuation_hex"])


@needs_node
def test_runtime_refuses_to_sample_scores_that_overflow(tmp_path: Path) -> None:
    model = saturated_charrnn(tmp_path / "overflowing.t7", 1.5e308)
    export(model, tmp_path / "overflowing.json")
    settings = {"prime": "", "length": 5, "seed": 0}
    assert NODE is not None

    done = subprocess.run(
        [
            NODE,
            str(JS / "sample.js"),
            str(tmp_path / "overflowing.json"),
            json.dumps(settings),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 1
    # Which non-numbers come first depends on the order of the sums, which
    # NumPy's BLAS and the runtime's loops do not share.
    assert re.search(
        r"RangeError: the model's scores include (NaN|infinity|NaN and infinity): "
        "its weights are too large for double arithmetic, so there is no "
        "distribution to sample from\n",
        done.stderr.decode(),
    )


@needs_node
def test_runtime_recurrentjs_and_bridge_exports_sample_alike(
    exported: Callable[..., Path],
) -> None:
    # torch-rnn numbers characters as they first appear, so the newline that
    # RecurrentJS's token 0 takes is 12th in the checkpoint: the export
    # records where, and the runtime puts it back.
    settings = json.dumps({"prime": "", "length": 500, "temperature": 1.3, "seed": 5})
    name = "torchrnn_lstm_2x32.t7"

    from_rjs = _node("sample.js", str(exported(name, "rjs", "numbers")), settings)
    from_bridge = _node("sample.js", str(exported(name, "bridge", "numbers")), settings)

    assert from_rjs == from_bridge
    assert b"\n" in from_rjs


@needs_node
def test_runtime_mulberry32_draws_pythons_numbers() -> None:
    seeds = [0, 1, 7, 2**31, 2**32 - 1, 2**32 + 9, -1, -(2**40), 2**70 + 3]
    code = (
        "const R = require(process.argv[1]);"
        "const out = process.argv.slice(2).map((s) => {"
        "  const r = R.mulberry32(BigInt(s));"
        "  return Array.from({length: 1000}, () => r()); });"
        "process.stdout.write(JSON.stringify(out));"
    )
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", code, str(HERE.parent / "bridge/web/runtime.js")]
        + [str(s) for s in seeds],
        capture_output=True,
        check=True,
        timeout=60,
    )
    ours = json.loads(done.stdout)

    for seed, values in zip(seeds, ours, strict=True):
        python = Mulberry32(seed)
        assert values == [python.next() for _ in range(1000)], seed


# ---- The page ----------------------------------------------------------------


def _embedded(page: str) -> Any:
    found = re.search(
        r'<script id="model" type="application/json">(.*?)</script>', page, re.DOTALL
    )
    assert found is not None
    return json.loads(found.group(1))


def test_page_from_checkpoint_embeds_the_float32_export(tmp_path: Path) -> None:
    name = "pg_lstm_2x64.cuda.t7"
    export(FIXTURES / name, tmp_path / "m.json", format="bridge", encoding="float32")

    page = render_page(load_page_model(FIXTURES / name))

    assert _embedded(page) == json.loads((tmp_path / "m.json").read_text())


def test_page_keeps_tiny_models_exact() -> None:
    # 6,385 parameters: JSON numbers cost little and keep every bit.
    model = load_page_model(FIXTURES / "lstm_1x16_dropout.t7")

    assert model.encoding == "numbers"
    assert _embedded(render_page(model))["decoder"]["w"]["encoding"] == "numbers"


def test_page_embeds_a_json_export_as_it_is(exported: Callable[..., Path]) -> None:
    rjs = exported("lstm_2x20.t7", "rjs", "numbers")
    compact = exported("lstm_3x128.t7", "bridge", "float32")

    assert _embedded(render_page(load_page_model(rjs))) == json.loads(rjs.read_text())
    assert _embedded(render_page(load_page_model(compact))) == json.loads(
        compact.read_text()
    )


def test_page_makes_no_request_and_loads_nothing() -> None:
    page = render_page(load_page_model(FIXTURES / "lstm_2x20.t7"))

    assert "://" not in page
    assert not re.search(r"\b(src|href|action)\s*=", page, re.IGNORECASE)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="(.*?)"', page)
    assert policy is not None
    assert policy.group(1).startswith("default-src 'none'; script-src 'unsafe-inline';")
    # Our three inline scripts (model, runtime, controls) and one style.
    assert page.count("<script") == 3
    assert page.count("<style>") == 1


def test_page_says_what_the_model_is() -> None:
    page = render_page(load_page_model(FIXTURES / "pg_lstm_2x64.cuda.t7"))

    assert "<title>pg_lstm_2x64.cuda.t7</title>" in page
    assert '<p class="facts">LSTM · 2 layers of 64 · vocabulary of 51 bytes</p>' in page
    assert "<dt>Parameters</dt><dd>66,547, as Torch counts them</dd>" in page
    assert "<dt>Tensor types</dt><dd>torch.CudaTensor</dd>" in page
    weights = "float32 in base64 (biases as exact numbers)"
    assert f"<dt>Weights here</dt><dd>{weights}</dd>" in page


def test_page_text_cannot_close_its_script(
    exported: Callable[..., Path], tmp_path: Path
) -> None:
    doc = json.loads(exported("lstm_2x20.t7", "bridge", "numbers").read_text())
    doc["source"]["file"] = "<img src=x onerror=alert(1)>.t7"
    doc["source"]["options"]["note"] = "</script><script>alert(2)</script><!--"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))

    page = render_page(load_page_model(path))

    assert "<img" not in page
    assert "<script>alert" not in page
    assert "<!--" not in page
    assert "<title>&lt;img src=x onerror=alert(1)&gt;.t7</title>" in page
    assert _embedded(page)["source"] == doc["source"]


def test_page_command_writes_the_page_and_a_summary(tmp_path: Path) -> None:
    model = tmp_path / "lm.t7"
    shutil.copy(FIXTURES / "lstm_3x128.cuda.t7", model)

    result = CliRunner().invoke(cli, ["page", str(model)])

    assert result.exit_code == 0, result.output
    page = (tmp_path / "lm.html").read_text(encoding="utf-8")
    where = re.escape(str(tmp_path / "lm.html"))
    size = re.escape(size_text((tmp_path / "lm.html").stat().st_size))
    assert re.fullmatch(
        rf"LSTM, 3 layers of 128, vocabulary 65, weights as float32 -> {where}, "
        rf"{size}, \d+\.\d\d s\n",
        result.stderr,
    )
    assert result.stdout == ""
    assert _embedded(page)["kind"] == "lstm"


def test_page_command_exact_weights_on_request(tmp_path: Path) -> None:
    out = tmp_path / "exact.html"
    model = FIXTURES / "lstm_3x128.t7"

    result = CliRunner().invoke(
        cli, ["page", str(model), "-o", str(out), "--encoding", "numbers"]
    )

    assert result.exit_code == 0, result.output
    embedded = _embedded(out.read_text(encoding="utf-8"))
    assert embedded["layers"][2]["gates"]["forget"]["h"]["encoding"] == "numbers"
    assert "weights as JSON numbers" in result.stderr


def test_page_command_reads_with_the_backend_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "embedded.html"
    model = FIXTURES / "lstm_2x20.t7"

    result = CliRunner().invoke(
        cli, ["page", str(model), "-o", str(out), "--backend", "embedded"]
    )

    assert result.exit_code == 0, result.output
    expected = render_page(load_page_model(model, reader=ReaderChoice("embedded")))
    assert out.read_text(encoding="utf-8") == expected


def test_page_command_refuses_a_file_that_is_no_model(tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": "world"}')
    out = tmp_path / "notes.html"

    result = CliRunner().invoke(cli, ["page", str(notes), "-o", str(out)])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {notes}: ")
    assert "Traceback" not in result.output
    assert not out.exists()


def test_page_command_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    model = tmp_path / "m.t7"
    shutil.copy(FIXTURES / "lstm_2x20.t7", model)

    result = CliRunner().invoke(cli, ["page", str(model), "-o", str(model)])

    assert result.exit_code == 1
    assert "refusing to overwrite the input file" in result.output
    assert model.read_bytes() == (FIXTURES / "lstm_2x20.t7").read_bytes()


# ---- The server ----------------------------------------------------------------


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_page_server_answers_the_page_on_loopback_only() -> None:
    page = b"<!doctype html><title>t</title>"
    server = page_server(page, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        status, headers, body = _get(f"http://127.0.0.1:{port}/")
        missing, _, _ = _get(f"http://127.0.0.1:{port}/model.json")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    assert host == "127.0.0.1"
    assert (status, body) == (200, page)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'none';")
    assert missing == 404


def test_serve_command_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(
            cli, ["serve", str(FIXTURES / "lstm_2x20.t7"), "--port", str(port)]
        )

    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot serve on 127.0.0.1:{port}: Address already in use\n"
    )


def test_serve_command_serves_the_page_until_stopped() -> None:
    model = FIXTURES / "lstm_2x20.t7"
    expected = render_page(load_page_model(model)).encode()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "serve", str(model), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "serve printed no address within 60 s"
        url = process.stdout.readline().decode().strip()
        status, _, body = _get(url)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    assert status == 200
    assert body == expected

"""The page in a real browser: Debian's Chromium, headless, driven by Playwright.

Each test writes a page with ``rjs-bridge page``, opens it from ``file://``,
types into it as a person would, and reads the text it generates: it must
be what ``rjs-bridge sample`` writes for the same model, seed and settings,
or Torch's own argmax continuation. Screenshots of the page go to
tests/output/ (kept by CI, not committed).

Without Chromium or Playwright the tests are skipped on a developer's
machine; CI installs both (.ci/run), and there a missing browser fails.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli import cli
from bridge.export import export

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
OUTPUT = HERE / "output"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A quiet, throwaway browser: no sandbox (CI runs as root), no GPU, and
# nothing that phones home. Playwright gives it a fresh profile each launch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generation of 200 tokens takes well under a second; this bounds a hang.
GENERATION_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium, shared by the tests of this module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install playwright)")
    if CHROMIUM is None:
        _missing("Chromium is not installed (apt-get install chromium)")

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


class Page:
    """A generated page open in the browser, with what it asked the network
    for and what it logged as errors."""

    def __init__(self, browser: Any, path: Path, width: int = 1000) -> None:
        self.tab = browser.new_page(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.tab.on("request", lambda r: self.requests.append(r.url))
        self.tab.on("pageerror", lambda e: self.errors.append(str(e)))
        self.tab.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.url = path.resolve().as_uri()
        self.tab.goto(self.url)
        self.tab.wait_for_selector("#status:has-text('Ready.')")

    def generate(
        self,
        prime: str,
        length: int,
        *,
        temperature: float = 1.0,
        seed: int = 0,
        argmax: bool = False,
    ) -> str:
        """Fill in the form, press Generate, and return the continuation."""
        tab = self.tab
        tab.fill("#prime", prime)
        tab.fill("#length", str(length))
        tab.check("input[name=mode][value=argmax]" if argmax else "input[value=sample]")
        if not argmax:
            tab.fill("#temperature", str(temperature))
            tab.fill("#seed", str(seed))
        tab.click("#generate")
        tab.wait_for_selector("#output[data-state=done]", timeout=GENERATION_TIMEOUT_MS)
        text: str = tab.text_content("#continuation")
        return text

    def screenshot(self, name: str) -> None:
        OUTPUT.mkdir(exist_ok=True)
        self.tab.screenshot(path=str(OUTPUT / name), full_page=True)

    def close(self) -> None:
        self.tab.close()


def _page(model: Path, out: Path, *options: str) -> Path:
    result = CliRunner().invoke(cli, ["page", str(model), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    return out


def _sample(model: Path, *options: str) -> str:
    """What ``rjs-bridge sample MODEL OPTIONS`` writes, as text."""
    result = CliRunner().invoke(cli, ["sample", str(model), *options])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8", "replace")


def test_page_samples_what_rjs_bridge_sample_writes(
    browser: Any, tmp_path: Path
) -> None:
    # The README's example: a GPU-trained char-rnn on Paul Graham's essays.
    model = tmp_path / "pg_lstm_2x64.json"
    export(
        FIXTURES / "pg_lstm_2x64.cuda.t7", model, format="bridge", encoding="float32"
    )
    page = Page(browser, _page(model, tmp_path / "pg.html"))

    text = page.generate("the startup", 200, temperature=0.8, seed=7)
    page.tab.click("summary")
    page.screenshot("page.png")

    expected = _sample(
        model, "--primetext", "the startup", "-n", "200", "-t", "0.8", "--seed", "7"
    )
    assert text == expected
    assert len(text) == 200
    assert page.tab.text_content("#primed") == "the startup"
    assert page.tab.text_content("#status").startswith("Generated 200 bytes in ")
    assert page.requests == [page.url]
    assert page.errors == []
    page.close()


def test_page_fits_a_phone(browser: Any, tmp_path: Path) -> None:
    page = Page(
        browser, _page(FIXTURES / "pg_lstm_2x64.cuda.t7", tmp_path / "pg.html"), 390
    )

    page.generate("the startup", 200, temperature=0.8, seed=7)
    page.screenshot("page-phone.png")

    # Nothing sticks out sideways: no horizontal scrolling on a phone.
    width = page.tab.evaluate("document.documentElement.scrollWidth")
    assert width == 390
    assert page.errors == []
    page.close()


@pytest.mark.parametrize(
    "name", ["lstm_2x20", "gru_2x32", "rnn_2x32", "torchrnn_lstm_bn"]
)
def test_page_argmax_writes_torchs_greedy_text(
    browser: Any, tmp_path: Path, name: str
) -> None:
    greedy = json.loads((FIXTURES / f"{name}.greedy.json").read_text())
    page = Page(browser, _page(FIXTURES / f"{name}.t7", tmp_path / f"{name}.html"))

    text = page.generate(greedy["prime"], greedy["length"], argmax=True)

    assert text == bytes.fromhex(greedy["continuation_hex"]).decode()
    assert page.errors == []
    page.close()


def test_recurrentjs_page_samples_like_the_checkpoint(
    browser: Any, tmp_path: Path
) -> None:
    # torch-rnn: whole characters, newline far from first in its order.
    checkpoint = FIXTURES / "torchrnn_lstm_2x32.t7"
    rjs = tmp_path / "torchrnn.json"
    export(checkpoint, rjs, format="rjs", encoding="numbers")
    page = Page(browser, _page(rjs, tmp_path / "torchrnn.html"))

    text = page.generate("", 200, temperature=1.0, seed=11)

    assert text == _sample(checkpoint, "-n", "200", "--seed", "11")
    assert page.tab.text_content("#status").startswith("Generated 200 characters")
    assert page.errors == []
    page.close()


def test_page_stops_when_asked(browser: Any, tmp_path: Path) -> None:
    page = Page(browser, _page(FIXTURES / "lstm_3x128.cuda.t7", tmp_path / "big.html"))
    tab = page.tab
    tab.fill("#length", "100000")
    tab.click("#generate")
    # Polled from Python: wait_for_function evaluates its predicate with
    # eval, which the page's Content-Security-Policy rightly forbids.
    deadline = time.monotonic() + 30
    while not tab.evaluate(
        "() => document.getElementById('continuation').textContent.length > 0"
    ):
        assert time.monotonic() < deadline, "no text appeared within 30 s"
        time.sleep(0.02)

    tab.click("#stop")

    tab.wait_for_selector("#output[data-state=stopped]")
    made = len(tab.text_content("#continuation"))
    assert 0 < made < 100_000
    assert tab.text_content("#status") == f"Stopped after {made:,} bytes."
    assert tab.is_enabled("#generate")
    page.close()


def test_page_refuses_a_start_with_characters_the_model_lacks(
    browser: Any, tmp_path: Path
) -> None:
    # The Paul Graham model is lowercase: no "T", no "!". As the CLI and
    # char-rnn's sampler do, the page refuses the start rather than drop them.
    page = Page(browser, _page(FIXTURES / "pg_lstm_2x64.cuda.t7", tmp_path / "pg.html"))
    tab = page.tab
    tab.fill("#prime", "The end!")
    tab.fill("#length", "10")

    tab.click("#generate")

    tab.wait_for_selector("#status.error")
    assert tab.text_content("#status") == (
        'Not in this model\'s vocabulary, so it cannot start with them: "T" "!".'
    )
    assert tab.text_content("#continuation") == ""
    assert tab.is_enabled("#generate")
    page.close()

"""Build the web page that runs a model: one self-contained HTML file.

The page holds the model's JSON in a ``<script type="application/json">``,
our JavaScript runtime (runtime.js) and the page's own script (page.js) and
style (page.css), all inline. Its Content-Security-Policy allows no network
request at all, so it works the same from ``file://``, from ``rjs-bridge
serve`` and offline.

A checkpoint is converted to rjs-bridge's own format in memory; a JSON export
of either format (rjs-bridge's or RecurrentJS's) is checked and embedded.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePath
from typing import Literal

import msgspec

from bridge import __version__
from bridge.bridgeformat.encode import encode
from bridge.modelfile import ModelFile, read_model, sha256_file
from bridge.output import atomic_output, check_output_path, size_text, write_all
from bridge.t7.backends import ReaderChoice

PageEncoding = Literal["auto", "numbers", "float32"]
PAGE_ENCODINGS: tuple[PageEncoding, ...] = ("auto", "numbers", "float32")

# Below this many parameters "auto" keeps the weights as exact JSON numbers;
# from it on, as base64 float32, under a third of the size.
TINY_MODEL = 20_000

_TEMPLATE_MARK = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class PageModel:
    """A model ready to embed: its compact JSON and what the page says of it."""

    json: bytes
    title: str
    kind: str
    hidden_sizes: list[int]
    vocabulary: int
    token_unit: Literal["byte", "char"]
    encoding: str
    # (label, value) rows of the page's "About this model".
    about: list[tuple[str, str]]

    def facts(self) -> str:
        """The one line under the page's title: kind, sizes, vocabulary."""
        sizes = _sizes(self.hidden_sizes)
        unit = "bytes" if self.token_unit == "byte" else "characters"
        return f"{self.kind.upper()} · {sizes} · vocabulary of {self.vocabulary} {unit}"


@dataclass(frozen=True)
class PageResult:
    """What ``write_page`` did, for the one-line summary."""

    model: PageModel
    output: Path | None
    size: int
    seconds: float

    def summary(self) -> str:
        m = self.model
        where = "stdout" if self.output is None else str(self.output)
        weights = _SUMMARY_ENCODINGS[m.encoding]
        return (
            f"{m.kind.upper()}, {_sizes(m.hidden_sizes)}, vocabulary {m.vocabulary}, "
            f"weights as {weights} -> {where}, {size_text(self.size)}, "
            f"{self.seconds:.2f} s"
        )


def default_output(model_path: Path) -> Path:
    """The input's name with ``.html``: ``cv/lm.t7`` -> ``cv/lm.html``."""
    return model_path.with_suffix(".html")


def load_page_model(
    path: Path,
    *,
    encoding: PageEncoding = "auto",
    long_size: int | None = None,
    reader: ReaderChoice | None = None,
) -> PageModel:
    """Read a checkpoint or a JSON export of either format for a page.

    A checkpoint becomes rjs-bridge's format with ``encoding``: ``numbers``
    (exact), ``float32`` (compact), or ``auto``: numbers for models under
    :data:`TINY_MODEL` parameters, float32 otherwise. A JSON export is
    embedded as it is, unless an encoding is asked for: then it too becomes
    rjs-bridge's format in that encoding. ``reader`` says how a checkpoint
    is read (default: the embedded reader unless a Torch is found).
    """
    if encoding not in PAGE_ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {PAGE_ENCODINGS}")
    file = read_model(path, long_size=long_size, reader=reader)
    model = file.model

    if file.format != "t7" and encoding == "auto":
        # Checked by read_model: embed it, without the whitespace.
        data = msgspec.json.format(path.read_bytes(), indent=0)
        return _page_model(file, data, "float32" if file.float32 else "numbers")

    if encoding == "auto":
        encoding = "numbers" if model.parameter_count < TINY_MODEL else "float32"
    sha256 = file.source_sha256 or sha256_file(path)
    data = encode(model, sha256=sha256, encoding=encoding).rstrip(b"\n")
    return _page_model(file, data, encoding, sha256)


def render_page(model: PageModel) -> str:
    """The page's HTML for ``model``."""
    runtime = _asset("runtime.js")
    script = _asset("page.js")
    style = _asset("page.css")
    for name, text, closing in (
        ("runtime.js", runtime, "</script"),
        ("page.js", script, "</script"),
        ("page.css", style, "</style"),
    ):
        # An inline script or style ends at the first closing tag, wherever it is.
        if closing in text.lower() or "<!--" in text:
            raise AssertionError(f"bridge/web/{name} holds {closing!r} or '<!--'")

    about = "\n".join(_about_row(label, value) for label, value in model.about)
    values = {
        "version": __version__,
        "title": html.escape(model.title),
        "facts": html.escape(model.facts()),
        "unit": "byte" if model.token_unit == "byte" else "character",
        "about": about,
        # JSON has "<" only inside strings, where \u003c means the same, so
        # nothing in the model can close the script element.
        "model": model.json.decode("utf-8").replace("<", "\\u003c"),
        "runtime": runtime,
        "script": script,
        "style": style,
    }
    template = _asset("page.html")
    marks = set(_TEMPLATE_MARK.findall(template))
    if marks != set(values):
        raise AssertionError(f"page.html marks {sorted(marks)} != {sorted(values)}")
    return _TEMPLATE_MARK.sub(lambda m: values[m.group(1)], template)


def write_page(
    model_path: Path,
    output: Path | None,
    *,
    encoding: PageEncoding = "auto",
    long_size: int | None = None,
    reader: ReaderChoice | None = None,
) -> PageResult:
    """Write the page for the model in ``model_path`` to ``output`` (None:
    stdout), checking everything before writing anything."""
    started = time.perf_counter()
    if output is not None:
        check_output_path(output, model_path)

    model = load_page_model(
        model_path, encoding=encoding, long_size=long_size, reader=reader
    )
    page = render_page(model).encode("utf-8")

    with atomic_output(output) as f:
        write_all(f, page)
    return PageResult(
        model=model,
        output=output,
        size=len(page),
        seconds=time.perf_counter() - started,
    )


def _page_model(
    file: ModelFile, data: bytes, encoding: str, sha256: str | None = None
) -> PageModel:
    model = file.model
    source = model.source
    name = PurePath(source.file).name
    if model.embedding is None:
        reads = f"the one-hot vector of each of its {len(model.tokens)} tokens"
    else:
        reads = f"an embedding of {model.input_size} numbers per token"
    unit = "bytes (text as UTF-8)" if model.token_unit == "byte" else "characters"
    about = [
        ("Model", f"{model.kind.upper()}, {_sizes(model.hidden_sizes)}"),
        ("First layer reads", reads),
        ("Vocabulary", f"{len(model.tokens)} {unit}"),
    ]
    if file.format == "rjs":
        about += [
            ("Parameters", f"{model.parameter_count:,}"),
            ("File", name),
            ("Format", "RecurrentJS (Karpathy's character demo)"),
        ]
    else:
        about += [
            ("Parameters", f"{source.parameters:,}, as Torch counts them"),
            ("Checkpoint", name),
        ]
        digest = sha256 or file.source_sha256
        if digest:
            about.append(("Its SHA-256", digest))
        about += [
            ("Trained by", f"{source.program} ({source.model_class})"),
            ("Tensor types", ", ".join(source.tensor_classes)),
            ("Format", "rjs-bridge model, version 1"),
        ]
    about.append(("Weights here", _ENCODING_NAMES[encoding]))
    return PageModel(
        json=data,
        title=name,
        kind=model.kind,
        hidden_sizes=model.hidden_sizes,
        vocabulary=len(model.tokens),
        token_unit=model.token_unit,
        encoding=encoding,
        about=about,
    )


# About rows whose values are codes rather than words.
_CODE = {"Its SHA-256"}
_SUMMARY_ENCODINGS = {"numbers": "JSON numbers", "float32": "float32"}
_ENCODING_NAMES = {
    "numbers": "exact values, as JSON numbers",
    "float32": "float32 in base64 (biases as exact numbers)",
}


def _about_row(label: str, value: str) -> str:
    dd = '<dd class="code">' if label in _CODE else "<dd>"
    return f"<dt>{html.escape(label)}</dt>{dd}{html.escape(value)}</dd>"


def _asset(name: str) -> str:
    return (resources.files("bridge.web") / name).read_text(encoding="utf-8")


def _sizes(sizes: list[int]) -> str:
    layers = "layer" if len(sizes) == 1 else "layers"
    if len(set(sizes)) == 1:
        return f"{len(sizes)} {layers} of {sizes[0]}"
    return f"{len(sizes)} {layers} of {', '.join(str(s) for s in sizes)}"

"""Streaming big arrays into a msgspec document gives the same JSON as
encoding it whole."""

from __future__ import annotations

import io
import signal
import threading
import time

import msgspec
import numpy as np
import pytest

from bridge import jsonstream


class _Doc(msgspec.Struct):
    name: str
    first: msgspec.Raw
    nested: dict[str, msgspec.Raw]


@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 18])
def test_write_streams_arrays_in_chunks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((30, 11)).astype(np.float32)
    b = rng.standard_normal(3)
    doc = _Doc("x\x00y", jsonstream.placeholder(0), {"b": jsonstream.placeholder(1)})
    out = io.BytesIO()

    size = jsonstream.write(out, doc, [a, b])

    text = out.getvalue()
    assert size == len(text)
    decoded = msgspec.json.decode(text)
    assert decoded["name"] == "x\x00y"
    # float32 values widen exactly: the JSON holds the same numbers.
    assert decoded["first"] == a.astype(np.float64).ravel().tolist()
    assert decoded["nested"]["b"] == b.tolist()
    expected = msgspec.json.encode(
        {"name": "x\x00y", "first": decoded["first"], "nested": {"b": b.tolist()}}
    )
    assert text == expected + b"\n"


def test_write_pretty_indents_the_whole_document() -> None:
    doc = _Doc("m", jsonstream.placeholder(0), {})

    out = io.BytesIO()
    jsonstream.write(out, doc, [np.array([[1.5, -2.0]])], pretty=True)

    assert out.getvalue() == (
        b'{\n  "name": "m",\n  "first": [\n    1.5,\n    -2.0\n  ],\n'
        b'  "nested": {}\n}\n'
    )


class _FullDisk(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


def test_write_reports_a_failed_write() -> None:
    doc = _Doc("m", jsonstream.placeholder(0), {})

    with pytest.raises(OSError, match="No space left"):
        jsonstream.write(_FullDisk(), doc, [np.zeros(10)])  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_write_streams_float32_base64_in_whole_chunks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    import base64

    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    values = np.random.default_rng(2).standard_normal((7, 5))
    doc = _Doc("f", jsonstream.placeholder(0), {})
    out = io.BytesIO()

    jsonstream.write(out, doc, [jsonstream.Float32Base64(values)])

    text = msgspec.json.decode(out.getvalue())["first"]
    expected = base64.b64encode(values.astype("<f4").tobytes()).decode()
    assert text == expected


class _Stuck(io.RawIOBase):
    """A sink whose first write waits until released, as a slow disk would."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        self.writes += 1
        self.release.wait(30)
        return len(data)  # type: ignore[arg-type]


def test_interrupted_write_unwinds_at_once_and_writes_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C while every slot is taken and the formatting thread waits for
    # one: the interrupt unwinds the write, the pieces still queued are not
    # written, and no thread is left behind.
    monkeypatch.setattr(jsonstream, "CHUNK", 1)
    sink = _Stuck()
    doc = _Doc("m", jsonstream.placeholder(0), {})
    main = threading.get_ident()

    def interrupt() -> None:
        while sink.writes == 0:
            time.sleep(0.01)
        time.sleep(0.2)  # the formatting thread is now waiting for a slot
        signal.pthread_kill(main, signal.SIGINT)
        time.sleep(0.2)
        sink.release.set()

    before = set(threading.enumerate())
    helper = threading.Thread(target=interrupt)
    helper.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        jsonstream.write(sink, doc, [np.zeros(100)])  # type: ignore[arg-type]
    helper.join()

    assert time.monotonic() - started < 10
    assert sink.writes == 1
    assert set(threading.enumerate()) == before

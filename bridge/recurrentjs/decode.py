"""Read a RecurrentJS model JSON back into a model the runtime can run.

The inverse of mapping.py, for our exports and for LSTMs the demo saved
itself. RecurrentJS token ``t`` reads ``Wil[t]`` and is predicted by row
``t`` of ``Whd`` and ``bd``; the model comes back in the checkpoint's token
order, which our exports record in ``checkpoint_order`` when it is not the
file's own. Without it, when ``Wil`` is a one-hot lookup (char-rnn), the
column of each row's 1 is the token's checkpoint index (exports made before
``checkpoint_order`` existed say it that way); otherwise the order is the
file's: tokens with a character, by number.

A token 0 without a character is kept out if it is inert (never predicted,
as our exports make it); the demo's own START/END token 0, which can be
predicted, is refused: it stands for no text, so no sampler can write it.
"""

from __future__ import annotations

from pathlib import PurePath

import msgspec
import numpy as np

from bridge.errors import ModelFileError, UnsupportedError
from bridge.models.types import (
    GATES,
    Gate,
    Layer,
    RecurrentModel,
    Source,
    TokenUnit,
)

# RecurrentJS's names for the gates, in GATES["lstm"] order.
_GATE_LETTERS = ("i", "f", "o", "c")

# An inert token 0's output bias is -1e300 in our exports; anything this low
# gives it a probability of exactly 0.
_INERT_BIAS = -1e299


class _Mat(msgspec.Struct):
    n: int
    d: int
    # Lists in our exports; the demo's JSON.stringify of a Float64Array gives
    # an object keyed "0", "1", ...
    w: list[float] | dict[str, float]


class _File(msgspec.Struct):
    hidden_sizes: list[int]
    generator: str
    letter_size: int
    model: dict[str, _Mat]
    letterToIndex: dict[str, int]
    indexToLetter: dict[str, str]
    checkpoint_order: list[int] | None = None


def decode(data: bytes, where: str) -> RecurrentModel:
    """The LSTM in RecurrentJS JSON ``data``, tokens in the checkpoint's order;
    ``where`` names the file in errors."""
    try:
        file = msgspec.json.decode(data, type=_File)
    except msgspec.ValidationError as e:
        raise ModelFileError(f"{where}: not a RecurrentJS model: {e}") from None
    except msgspec.DecodeError as e:
        raise ModelFileError(f"{where}: not valid JSON: {e}") from None
    if file.generator != "lstm":
        raise UnsupportedError(
            f"{where}: generator is {file.generator!r}; rjs-bridge runs RecurrentJS "
            "LSTMs (\"lstm\") only (RecurrentJS's RNN uses ReLU, no Torch model's does)"
        )
    if not file.hidden_sizes or min(file.hidden_sizes) < 1:
        raise ModelFileError(f"{where}: hidden_sizes is {file.hidden_sizes}")

    mats = {
        name: _values(m, f"{where}: model.{name}") for name, m in file.model.items()
    }
    wil = _need(mats, "Wil", (None, file.letter_size), where)
    size = int(wil.shape[0])
    whd = _need(mats, "Whd", (size, file.hidden_sizes[-1]), where)
    bd = _need(mats, "bd", (size, 1), where)[:, 0]

    letters = _letters(file, size, where)
    real = [t for t in range(size) if letters[t] is not None]
    if letters[0] is None and (whd[0].any() or bd[0] > _INERT_BIAS):
        raise UnsupportedError(
            f"{where}: token 0 has no character but can be predicted (bd[0] "
            f"is {bd[0]:.6g}): the demo's START/END token, which stands for "
            "no text; rjs-bridge runs exports whose token 0 is a character "
            "or inert"
        )
    order = _checkpoint_order(file, wil, real, where)

    embedding: np.ndarray | None = wil[order]
    one_hot = np.array_equal(wil[order], np.eye(len(order)))
    texts = [ch for ch in (letters[t] for t in order) if ch is not None]
    tokens: list[bytes] | list[str]
    unit: TokenUnit
    if one_hot and all(ord(ch) < 256 for ch in texts):
        # char-rnn: byte tokens, written as the Latin-1 character of each byte.
        embedding = None
        tokens = [ch.encode("latin-1") for ch in texts]
        unit = "byte"
    else:
        tokens = texts
        unit = "char"

    layers = []
    width = file.letter_size
    for d, hidden in enumerate(file.hidden_sizes):
        gates = {}
        for gate, letter in zip(GATES["lstm"], _GATE_LETTERS, strict=True):
            gates[gate] = Gate(
                x=_need(mats, f"W{letter}x{d}", (hidden, width), where),
                h=_need(mats, f"W{letter}h{d}", (hidden, hidden), where),
                b=_need(mats, f"b{letter}{d}", (hidden, 1), where)[:, 0],
            )
        layers.append(Layer(gates))
        width = hidden

    decoder_w = whd[order]
    return RecurrentModel(
        kind="lstm",
        tokens=tokens,
        token_unit=unit,
        embedding=embedding,
        layers=layers,
        decoder_w=decoder_w,
        decoder_b=bd[order],
        source=Source(
            file=PurePath(where).name,
            program="RecurrentJS",
            model_class="lstm",
            tensor_classes=[],
            parameters=sum(m.size for m in mats.values()),
        ),
    )


def _values(m: _Mat, at: str) -> np.ndarray:
    if m.n < 0 or m.d < 0:
        raise ModelFileError(f"{at}: n = {m.n}, d = {m.d}, expected sizes")
    count = m.n * m.d
    if isinstance(m.w, dict):
        try:
            w = [m.w[str(i)] for i in range(count)]
        except KeyError as e:
            raise ModelFileError(f"{at}.w has no entry {e}") from None
    else:
        w = m.w
    if len(w) != count:
        raise ModelFileError(
            f"{at}.w holds {len(w)} values, expected n x d = {m.n} x {m.d} = {count}"
        )
    return np.array(w, dtype=np.float64).reshape(m.n, m.d)


def _need(
    mats: dict[str, np.ndarray], name: str, shape: tuple[int | None, int], where: str
) -> np.ndarray:
    if name not in mats:
        raise ModelFileError(f"{where}: model has no matrix {name}")
    values = mats[name]
    rows, columns = shape
    if (rows is not None and values.shape[0] != rows) or values.shape[1] != columns:
        n, d = values.shape
        want = f"{'any' if rows is None else rows} x {columns}"
        raise ModelFileError(f"{where}: model.{name} is {n} x {d}, expected {want}")
    return values


def _letters(file: _File, size: int, where: str) -> list[str | None]:
    """The character of each RecurrentJS token; None for a token without one."""
    letters: list[str | None] = [None] * size
    for key, letter in file.indexToLetter.items():
        if not key.isdigit() or int(key) >= size:
            raise ModelFileError(
                f"{where}: indexToLetter has key {key!r}, expected a token "
                f"number below {size}"
            )
        if len(letter) != 1:
            raise ModelFileError(
                f"{where}: indexToLetter[{key!r}] is {letter!r}, expected one character"
            )
        letters[int(key)] = letter
    for letter, token in file.letterToIndex.items():
        if not 0 <= token < size or letters[token] != letter:
            raise ModelFileError(
                f"{where}: letterToIndex[{letter!r}] is {token}, but indexToLetter "
                f"gives that token {letters[token] if 0 <= token < size else None!r}"
            )
    missing = [t for t in range(1, size) if letters[t] is None]
    if missing:
        raise ModelFileError(
            f"{where}: tokens {missing[:5]} have no character in indexToLetter"
        )
    if len(set(letters)) != len(letters):
        raise ModelFileError(f"{where}: indexToLetter gives one character twice")
    return letters


def _checkpoint_order(
    file: _File,
    wil: np.ndarray,
    real: list[int],
    where: str,
) -> list[int]:
    """The RecurrentJS tokens in the checkpoint's order."""
    if file.checkpoint_order is not None:
        if sorted(file.checkpoint_order) != real:
            raise ModelFileError(
                f"{where}: checkpoint_order lists tokens "
                f"{sorted(file.checkpoint_order)[:5]}..., expected each of the "
                f"{len(real)} tokens with a character once"
            )
        return list(file.checkpoint_order)

    # A one-hot Wil (char-rnn) says it: row t has its 1 at the token's index.
    rows = wil[real]
    n = len(real)
    if (
        rows.shape == (n, n)
        and np.isin(rows, (0.0, 1.0)).all()
        and (rows.sum(axis=0) == 1).all()
        and (rows.sum(axis=1) == 1).all()
    ):
        order = [0] * n
        for token, column in zip(real, rows.argmax(axis=1), strict=True):
            order[int(column)] = token
        return order

    return real

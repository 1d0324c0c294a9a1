"""Map a char-rnn LSTM onto RecurrentJS's model, exactly.

RecurrentJS (src/recurrent.js, forwardLSTM) computes per layer d, on input x
and previous hidden state h::

    i = sigmoid(Wix_d x + Wih_d h + bi_d)      f, o likewise with f, o
    g = tanh(Wcx_d x + Wch_d h + bc_d)
    c = f * c_prev + i * g;  h = o * tanh(c)

and the output Whd h_top + bd, with the first layer's x = Wil[token]. char-rnn
computes the same with i2h(x) + h2h(h), so Wix_d and Wih_d are the gate's rows
of i2h and h2h unchanged, and each gate's bias is the sum of the two Linear
biases (in float64). Wil is a one-hot lookup of each token's Torch index, so
the first layer keeps Torch's weights as they are.

Token 0 is RecurrentJS's START input and END output. When a boundary
character plays token 0 (the newline by default) the demo starts a sentence
as if after that character and ends it where char-rnn would write it. Without
one, token 0 is inert: a zero input and a bias that makes it never sampled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bridge import jsonstream
from bridge.errors import UnsupportedError
from bridge.models.types import GATES, RecurrentModel
from bridge.recurrentjs.schema import Mat, RecurrentJSModel, Solver

log = logging.getLogger(__name__)

# "an RNN", "a GRU": the article each kind's name takes.
_ARTICLE = {"lstm": "an", "gru": "a", "rnn": "an"}

# RecurrentJS's names for the gates, in LSTM_GATES order.
_GATE_LETTERS = ("i", "f", "o", "c")

# The inert token's output bias: exp() of it, less any real logit, is exactly
# 0 in float64, even after the demo divides logits by its lowest temperature.
_NEVER = -1e300


@dataclass(frozen=True)
class Boundary:
    """Which character is RecurrentJS's token 0; None makes token 0 inert.

    With ``auto`` the character is used only if the vocabulary has it:
    :data:`AUTO_BOUNDARY`, the default, picks the newline when there is one.
    """

    char: str | None
    auto: bool = False


AUTO_BOUNDARY = Boundary("\n", auto=True)
NO_BOUNDARY = Boundary(None)


@dataclass(frozen=True)
class Mapping:
    """The RecurrentJS model and how tokens relate to Torch's indices.

    ``model`` holds placeholders where its matrices' values go and
    ``arrays`` the values (see bridge.jsonstream). ``tokens[t]`` is the
    0-based Torch index of RecurrentJS token ``t`` (None for an inert token 0).
    """

    model: RecurrentJSModel
    arrays: list[np.ndarray]
    tokens: list[int | None]
    boundary: str | None


def to_recurrentjs(model: RecurrentModel, boundary: Boundary) -> Mapping:
    """Map ``model`` onto RecurrentJS's layout; see the module docstring."""
    if model.kind != "lstm":
        raise UnsupportedError(
            f"{model.source.file}: this is {_ARTICLE[model.kind]} "
            f"{model.kind.upper()} model; "
            "RecurrentJS runs LSTMs only (it has no GRU, and its RNN uses ReLU "
            "where Torch's uses tanh). Use --format bridge, which holds it exactly"
        )
    tokens, chosen = _token_order(model, boundary)

    # Wil[t] is what the first layer reads for token t: the embedding row, or
    # the one-hot vector of the token's Torch index.
    wil = np.zeros((len(tokens), model.input_size))
    for token, index in enumerate(tokens):
        if index is None:
            continue
        if model.embedding is None:
            wil[token, index] = 1.0
        else:
            wil[token] = model.embedding[index]

    arrays: list[np.ndarray] = []

    def _mat(values: np.ndarray) -> Mat:
        n, d = values.shape
        arrays.append(values)
        return Mat(n=n, d=d, w=jsonstream.placeholder(len(arrays) - 1))

    mats: dict[str, Mat] = {"Wil": _mat(wil)}
    for d, layer in enumerate(model.layers):
        for gate, letter in zip(GATES["lstm"], _GATE_LETTERS, strict=True):
            weights = layer.gates[gate]
            mats[f"W{letter}x{d}"] = _mat(weights.x)
            mats[f"W{letter}h{d}"] = _mat(weights.h)
            mats[f"b{letter}{d}"] = _mat(weights.b.reshape(-1, 1))

    # Whd row t predicts token t; an inert token 0 is never predicted.
    whd = np.zeros((len(tokens), model.decoder_w.shape[1]))
    bd = np.full((len(tokens), 1), _NEVER)
    for token, index in enumerate(tokens):
        if index is not None:
            whd[token] = model.decoder_w[index]
            bd[token, 0] = model.decoder_b[index]
    mats["Whd"] = _mat(whd)
    mats["bd"] = _mat(bd)

    letters = [model.token_text(i) if i is not None else None for i in tokens]
    letter_to_index = {ch: t for t, ch in enumerate(letters) if ch is not None}
    index_to_letter = {str(t): ch for t, ch in enumerate(letters) if ch is not None}
    if model.token_unit == "byte" and any(
        isinstance(b, bytes) and b[0] >= 0x80 for b in model.tokens
    ):
        log.warning(
            "warning: the vocabulary has bytes above 127; they appear as the "
            "Latin-1 characters of the same value, so text in a multi-byte "
            "encoding such as UTF-8 shows byte by byte in the RecurrentJS demo"
        )

    rjs = RecurrentJSModel(
        hidden_sizes=model.hidden_sizes,
        generator="lstm",
        letter_size=model.input_size,
        model=mats,
        solver=Solver(),
        letterToIndex=letter_to_index,
        indexToLetter=index_to_letter,
        # The demo's vocab lists the letters of tokens 1, 2, ...
        vocab=[ch for ch in letters[1:] if ch is not None],
        checkpoint_order=_checkpoint_order(tokens),
    )
    return Mapping(model=rjs, arrays=arrays, tokens=tokens, boundary=chosen)


def _checkpoint_order(tokens: list[int | None]) -> list[int] | None:
    """The RecurrentJS token of each Torch index, in Torch's order; None when
    that is the file's own order (tokens with a character, by number)."""
    order = [0] * sum(index is not None for index in tokens)
    for token, index in enumerate(tokens):
        if index is not None:
            order[index] = token
    if order == [t for t, index in enumerate(tokens) if index is not None]:
        return None
    return order


def _token_order(
    model: RecurrentModel, boundary: Boundary
) -> tuple[list[int | None], str | None]:
    """RecurrentJS token -> Torch index (0-based); the vocabulary keeps the
    checkpoint's own order."""
    indices = list(range(len(model.tokens)))
    texts = [model.token_text(i) for i in indices]
    char = boundary.char
    if char is not None and char not in texts:
        if not boundary.auto:
            raise UnsupportedError(
                f"the boundary character {char!r} is not in the vocabulary"
            )
        char = None
    if char is None:
        if boundary.auto:
            log.warning(
                "warning: the vocabulary has no newline, so RecurrentJS's "
                "START/END token 0 is inert: sentences start from a zero input "
                "and never end early (choose a character with --boundary)"
            )
        return [None, *indices], None
    at = texts.index(char)
    return [at, *(i for i in indices if i != at)], char

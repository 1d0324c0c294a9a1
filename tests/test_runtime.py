"""The NumPy runtime: forward pass per kind, text to tokens, and the sampler
whose every step the browser runtime repeats."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bridge.models.types import Gate, Layer, RecurrentModel, Source
from bridge.runtime import (
    Mulberry32,
    Network,
    TextError,
    argmax,
    draw,
    encode_text,
    generate,
    softmax,
    token_bytes,
)
from tests.fixture_models import CHECKPOINTS, checkpoint, golden


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_network_matches_torch_probabilities(name: str) -> None:
    gold = golden(name)
    network = Network(checkpoint(name))

    worst = 0.0
    for step, torch_index in enumerate(gold["inputs"]):
        probs = np.array(softmax(network.feed(torch_index - 1)))
        worst = max(worst, float(np.abs(probs - gold["probs_double"][step]).max()))

    assert worst < 1e-9


def _matrix(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def _tiny_gru() -> RecurrentModel:
    # One unit reading a one-hot of two tokens; numbers picked by hand.
    def gate(x: list[float], h: float, b: float) -> Gate:
        return Gate(x=_matrix(x), h=_matrix([h]), b=np.array([b]))

    return RecurrentModel(
        kind="gru",
        tokens=[b"a", b"b"],
        token_unit="byte",
        embedding=None,
        layers=[
            Layer(
                {
                    "reset": gate([0.5, -0.5], 1.0, 0.0),
                    "update": gate([1.0, 0.0], 0.0, 0.0),
                    "candidate": gate([2.0, 0.0], 3.0, 0.1),
                }
            )
        ],
        decoder_w=_matrix([1.0], [-1.0]),
        decoder_b=np.array([0.0, 0.25]),
        source=Source("tiny", "test", "none", [], 0),
    )


def test_network_gru_blends_candidate_and_state_as_charrnn() -> None:
    network = Network(_tiny_gru())

    def sigmoid(v: float) -> float:
        return 1 / (1 + math.exp(-v))

    # Token "a" from h = 0: the candidate reads r * h = 0.
    h1 = sigmoid(1.0) * math.tanh(2.0 + 0.1)
    assert network.feed(0).tolist() == pytest.approx([h1, 0.25 - h1], rel=1e-15)

    # Token "b": r gates the state the candidate reads; h' = z*g + (1-z)*h.
    r, z = sigmoid(-0.5 + h1), sigmoid(0.0)
    h2 = z * math.tanh(3.0 * r * h1 + 0.1) + (1 - z) * h1
    assert network.feed(1).tolist() == pytest.approx([h2, 0.25 - h2], rel=1e-15)


def test_network_reset_returns_to_the_zero_state() -> None:
    network = Network(checkpoint("lstm_2x20.t7"))
    first = [network.feed(t).copy() for t in (5, 9, 30)]

    network.reset()
    again = [network.feed(t) for t in (5, 9, 30)]

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], first[2])


@pytest.mark.parametrize("token", [-1, 65])
def test_network_refuses_a_token_outside_the_vocabulary(token: int) -> None:
    with pytest.raises(
        IndexError, match=f"token {token} is outside the vocabulary of 65"
    ):
        Network(checkpoint("lstm_2x20.t7")).feed(token)


# The first four numbers of each seed, from the JavaScript definition in
# docs/bridge-format.md run under Node.js.
MULBERRY32 = {
    0: [
        0.26642920868471265,
        0.0003297457005828619,
        0.2232720274478197,
        0.1462021479383111,
    ],
    1: [
        0.6270739405881613,
        0.002735721180215478,
        0.5274470399599522,
        0.9810509674716741,
    ],
    42: [
        0.6011037519201636,
        0.44829055899754167,
        0.8524657934904099,
        0.6697340414393693,
    ],
    4294967295: [
        0.8964226141106337,
        0.189478256739676,
        0.7156526781618595,
        0.9440599093213677,
    ],
}


@pytest.mark.parametrize("seed", sorted(MULBERRY32))
def test_mulberry32_matches_the_javascript_definition(seed: int) -> None:
    random = Mulberry32(seed)

    assert [random.next() for _ in range(4)] == MULBERRY32[seed]


@pytest.mark.parametrize(
    ("seed", "same_as"), [(-1, 4294967295), (2**32, 0), (2**32 + 42, 42)]
)
def test_mulberry32_takes_the_seed_mod_2_32(seed: int, same_as: int) -> None:
    random = Mulberry32(seed)

    assert [random.next() for _ in range(4)] == MULBERRY32[same_as]


@pytest.mark.parametrize(
    ("logits", "temperature", "expected"),
    [
        ([0.0, math.log(2.0), math.log(5.0)], 1.0, [0.125, 0.25, 0.625]),
        ([0.0, 2 * math.log(3.0)], 2.0, [0.25, 0.75]),
        # The maximum is subtracted: no overflow, no underflow to 0/0.
        ([1000.0, 1000.0], 1.0, [0.5, 0.5]),
        ([-1000.0] * 4, 0.5, [0.25] * 4),
        (
            [1.0, 2.0, 3.0],
            0.5,
            [0.015876239976466765, 0.11731042782619838, 0.8668133321973349],
        ),
    ],
)
def test_softmax_divides_by_temperature_and_subtracts_the_maximum(
    logits: list[float], temperature: float, expected: list[float]
) -> None:
    assert softmax(np.array(logits), temperature) == expected


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.nan])
def test_softmax_refuses_a_temperature_that_is_not_positive(temperature: float) -> None:
    with pytest.raises(ValueError, match="is not positive"):
        softmax([1.0, 2.0], temperature)


def test_argmax_takes_the_first_of_equal_maxima() -> None:
    assert argmax(np.array([0.5, 2.0, -1.0, 2.0])) == 1
    assert argmax([3.0]) == 0


@pytest.mark.parametrize(
    ("u", "expected"),
    [(0.0, 0), (0.2499, 0), (0.25, 1), (0.4999, 1), (0.5, 3), (0.9999, 3)],
)
def test_draw_takes_the_first_running_sum_above_u(u: float, expected: int) -> None:
    assert draw([0.25, 0.25, 0.0, 0.5], u) == expected


def test_draw_falls_back_to_the_last_nonzero_token_when_rounding_leaves_none() -> None:
    # The sum is 0.9999999 < u: no running sum exceeds u.
    assert draw([0.5, 0.4999999, 0.0], 0.99999995) == 1


def test_generate_without_prime_draws_the_first_token_uniformly() -> None:
    model = checkpoint("lstm_2x20.t7")

    # Seed 0's first number, 0.2664..., falls in the 18th of 65 equal parts.
    sampled = list(generate(Network(model), [], 1, seed=0))
    greedy = list(generate(Network(model), [], 1, greedy=True))

    assert sampled == [17]
    assert model.tokens[17] == b"E"
    assert greedy == [0]


def test_generate_is_deterministic_per_seed() -> None:
    network = Network(checkpoint("gru_2x32.t7"))
    prime = encode_text(checkpoint("gru_2x32.t7"), "KING:\n").tokens

    first = list(generate(network, prime, 80, temperature=0.7, seed=5))
    again = list(generate(network, prime, 80, temperature=0.7, seed=5))
    other = list(generate(network, prime, 80, temperature=0.7, seed=6))

    assert first == again
    assert first != other


def _bytes_model(tokens: list[bytes]) -> RecurrentModel:
    return dataclasses.replace(_tiny_gru(), tokens=tokens)


def test_encode_text_feeds_a_byte_vocabulary_utf8_bytes() -> None:
    model = _bytes_model([b"\xc3", b"\xa9"])

    assert encode_text(model, "éé").tokens == [0, 1, 0, 1]
    assert token_bytes(model, 0) + token_bytes(model, 1) == "é".encode()


def test_encode_text_feeds_a_character_vocabulary_code_points() -> None:
    model = dataclasses.replace(_tiny_gru(), tokens=["é", "😀"], token_unit="char")

    assert encode_text(model, "😀é").tokens == [1, 0]
    assert token_bytes(model, 1) == "😀".encode()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "pg_lstm_2x64.cuda.t7",
            "The fox",
            "the priming text's character 1, 'T' (U+0054), is not in the vocabulary "
            "(the model knows 51 tokens)",
        ),
        (
            "torchrnn_lstm_bn.t7",
            "café",
            "the priming text's character 4, 'é' (U+00E9), is not in the vocabulary",
        ),
        (
            "lstm_2x20.t7",
            "a é",
            "the priming text's character 3, 'é' (U+00E9), is not in the vocabulary: "
            "its UTF-8 bytes include 0xc3 0xa9, which the model never saw",
        ),
        (
            "lstm_2x20.t7",
            "fox.\\n",
            "character 5, '\\\\' (U+005C), is not in the vocabulary (the model knows "
            "65 tokens); a shell passes \\n as a backslash and a letter (in bash, "
            "$'...\\n' makes the control character)",
        ),
    ],
)
def test_encode_text_names_a_missing_character_and_its_position(
    name: str, text: str, message: str
) -> None:
    with pytest.raises(TextError) as raised:
        encode_text(checkpoint(name), text, what="priming text")

    assert message in str(raised.value)


def test_encode_text_can_leave_out_missing_characters_and_list_them() -> None:
    model = checkpoint("pg_lstm_2x64.cuda.t7")

    encoded = encode_text(model, "The fox. The end.", skip_missing=True)

    assert encoded.skipped == ["T", "."]
    assert b"".join(token_bytes(model, t) for t in encoded.tokens) == b"he fox he end"


DOCS = Path(__file__).parent.parent / "docs" / "bridge-format.md"


def test_docs_give_mulberry32s_first_numbers() -> None:
    text = " ".join(DOCS.read_text(encoding="utf-8").split())

    for seed in (0, 42):
        numbers = ", ".join(str(u) for u in MULBERRY32[seed][: 4 if seed == 0 else 2])
        assert f"Seed {seed} gives {numbers}, ..." in text


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_docs_javascript_mulberry32_is_ours() -> None:
    text = DOCS.read_text(encoding="utf-8")
    code = re.search(r"```js\n(.*?)```", text, re.S)
    assert code is not None
    seeds = [0, 42, 4294967295, -1, 2**32 + 7]
    script = code.group(1) + (
        f"for (const seed of {json.dumps(seeds)}) {{"
        " const r = mulberry32(seed);"
        " console.log(JSON.stringify([r(), r(), r(), r(), r()])); }"
    )

    run = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True
    )

    expected = []
    for seed in seeds:
        random = Mulberry32(seed)
        expected.append([random.next() for _ in range(5)])
    assert [json.loads(line) for line in run.stdout.splitlines()] == expected

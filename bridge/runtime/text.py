"""Text to token indices and back, by the vocabulary's unit.

Byte vocabularies (char-rnn) read text as its UTF-8 bytes and write tokens as
raw bytes; character vocabularies (torch-rnn) read and write Unicode code
points, written out as UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import BridgeError
from bridge.models.types import RecurrentModel


class TextError(BridgeError):
    """Text holds a character the model's vocabulary does not."""


@dataclass(frozen=True)
class Encoded:
    """Text as token indices, and the characters left out (when allowed)."""

    tokens: list[int]
    skipped: list[str]


def encode_text(
    model: RecurrentModel, text: str, *, what: str = "text", skip_missing: bool = False
) -> Encoded:
    """The token indices (0-based, checkpoint order) that feed ``text``.

    A character missing from the vocabulary is a :class:`TextError` naming it
    and its position (1-based), unless ``skip_missing``: then it is left out
    and listed in ``skipped``.
    """
    vocabulary: list[bytes | str] = list(model.tokens)
    lookup = {t: i for i, t in enumerate(vocabulary)}
    tokens: list[int] = []
    skipped: list[str] = []
    for position, char in enumerate(text, start=1):
        units: list[bytes | str]
        if model.token_unit == "byte":
            # A byte that was not UTF-8 on the command line arrives as a
            # surrogate escape (U+DC80..U+DCFF): feed the byte itself.
            raw = char.encode("utf-8", "surrogateescape")
            units = [bytes([b]) for b in raw]
        else:
            units = [char]
        missing = [u for u in units if u not in lookup]
        if not missing:
            tokens.extend(lookup[u] for u in units)
            continue
        if skip_missing:
            if char not in skipped:
                skipped.append(char)
            continue
        message = _missing(what, position, char, missing, model)
        if char == "\\" and text[position : position + 1] in ("n", "t", "r"):
            message += (
                f"; a shell passes \\{text[position]} as a backslash and a letter "
                f"(in bash, $'...\\{text[position]}' makes the control character)"
            )
        raise TextError(message)
    return Encoded(tokens, skipped)


def token_bytes(model: RecurrentModel, index: int) -> bytes:
    """How token ``index`` is written out: its byte, or its character in UTF-8."""
    token = model.tokens[index]
    if isinstance(token, bytes):
        return token
    return token.encode("utf-8", "surrogatepass")


def describe_char(char: str) -> str:
    """``'T' (U+0054)``: a character as an error message names it."""
    return f"{char!r} (U+{ord(char):04X})"


def _missing(
    what: str,
    position: int,
    char: str,
    missing: list[bytes | str],
    model: RecurrentModel,
) -> str:
    message = f"the {what}'s character {position}, {describe_char(char)}, "
    if model.token_unit == "byte" and len(char.encode("utf-8", "surrogatepass")) > 1:
        hexes = " ".join(f"0x{u[0]:02x}" for u in missing if isinstance(u, bytes))
        message += (
            f"is not in the vocabulary: its UTF-8 bytes include {hexes}, which "
            "the model never saw"
        )
    else:
        message += "is not in the vocabulary"
    return f"{message} (the model knows {len(model.tokens)} tokens)"

"""A NumPy runtime for every recognised model: forward pass, text, sampler."""

from bridge.runtime.network import Network
from bridge.runtime.sampler import Mulberry32, argmax, draw, generate, softmax
from bridge.runtime.text import Encoded, TextError, encode_text, token_bytes

__all__ = [
    "Encoded",
    "Mulberry32",
    "Network",
    "TextError",
    "argmax",
    "draw",
    "encode_text",
    "generate",
    "softmax",
    "token_bytes",
]

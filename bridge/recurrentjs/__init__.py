"""Karpathy's RecurrentJS model format: its schema and the mapping to it."""

from bridge.recurrentjs.mapping import (
    AUTO_BOUNDARY,
    NO_BOUNDARY,
    Boundary,
    Mapping,
    to_recurrentjs,
)
from bridge.recurrentjs.schema import Mat, RecurrentJSModel, Solver

__all__ = [
    "AUTO_BOUNDARY",
    "NO_BOUNDARY",
    "Boundary",
    "Mapping",
    "Mat",
    "RecurrentJSModel",
    "Solver",
    "to_recurrentjs",
]

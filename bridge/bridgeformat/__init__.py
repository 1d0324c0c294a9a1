"""rjs-bridge's own model format (``--format bridge``): schema, encode, decode."""

from bridge.bridgeformat.decode import decode, decode_document, from_document
from bridge.bridgeformat.encode import ENCODINGS, Encoding, encode, to_document, write
from bridge.bridgeformat.schema import FORMAT, VERSION, BridgeModel, json_schema

__all__ = [
    "ENCODINGS",
    "FORMAT",
    "VERSION",
    "BridgeModel",
    "Encoding",
    "decode",
    "decode_document",
    "encode",
    "from_document",
    "json_schema",
    "to_document",
    "write",
]

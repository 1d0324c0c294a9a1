"""``python -m bridge.bridgeformat``: rewrite schema.json from the Structs."""

from pathlib import Path

from bridge.bridgeformat.schema import schema_json

path = Path(__file__).with_name("schema.json")
path.write_bytes(schema_json())
print(f"wrote {path}")

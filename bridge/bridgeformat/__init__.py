"""rjs-bridge's own model format (``--format bridge``)."""

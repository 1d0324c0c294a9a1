"""rjs-bridge: run Lua Torch7 recurrent language models in a web browser."""

from bridge.errors import BridgeError, CheckpointError, OutputError, UnsupportedError
from bridge.t7 import load

__all__ = ["BridgeError", "CheckpointError", "OutputError", "UnsupportedError", "load"]
__version__ = "0.1.0"

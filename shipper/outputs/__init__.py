"""Where shipped records go: ``kafka://HOST:PORT/TOPIC`` or ``file:///PATH.jsonl`` (``open_output``)."""

from shipper.outputs.base import Output, open_output

__all__ = ["Output", "open_output"]

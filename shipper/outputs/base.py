"""The output contract and the URL factory.

An output's ``send`` returns only once the whole batch is accepted (Kafka: every record acked by all
in-sync replicas; file: written, flushed and fsynced). Anything else raises ``OutputError`` and the
pipeline retries the same batch later. ``sync`` returns once everything accepted so far is durable; the
pipeline calls it before every checkpoint write, so the checkpoint never moves past a batch that is not
durable. For Kafka and files ``send`` is already durable; the embedded engine accepts into memory and
makes it durable with its next state snapshot.
Outputs are small, like quix-streams sinks: connect lazily, send, close.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from shipper.config import KafkaSettings
from shipper.errors import ConfigError

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


class Output(ABC):
    """A destination for wire messages (``streams.wire``: each one batch of records of one file)."""

    #: Largest message this output accepts (the scheduler encodes within it and within wire.DEFAULT_LIMIT).
    max_record_bytes: int = 64 << 20
    #: True for an output in the same process (the embedded engine): ``send`` then receives
    #: ``streams.wire.ShippedBatch`` objects instead of their encoded bytes
    in_process: bool = False

    def describe(self) -> str:
        """A short human name for logs ("kafka://127.0.0.1:9092/logs")."""
        return type(self).__name__

    async def start(self) -> None:  # noqa: B027 - optional hook, most outputs connect lazily
        """Connect eagerly (used at start-up to report an unreachable destination once, clearly)."""

    @abstractmethod
    async def send(self, batch: Sequence[bytes]) -> None:
        """Deliver every record of ``batch`` durably, or raise ``OutputError``."""

    async def sync(self) -> None:  # noqa: B027 - optional hook, most outputs are durable on send
        """Make everything ``send`` accepted durable, or raise ``OutputError`` (the checkpoint then waits)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and files (pending data was already confirmed by ``send``)."""


def open_output(url: str, *, host: str, kafka: KafkaSettings | None = None) -> Output:
    """Build the output a URL names: ``kafka://H:P[,H:P...]/TOPIC`` or ``file:///ABS/PATH.jsonl``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost"):
            path = unquote(parts.netloc + parts.path)  # file://relative/path.jsonl
        if not path:
            raise ConfigError(f"output: {url!r} names no file")
        from shipper.outputs.file import FileOutput

        return FileOutput(path)
    if parts.scheme == "kafka":
        topic = parts.path.strip("/")
        if not parts.netloc or not topic or "/" in topic:
            raise ConfigError(f"output: {url!r} must look like kafka://HOST:PORT/TOPIC")
        if not _TOPIC.fullmatch(unquote(topic)) or unquote(topic) in (".", ".."):
            raise ConfigError(
                f"output: {unquote(topic)!r} is not a topic name Kafka accepts (1-249 of a-z A-Z 0-9 . _ -)"
            )
        for broker in parts.netloc.split(","):  # aiokafka would raise a bare ValueError much later
            broker_host, _, port = broker.rpartition(":")
            if not broker_host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(f"output: {broker!r} in {url!r} is not HOST:PORT (port 1-65535)")
        from shipper.outputs.kafka import KafkaOutput

        return KafkaOutput(parts.netloc, topic, key=host.encode("utf-8"), settings=kafka or KafkaSettings())
    raise ConfigError(f"output: unsupported URL scheme in {url!r} (use kafka:// or file://)")

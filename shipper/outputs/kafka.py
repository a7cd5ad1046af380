"""``kafka://HOST:PORT/TOPIC``: an aiokafka producer with acks=all and idempotence.

Every message's key is the source host, so one host's batches stay in one partition, in file order. A
batch is cut into producer record batches (``kafka.max_batch_size``) submitted with ``send_batch`` and
``send`` returns only when every one of them was acknowledged by all in-sync replicas. Any failure
(broker down, timeout, authorisation) discards the producer and raises ``OutputError``; the next attempt
builds a fresh producer, so an idempotent producer never carries a broken sequence into the retry.

LZ4 is compressed at ``kafka.lz4_level`` (default 0: LZ4's fast compressor, which is what librdkafka
and the Java client use by default). aiokafka itself always calls cramjam at level 9, which is LZ4 HC:
about ten times the CPU of the fast compressor for some 10% smaller batches, the single biggest cost of
the shipper before (``docs/cost-model.md``). ``use_lz4_level`` replaces the encoder aiokafka's record
builders call (process-wide: every producer of the process compresses at the level set last).

Security comes from ``[kafka]`` settings: ``security_protocol`` SSL or SASL_SSL with ``ssl_cafile``
(and optional client certificate), SASL mechanism SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka import codec as kafka_codec
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    NodeNotReadyError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner

from shipper.config import KafkaSettings
from shipper.errors import ConfigError, OutputError
from shipper.outputs.base import Output

_CODEC_CHECKS = {
    "lz4": kafka_codec.has_lz4,
    "zstd": kafka_codec.has_zstd,
    "snappy": kafka_codec.has_snappy,
    "gzip": kafka_codec.has_gzip,
}
_STOP_TIMEOUT_S = 5.0
_CREATE_WAIT_S = 3.0  # how long a missing topic may take to be auto-created before it is reported
_ENVELOPE_OVERHEAD = 512  # record batch and record headers around one value


def use_lz4_level(level: int) -> None:
    """Make aiokafka's record builders (pure-Python and Cython, v2 and legacy) compress LZ4 at ``level``
    (0-2: fast; 3-12: HC), in the frame format Kafka needs (independent blocks, no content checksum)."""
    import cramjam
    from aiokafka.record import default_records, legacy_records

    def lz4_encode(payload: Any, level: int = level) -> bytes:
        compressor = cramjam.lz4.Compressor(level=level, content_checksum=False, block_linked=False)
        compressor.compress(payload)
        return bytes(compressor.finish())

    lz4_encode.lz4_level = level  # type: ignore[attr-defined]
    modules: list[Any] = [default_records, legacy_records]
    with contextlib.suppress(ImportError):  # the Cython builders (absent with AIOKAFKA_NO_EXTENSIONS)
        from aiokafka.record._crecords import default_records as c_default
        from aiokafka.record._crecords import legacy_records as c_legacy

        modules += [c_default, c_legacy]
    for module in modules:
        if hasattr(module, "lz4_encode"):
            module.lz4_encode = lz4_encode


class KafkaOutput(Output):
    """Delivers wire messages to one topic, keyed by the source host."""

    def __init__(self, bootstrap: str, topic: str, *, key: bytes, settings: KafkaSettings) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.key = key
        self.settings = settings
        compression = settings.compression
        if compression != "none" and not _CODEC_CHECKS[compression]():
            raise ConfigError(
                f"kafka.compression: {compression} needs the 'cramjam' package (pip install cramjam)"
            )
        self.max_record_bytes = settings.max_batch_size - _ENVELOPE_OVERHEAD
        if compression == "lz4":
            use_lz4_level(settings.lz4_level)
        self._producer: AIOKafkaProducer | None = None
        self._discarding: set[asyncio.Task[None]] = set()
        self._partitioner = DefaultPartitioner()

    def describe(self) -> str:
        return f"kafka://{self.bootstrap}/{self.topic}"

    def _producer_options(self) -> dict[str, Any]:
        s = self.settings
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap.split(","),
            "client_id": s.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": None if s.compression == "none" else s.compression,
            "linger_ms": s.linger_ms,
            "max_batch_size": s.max_batch_size,
            "max_request_size": max(s.max_batch_size + _ENVELOPE_OVERHEAD, 1 << 20),
            "request_timeout_ms": s.request_timeout_ms,
            "security_protocol": s.security_protocol,
        }
        if s.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = self._ssl_context()
        if s.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = s.sasl_mechanism
            options["sasl_plain_username"] = s.username
            options["sasl_plain_password"] = s.resolved_password()
        return options

    def _ssl_context(self) -> ssl.SSLContext:
        s = self.settings
        try:
            context = create_ssl_context(
                cafile=s.ssl_cafile or None, certfile=s.ssl_certfile or None, keyfile=s.ssl_keyfile or None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"kafka.ssl_cafile/ssl_certfile: cannot load TLS files: {exc}") from exc
        context.check_hostname = s.ssl_check_hostname
        return context

    async def start(self) -> None:
        await self._ensure_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        producer = AIOKafkaProducer(**self._producer_options())
        try:
            await producer.start()
        except (TimeoutError, KafkaError, OSError) as exc:
            self._discard_later(producer)
            raise OutputError(
                f"{self.describe()}: cannot connect: {_reason(exc)}", reason=_cause(exc, "unreachable")
            ) from exc
        except asyncio.CancelledError:  # a shutdown deadline: never leave a half-started producer behind
            self._discard_later(producer)
            raise
        self._producer = producer
        return producer

    async def send(self, batch: Sequence[bytes]) -> None:
        if not batch:
            return
        producer = await self._ensure_producer()
        timeout = self.settings.request_timeout_ms / 1000 + 5.0
        try:
            await asyncio.wait_for(self._send(producer, batch), timeout)
        except OutputError:
            raise
        except (TimeoutError, KafkaError, OSError) as exc:
            self._producer = None
            self._discard_later(producer)
            cause = _cause(exc, "other")
            raise OutputError(
                f"{self.describe()}: delivery failed: {_explain(exc, cause, self.topic)}",
                reason=cause,
                permanent=cause == "message_too_large",
            ) from exc
        except asyncio.CancelledError:  # unknown delivery state: the next attempt uses a fresh producer
            self._producer = None
            self._discard_later(producer)
            raise

    async def _partitions(self, producer: AIOKafkaProducer) -> list[int]:
        """The topic's partitions; a topic the broker does not have is named at once (aiokafka would wait
        its whole request timeout and then say nothing useful)."""
        client = producer.client
        known = client.cluster.partitions_for_topic(self.topic)
        if known:
            return sorted(known)
        metadata = await client.fetch_all_metadata()
        if self.topic in metadata.unauthorized_topics:
            raise OutputError(
                f"{self.describe()}: not authorised to write topic {self.topic!r} (check the ACLs of the "
                f"shipper's user)",
                reason="not_authorized",
            )
        if self.topic not in metadata.topics():
            try:  # a broker with auto-creation on creates it now
                return sorted(await asyncio.wait_for(producer.partitions_for(self.topic), _CREATE_WAIT_S))
            except (TimeoutError, UnknownTopicOrPartitionError):
                raise OutputError(
                    f"{self.describe()}: topic {self.topic!r} does not exist and the broker does not create"
                    f" it (create it first: kafka-topics.sh --create --topic {self.topic} --partitions 8)",
                    reason="unknown_topic",
                ) from None
        return sorted(await producer.partitions_for(self.topic))

    async def _send(self, producer: AIOKafkaProducer, batch: Sequence[bytes]) -> None:
        partitions = await self._partitions(producer)
        partition = self._partitioner(self.key, partitions, partitions)
        key = self.key
        pending = []
        builder = producer.create_batch()
        for value in batch:
            if builder.append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(builder, self.topic, partition=partition))
                builder = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)  # the first record always fits
        pending.append(await producer.send_batch(builder, self.topic, partition=partition))
        await asyncio.gather(*pending)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._discard_later(producer)
        if self._discarding:
            await asyncio.wait(self._discarding, timeout=_STOP_TIMEOUT_S)

    def _discard_later(self, producer: AIOKafkaProducer) -> None:
        """Stop a producer in the background: with the broker gone, ``stop()`` (which flushes) can take
        the whole request timeout, and the retry must not wait for it."""
        task = asyncio.ensure_future(self._stop_quietly(producer))
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)

    async def _stop_quietly(self, producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), self.settings.request_timeout_ms / 1000 + 5.0)


def _cause(exc: BaseException, default: str) -> str:
    """The bounded metric label of a client error."""
    if isinstance(exc, TopicAuthorizationFailedError | ClusterAuthorizationFailedError):
        return "not_authorized"
    if isinstance(exc, UnknownTopicOrPartitionError):
        return "unknown_topic"
    if isinstance(exc, MessageSizeTooLargeError | RecordTooLargeError):
        return "message_too_large"
    if isinstance(exc, KafkaConnectionError | NodeNotReadyError | OSError):
        return "unreachable"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return default


def _explain(exc: BaseException, cause: str, topic: str) -> str:
    text = _reason(exc)
    if cause == "message_too_large":
        return (
            f"{text} (the broker's message.max.bytes for {topic!r} is below the shipper's 512 KiB messages)"
        )
    if cause == "not_authorized":
        return f"{text} (check the ACLs of the shipper's user on {topic!r})"
    return text


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())

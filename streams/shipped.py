"""Reading shipped data back: wire messages from ``file://`` output files or from a Kafka topic.

Both readers yield ``(where, message)`` pairs, ``where`` naming the message for an error line
(``out.jsonl:12`` or ``mpwatch-records[3]@1042``, i.e. topic[partition]@offset); ``decode_all`` turns
them into batches and reports each malformed message once through a callback, so every caller
(``mpwatch records``, ``mpwatch diagnose`` over shipped data) counts and skips alike.

A topic is read like ``kafka-console-consumer``: from the end (new messages only) unless
``from_beginning``; ``until_end`` stops once every partition reached the end offset it had when reading
started (a snapshot: what ``diagnose`` wants), else it follows until cancelled. A topic that does not
exist, or a broker that cannot be reached, is an ``InputError`` naming it, not a silent wait.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from streams.errors import InputError, WireFormatError
from streams.wire import ShippedBatch, decode

Located = tuple[str, bytes]
OnError = Callable[[str, WireFormatError], None]

_CONNECT_TIMEOUT_S = 10.0


def is_kafka_url(source: str) -> bool:
    return source.startswith("kafka://")


def file_path(source: str) -> str:
    """The local path of a ``file://`` URL or plain path."""
    if source.startswith("file://"):
        parts = urlsplit(source)
        return (
            unquote(parts.netloc + parts.path)
            if parts.netloc not in ("", "localhost")
            else unquote(parts.path)
        )
    return source


def looks_shipped(path: str) -> bool:
    """True when ``path`` is a regular file whose first line is a wire message (a ``file://`` output)."""
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return head.startswith(b'{"v":')


def read_file(path: str) -> Iterator[Located]:
    """Every non-blank line of a ``file://`` output file, named ``path:LINE``."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield f"{path}:{number}", line


def parse_kafka_url(url: str) -> tuple[str, str]:
    """(bootstrap servers, topic) of ``kafka://HOST:PORT[,HOST:PORT]/TOPIC``."""
    parts = urlsplit(url)
    topic = parts.path.strip("/")
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise InputError(f"{url!r} must look like kafka://HOST:PORT/TOPIC")
    return parts.netloc, topic


async def read_topic(
    url: str, *, from_beginning: bool = True, until_end: bool = True
) -> AsyncIterator[Located]:
    """The messages of a topic (all partitions), each named ``topic[partition]@offset``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    bootstrap, topic = parse_kafka_url(url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=10000,
    )
    try:
        await asyncio.wait_for(consumer.start(), _CONNECT_TIMEOUT_S)
    except (TimeoutError, KafkaError, OSError) as exc:
        await consumer.stop()
        raise InputError(f"{url}: cannot reach the broker: {exc or type(exc).__name__}") from exc
    try:
        topics = await consumer.topics()
        if topic not in topics:
            raise InputError(f"{url}: topic {topic!r} does not exist on {bootstrap}")
        found = consumer.partitions_for_topic(topic)
        for _ in range(50):  # the cluster metadata may not hold the topic's partitions yet
            if found:
                break
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.1)
        if not found:
            raise InputError(f"{url}: topic {topic!r} has no partitions (yet)")
        partitions = sorted(found)
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        ends = await consumer.end_offsets(assigned) if until_end else {}
        remaining = {tp for tp in assigned if not until_end or await consumer.position(tp) < ends[tp]}
        while remaining or not until_end:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, messages in fetched.items():
                for message in messages:
                    if until_end and message.offset >= ends[tp]:
                        break
                    yield f"{topic}[{tp.partition}]@{message.offset}", message.value or b""
            if until_end:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


def decode_all(messages: Iterable[Located], on_error: OnError) -> Iterator[ShippedBatch]:
    """Decoded batches; a malformed message goes to ``on_error(where, error)`` and is skipped."""
    for where, data in messages:
        try:
            yield decode(data)
        except WireFormatError as exc:
            on_error(where, exc)


def collect(sources: Iterable[str], on_error: OnError) -> Iterator[ShippedBatch]:
    """Every batch of the given sources (``file://`` files, plain paths, ``kafka://`` topics read from
    the beginning to their current end), in order."""
    for source in sources:
        if is_kafka_url(source):
            yield from decode_all(drain(read_topic(source)), on_error)
        else:
            yield from decode_all(read_file(file_path(source)), on_error)


def drain(messages: AsyncIterator[Located]) -> Iterator[Located]:
    """The async reader's items, in order, to a synchronous caller: the consumer runs on its own event
    loop in a thread and hands items over through a bounded queue (memory stays flat on big topics)."""
    handoff: queue.Queue[Located | BaseException | None] = queue.Queue(maxsize=1024)
    stop = threading.Event()

    def hand(item: Located | BaseException | None) -> bool:
        """Put ``item`` in the queue unless the caller stopped listening; False when it did."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    async def pump() -> None:
        try:
            async for item in messages:
                if not hand(item):
                    return
        except BaseException as exc:  # re-raised in the caller's thread
            hand(exc)
            return
        hand(None)

    worker = threading.Thread(target=asyncio.run, args=(pump(),), name="mpwatch-topic-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=15)

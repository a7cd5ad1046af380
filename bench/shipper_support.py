"""Shared pieces of the shipper benchmarks (not a benchmark itself: `make bench` runs bench_*.py only).

``broker()`` yields a bootstrap address: KAFKA_BOOTSTRAP when set, otherwise a broker of the bench's own
(deploy/local/kafka on free ports in a temporary run folder), stopped at the end; ``bench_setup`` adds a
scratch folder. ``bench_ship_command`` is `mpwatch ship` as every bench runs it (host BENCH, warnings
only, into a Kafka topic); ``arguments`` starts a bench's command line with its docstring as help.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402

from streams.core.correlator import Correlator, site_fallback  # noqa: E402
from tests.integration.kafka_helpers import LocalBroker, create_topic  # noqa: E402
from tests.integration.shipper_proc import ship_command  # noqa: E402


def note(text: str) -> None:
    """Progress and context go to stderr; stdout carries only `name: value unit` lines."""
    print(f"# {text}", file=sys.stderr, flush=True)


def result(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    print(f"{name}: {text} {unit}", flush=True)


@contextlib.contextmanager
def broker() -> Iterator[str]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if bootstrap:
        note(f"using the broker at {bootstrap} (KAFKA_BOOTSTRAP)")
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="mpwatch-bench-kafka-") as scratch:
        local = LocalBroker.on_free_ports(Path(scratch) / "run", tls=False)
        note("starting a broker of its own (deploy/local/kafka)")
        try:
            yield local.up()
        finally:
            local.down()


@contextlib.contextmanager
def bench_setup(prefix: str) -> Iterator[tuple[Path, str]]:
    """(scratch folder, bootstrap address), both removed / stopped at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, broker() as bootstrap:
        yield Path(tmp), bootstrap


def arguments(doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def bench_ship_command(
    bootstrap: str,
    topic: str,
    paths: Sequence[Path],
    state_dir: Path,
    *,
    once: bool = False,
    metrics_port: int | None = None,
) -> list[str]:
    """`mpwatch ship` into ``topic``, as every shipper bench runs it."""
    return ship_command(
        paths=paths,
        output=f"kafka://{bootstrap}/{topic}",
        state_dir=state_dir,
        host="BENCH",
        once=once,
        metrics_port=metrics_port,
        log_level="warning",
    )


def new_topic(bootstrap: str, prefix: str, partitions: int = 1) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topic(bootstrap, name, partitions))
    return name


async def _end_total(consumer: AIOKafkaConsumer, topic: str) -> int:
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    return sum(offsets.values())


async def topic_values(bootstrap: str, topic: str) -> AsyncIterator[bytes]:
    """Every message value of ``topic``, from its start to the end offsets it has now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for message in messages:
                    yield message.value or b""
    finally:
        await consumer.stop()


def host_correlator(correlators: dict[str, Correlator], host: str) -> Correlator:
    """The bench's correlator of ``host`` (created with the site fallback over all of them)."""
    correlator = correlators.get(host)
    if correlator is None:
        correlator = correlators[host] = Correlator(
            host, fallback=lambda: site_fallback(correlators.values())
        )
    return correlator


async def _wire_records(bootstrap: str, topic: str) -> tuple[int, int]:
    """(records, distinct record ids) inside every wire message of ``topic``."""
    from streams.wire import decode

    records = 0
    ids: set[tuple[str, int]] = set()
    async for value in topic_values(bootstrap, topic):
        batch = decode(value)
        records += len(batch.records)
        ids.update((batch.header.file_id, r.offset) for r in batch.records)
    return records, len(ids)


def wire_records_in(bootstrap: str, topic: str) -> int:
    """Records delivered to ``topic`` in wire messages; exits when any record id arrived twice."""
    records, distinct = asyncio.run(_wire_records(bootstrap, topic))
    if records != distinct:
        raise SystemExit(f"{topic}: {records} records but {distinct} distinct ids (duplicates)")
    return records


class OffsetWatch:
    """Reads a topic's end offsets (the number of records in it) from a loop of its own."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.loop = asyncio.new_event_loop()
        self.consumer = self.loop.run_until_complete(self._start(bootstrap))

    @staticmethod
    async def _start(bootstrap: str) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        return consumer

    def count(self) -> int:
        return self.loop.run_until_complete(_end_total(self.consumer, self.topic))

    def close(self) -> None:
        self.loop.run_until_complete(self.consumer.stop())
        self.loop.close()

"""Start-up times of the local Kafka broker and aiokafka produce throughput against it.

Prints `name: value unit` lines:

  kafka_cold_start: N s          first start on a machine: jar download, format, broker ready
  kafka_warm_start: N s          jars cached, fresh data folder (format included) until the broker answers
  kafka_produce_100k_200b: N msg/s   aiokafka, acks=all, idempotent, lz4, batched (linger 20 ms, 256 KiB)
  kafka_produce_100k_200b_zstd: N msg/s   the same with zstd

The cold start is measured now with `--cold` (empty jar cache and Maven repository in a temp folder, so it
downloads everything again); without it, the line shows what deploy/local/kafka recorded when it last
downloaded the jars on this machine, and is left out when there is no such record.

With KAFKA_BOOTSTRAP set, only the produce lines are measured, against that broker. Otherwise the bench
starts its own broker on free ports and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from tests.integration.kafka_helpers import LocalBroker, create_topic  # noqa: E402

MESSAGES = 100_000
MESSAGE_BYTES = 200
PARTITIONS = 3


def note(text: str) -> None:
    print(f"# {text}", file=sys.stderr)


def jar_cache_dir() -> Path:
    """Where deploy/local/kafka keeps the jars of the pinned version (mirrors the script's defaults)."""
    pom = (REPO_ROOT / "deploy" / "local" / "kafka-pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if match is None:
        raise SystemExit("deploy/local/kafka-pom.xml names no kafka.version")
    root = os.environ.get("MPWATCH_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mpwatch"
    )
    return Path(root) / f"kafka-{match.group(1)}"


def timed_start(broker: LocalBroker) -> float:
    started = time.perf_counter()
    broker.up()
    return time.perf_counter() - started


def measure_cold_start(scratch: Path) -> float:
    """A first start as on a fresh machine: nothing cached, neither our jars nor Maven's repository."""
    extra = {"MPWATCH_CACHE_DIR": str(scratch / "cache"), "KAFKA_MAVEN_REPO": str(scratch / "m2")}
    broker = LocalBroker.on_free_ports(scratch / "cold-run", tls=False, extra_env=extra)
    try:
        seconds = timed_start(broker)
        if not broker.last_start()["jars_downloaded"]:
            raise SystemExit("the cold start did not download the jars: the measurement would be wrong")
        return seconds
    finally:
        broker.down()


def recorded_cold_start() -> float | None:
    record = jar_cache_dir() / "cold-start.json"
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    note(
        f"kafka_cold_start as recorded by deploy/local/kafka at {data['at']} (run with --cold to re-measure)"
    )
    return float(data["total_s"])


def payloads(count: int) -> list[bytes]:
    """Log-like records of exactly MESSAGE_BYTES bytes: realistic for compression, not all identical."""
    out = []
    for i in range(count):
        line = (
            f"Http verification .sms_aut succeeded with status code 200, OK  $$<SMS_MP_CONTROL_MANAGER>"
            f"<12-06-2004 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}+480>"
            f"<thread={1000 + i % 97} (0x{1000 + i % 97:X})> seq={i}"
        ).encode()
        out.append(line.ljust(MESSAGE_BYTES, b".")[:MESSAGE_BYTES])
    return out


async def produce_rate(bootstrap: str, compression: str, values: list[bytes]) -> float:
    """Messages per second from the first send until every message is acknowledged by the broker."""
    topic = f"bench-produce-{compression}-{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic, partitions=PARTITIONS)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type=compression,
        linger_ms=20,
        max_batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        keys = [f"mp{i:02d}".encode() for i in range(24)]
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=keys[i % 24]) for i, value in enumerate(values)]
        await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    await check_all_stored(bootstrap, topic, len(values))
    await delete_topic(bootstrap, topic)
    return len(values) / seconds


async def check_all_stored(bootstrap: str, topic: str, expected: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
    finally:
        await consumer.stop()
    if sum(ends.values()) != expected:
        raise SystemExit(f"{topic} holds {sum(ends.values())} records, {expected} were acknowledged")


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def produce_benchmarks(bootstrap: str) -> None:
    values = payloads(MESSAGES)
    for name, compression in (("kafka_produce_100k_200b", "lz4"), ("kafka_produce_100k_200b_zstd", "zstd")):
        await produce_rate(bootstrap, compression, values[:5000])  # warm-up: connections, codec, JIT
        print(f"{name}: {await produce_rate(bootstrap, compression, values):.0f} msg/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="measure a cold start now (downloads ~45 MB)")
    args = parser.parse_args()

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if bootstrap:
        note(f"KAFKA_BOOTSTRAP={bootstrap}: start times not measured, produce against that broker")
        asyncio.run(produce_benchmarks(bootstrap))
        return 0

    with tempfile.TemporaryDirectory(prefix="mpwatch-bench-kafka-") as scratch_dir:
        scratch = Path(scratch_dir)
        cold = measure_cold_start(scratch) if args.cold else recorded_cold_start()
        if cold is not None:
            print(f"kafka_cold_start: {cold:.1f} s", flush=True)

        broker = LocalBroker.on_free_ports(scratch / "run", tls=False)
        fetched = broker.run("fetch", timeout=900)  # a first run downloads here: the warm start stays warm
        if fetched.returncode != 0:
            raise SystemExit(f"deploy/local/kafka fetch failed:\n{fetched.stderr}")
        try:
            warm = timed_start(broker)
            print(f"kafka_warm_start: {warm:.1f} s", flush=True)
            asyncio.run(produce_benchmarks(broker.bootstrap))
        finally:
            broker.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())

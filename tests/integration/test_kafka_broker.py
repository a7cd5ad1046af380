"""The local Apache Kafka broker behaves like Kafka: these tests talk to a real broker through aiokafka.

They prove what the shipper and the Faust workers rely on: idempotent acks=all produce, consumer groups
that resume from their commits, log compaction, the TLS+SCRAM listener, and a `down` that leaves nothing
running.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from tests.integration.kafka_helpers import (
    KafkaTls,
    LocalBroker,
    consume_all,
    create_topic,
    pids_mentioning,
    port_listening,
    process_running,
)

pytestmark = pytest.mark.kafka


def unique(name: str) -> str:
    """A topic or group name no earlier run against the same broker used."""
    return f"it-{name}-{uuid.uuid4().hex[:10]}"


async def test_idempotent_acks_all_produce_is_read_back_once_in_key_order(
    kafka_bootstrap: str,
) -> None:
    topic = unique("produce")
    await create_topic(kafka_bootstrap, topic, partitions=3)
    sent = [(f"host-{i % 7}".encode(), f"record {i}".encode()) for i in range(300)]

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=key, value=value) for key, value in sent]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()

    records = await consume_all(kafka_bootstrap, topic)
    assert sorted((r.key, r.value) for r in records) == sorted(sent)
    assert len({r.partition for r in records}) > 1, "keys should spread over the partitions"
    by_key: dict[bytes | None, list[bytes | None]] = defaultdict(list)
    for record in records:  # consume_all orders by partition, then offset
        by_key[record.key].append(record.value)
    for key, values in by_key.items():
        assert values == [value for k, value in sent if k == key], f"order of key {key!r} changed"
    acked = {(m.partition, m.offset) for m in metadata}
    assert acked == {(r.partition, r.offset) for r in records}, "acked offsets are where the records are"


async def test_consumer_group_resumes_from_its_committed_offsets(kafka_bootstrap: str) -> None:
    topic, group = unique("group"), unique("group")
    await create_topic(kafka_bootstrap, topic, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(40):  # 20 records in each partition
            await producer.send(topic, partition=i % 2, value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    # First consumer: process a part, commit exactly what it processed, leave the group.
    first = consumer()
    await first.start()
    processed: list[tuple[int, int, bytes | None]] = []
    try:
        while len(processed) < 10:
            batches = await asyncio.wait_for(first.getmany(timeout_ms=1000, max_records=7), timeout=60)
            for batch in batches.values():
                processed.extend((r.partition, r.offset, r.value) for r in batch)
        committed = {}
        for partition in {p for p, _, _ in processed}:
            committed[TopicPartition(topic, partition)] = 1 + max(
                o for p, o, _ in processed if p == partition
            )
        await first.commit(committed)
    finally:
        await first.stop()
    assert len(processed) < 40, "the first consumer must leave work for the second"

    # A new consumer of the same group starts where the commits say, and sees each record once overall.
    second = consumer()
    await second.start()
    resumed: list[tuple[int, int, bytes | None]] = []
    try:
        for tp, offset in committed.items():
            assert await second.committed(tp) == offset
        while len(processed) + len(resumed) < 40:
            batches = await asyncio.wait_for(second.getmany(timeout_ms=1000), timeout=60)
            for batch in batches.values():
                resumed.extend((r.partition, r.offset, r.value) for r in batch)
    finally:
        await second.stop()

    for tp, offset in committed.items():
        assert min(o for p, o, _ in resumed if p == tp.partition) == offset
    seen = Counter(v for _, _, v in processed + resumed)
    assert seen == Counter(f"v{i}".encode() for i in range(40)), "each record once over both consumers"


async def test_compacted_topic_keeps_only_the_latest_value_per_key(kafka_bootstrap: str) -> None:
    """The broker's log cleaner really removes superseded values.

    segment.ms is tiny, so the next append after a pause rolls the segment holding the updates; that
    closed segment is then dirty beyond min.cleanable.dirty.ratio and the cleaner (backoff 200 ms in
    deploy/local/kafka's config) compacts it. The active segment is never compacted, which is why a
    last record is produced after the pause.
    """
    topic = unique("compacted")
    config = {
        "cleanup.policy": "compact",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "min.compaction.lag.ms": "0",
        "delete.retention.ms": "100",
    }
    await create_topic(kafka_bootstrap, topic, partitions=1, config=config)
    keys = [f"server-{i}".encode() for i in range(5)]
    latest: dict[bytes, bytes] = {}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for round_no in range(40):
            for key in keys:
                latest[key] = f"{key.decode()} state {round_no}".encode()
                await producer.send(topic, key=key, value=latest[key])
        await producer.flush()
        await asyncio.sleep(0.5)  # older than segment.ms: the next append rolls the segment
        await producer.send_and_wait(topic, key=b"roll", value=b"closes the segment with the updates")
    finally:
        await producer.stop()

    produced = len(keys) * 40 + 1
    records = await consume_all(kafka_bootstrap, topic)
    assert len(records) >= len(keys) + 1
    deadline = asyncio.get_running_loop().time() + 90
    while len(records) > len(keys) + 1:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(
                f"the log cleaner did not compact {topic} within 90 s: still {len(records)} of {produced} "
                "records; see the 'kafka.log.LogCleaner' lines of the broker log (deploy/local/kafka logs)"
            )
        await asyncio.sleep(0.5)
        records = await consume_all(kafka_bootstrap, topic)

    assert {r.key: r.value for r in records if r.key in latest} == latest
    assert [r.key for r in records].count(b"roll") == 1
    assert records[-1].offset == produced - 1, "compaction keeps offsets; the last record keeps its offset"


async def test_tls_scram_listener_serves_clients_with_the_right_credentials(kafka_tls: KafkaTls) -> None:
    topic = unique("tls")
    await create_topic(kafka_tls.bootstrap, topic, partitions=1, **kafka_tls.client_kwargs())
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka_tls.client_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=b"mp01", value=b"over TLS with SCRAM-SHA-512")
    finally:
        await producer.stop()

    records = await consume_all(kafka_tls.bootstrap, topic, **kafka_tls.client_kwargs())
    assert [(r.key, r.value) for r in records] == [(b"mp01", b"over TLS with SCRAM-SHA-512")]


@pytest.mark.parametrize(
    ("username", "password"),
    [(None, "not-the-password"), ("no-such-user", None)],
    ids=["wrong-password", "unknown-user"],
)
async def test_tls_scram_listener_refuses_wrong_credentials(
    kafka_tls: KafkaTls,
    caplog: pytest.LogCaptureFixture,
    username: str | None,
    password: str | None,
) -> None:
    kwargs = kafka_tls.client_kwargs(username=username, password=password)
    host, port = kafka_tls.bootstrap.rsplit(":", 1)

    # On one connection the broker's answer is a SASL authentication failure naming the cause.
    with pytest.raises(
        SaslAuthenticationFailed, match="invalid credentials with SASL mechanism SCRAM-SHA-512"
    ):
        await create_conn(
            host,
            int(port),
            security_protocol="SASL_SSL",
            ssl_context=kwargs["ssl_context"],
            sasl_mechanism=kwargs["sasl_mechanism"],
            sasl_plain_username=kwargs["sasl_plain_username"],
            sasl_plain_password=kwargs["sasl_plain_password"],
            request_timeout_ms=10_000,
        )

    # A producer cannot bootstrap, and aiokafka's log says why.
    producer = AIOKafkaProducer(**kwargs)
    with caplog.at_level(logging.WARNING, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text


async def test_tls_listener_is_refused_by_clients_that_do_not_trust_its_ca(kafka_tls: KafkaTls) -> None:
    host, port = kafka_tls.bootstrap.rsplit(":", 1)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await create_conn(
            host,
            int(port),
            security_protocol="SASL_SSL",
            ssl_context=ssl.create_default_context(),  # the system CAs only
            sasl_mechanism=kafka_tls.mechanism,
            sasl_plain_username=kafka_tls.username,
            sasl_plain_password=kafka_tls.password,
            request_timeout_ms=10_000,
        )


def test_up_is_idempotent_and_down_leaves_no_broker_process(tmp_path: Path) -> None:
    """A broker of its own (other ports, other run folder), so the session's broker is not disturbed."""
    broker = LocalBroker.on_free_ports(tmp_path / "run", tls=False)
    try:
        bootstrap = broker.up()
        pid = broker.pid()
        assert bootstrap == f"127.0.0.1:{broker.port}"
        assert process_running(pid)
        assert port_listening(broker.port)

        again = broker.run("up")
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip().splitlines()[-1] == bootstrap
        assert "already running" in again.stderr
        assert broker.pid() == pid
        assert pids_mentioning(str(broker.run_dir)) == [pid], "exactly one broker for this run folder"
    finally:
        broker.run("down")

    assert not process_running(pid)
    assert not port_listening(broker.port)
    assert not port_listening(broker.controller_port)
    assert pids_mentioning(str(broker.run_dir)) == []
    assert not broker.pid_file.exists()
    status = broker.run("status")
    assert status.returncode == 3, status.stderr
    assert "not running" in status.stderr

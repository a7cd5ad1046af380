"""``mpwatch worker`` against a real broker answers like the offline oracle.

Each test runs the worker as a subprocess (memory:// store, its own app id and topics), ships fixture
log sets with the real shipper straight to the records topic (``kafka://``, keyed by source host) and
polls the worker's HTTP API until ``GET /api/servers/{server}?now=<oracle now>`` equals the entry of
``streams.offline.run`` over the same logs. The worker is stopped by its PID in a ``finally``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.logsets import SCENARIOS as ALL
from tests.fixtures.logsets import write_logset
from tests.integration.kafka_helpers import KafkaTls
from tests.integration.worker_proc import (
    WorkerProc,
    metric,
    oracle,
    running,
    send_raw,
    ship,
    tag,
    wait_equal,
)

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]

SCENARIOS = tuple(ALL)


@pytest.mark.parametrize("name", SCENARIOS)
async def test_worker_answers_like_the_oracle(tmp_path: Path, kafka_bootstrap: str, name: str) -> None:
    folder = write_logset(name, tmp_path / "logs", style="text")
    view = oracle(folder)
    assert view["servers"]
    worker = WorkerProc(tmp_path, kafka_bootstrap, tag())
    with running(worker):
        url = f"kafka://{kafka_bootstrap}/{worker.records}"
        await ship(folder, url, tmp_path / "state")
        await asyncio.to_thread(wait_equal, worker, view)
        records = metric(worker, "mpwatch_records_in_total")
        # the same batches delivered twice (a fresh checkpoint resends everything): nothing changes
        await ship(folder, url, tmp_path / "state-again")
        deadline = time.monotonic() + 60
        while metric(worker, "mpwatch_records_in_total") < 2 * records and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert metric(worker, "mpwatch_records_in_total") == 2 * records
        await asyncio.to_thread(wait_equal, worker, view, 5)
        status, body = worker.get_json("/api/servers/NO-SUCH-SERVER")
        assert status == 404 and body["error"] == "unknown server NO-SUCH-SERVER"
        assert worker.get_json("/api/servers/x?now=yesterday")[0] == 400


async def test_malformed_message_is_counted_and_skipped(tmp_path: Path, kafka_bootstrap: str) -> None:
    folder = write_logset("install_retrying", tmp_path / "logs", style="text")
    view = oracle(folder)
    worker = WorkerProc(tmp_path, kafka_bootstrap, tag())
    with running(worker):
        await send_raw(
            kafka_bootstrap, worker.records, b"SOMEHOST", b"{not json", b'{"v":"9.0","h":{},"r":[]}'
        )
        await ship(folder, f"kafka://{kafka_bootstrap}/{worker.records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, worker, view)
        assert metric(worker, 'mpwatch_malformed_total{reason="wire_format"}') == 1
        assert metric(worker, "mpwatch_wire_version_rejected_total") == 1
        health = await read_health(kafka_bootstrap, worker.records.replace("-records", "-health"))
        assert set(health) == {entry["server"] for entry in view["servers"]}
        for key, change in health.items():  # the last change per server is keyed by it and names it
            assert change["server"] == key and {"state", "codes", "now"} <= set(change)


async def read_health(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """Last health change per key on ``topic`` (read until 3 s pass without a message)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    last: dict[str, dict[str, Any]] = {}
    try:
        while batch := await consumer.getmany(timeout_ms=3000):
            for messages in batch.values():
                for message in messages:
                    assert message.key is not None and message.value is not None
                    last[message.key.decode()] = orjson.loads(message.value)
    finally:
        await consumer.stop()
    return last


async def test_sigterm_stops_the_worker_cleanly(tmp_path: Path, kafka_bootstrap: str) -> None:
    worker = WorkerProc(tmp_path, kafka_bootstrap, tag())
    with running(worker):
        assert worker.get_json("/api/servers")[1]["servers"] == []
        assert worker.get("/-/healthy") == (200, b"ok\n")
        # the Docker image's HEALTHCHECK finds the worker from its MPWATCH_WEB_PORT alone
        probe = [sys.executable, str(REPO / "deploy" / "docker" / "healthcheck.py")]
        env = {**os.environ, "MPWATCH_WEB_PORT": str(worker.port)}
        env.pop("MPWATCH_HEALTH_URL", None)
        env.pop("MPWATCH_WEB_HOST", None)
        assert subprocess.run(probe, env=env, check=False, capture_output=True).returncode == 0
        assert worker.stop() == 0
        assert subprocess.run(probe, env=env, check=False, capture_output=True).returncode == 1


async def test_two_workers_then_one_killed_the_survivor_answers(tmp_path: Path, kafka_bootstrap: str) -> None:
    folder = write_logset("concurrent_installs", tmp_path / "logs", style="text")
    view = oracle(folder)
    name = tag()
    first, second = WorkerProc(tmp_path, kafka_bootstrap, name), WorkerProc(tmp_path, kafka_bootstrap, name)
    with running(first, second):
        await ship(folder, f"kafka://{kafka_bootstrap}/{first.records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, first, view, 150)  # each answers for every server (routed)
        await asyncio.to_thread(wait_equal, second, view, 30)
        # kill the worker holding more servers, so the survivor must recover them from the changelogs
        owned = {w: len(w.get_json("/api/servers/local")[1]["servers"]) for w in (first, second)}
        victim = max(owned, key=lambda w: owned[w])
        survivor = second if victim is first else first
        assert owned[victim] > 0
        victim.stop(signal.SIGKILL)
        await asyncio.to_thread(wait_equal, survivor, view, 150)
        assert len(survivor.get_json("/api/servers/local")[1]["servers"]) == len(view["servers"])


async def test_rocksdb_store_answers_like_the_oracle(tmp_path: Path, kafka_bootstrap: str) -> None:
    folder = write_logset("install_retrying", tmp_path / "logs", style="text")
    view = oracle(folder)
    worker = WorkerProc(tmp_path, kafka_bootstrap, tag(), store="rocksdb://")
    with running(worker):
        await ship(folder, f"kafka://{kafka_bootstrap}/{worker.records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, worker, view)
        # restarted with its local RocksDB deleted: the tables come back from the changelog topics
        worker.stop()
        data_dir = tmp_path / f"data-{worker.port}"
        assert data_dir.is_dir() and any(data_dir.rglob("*"))
        shutil.rmtree(data_dir)
        with running(worker):
            await asyncio.to_thread(wait_equal, worker, view, 120)
        assert data_dir.is_dir()  # rebuilt locally


async def test_a_killed_worker_rejoins_and_both_answer_for_every_server(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    folder = write_logset("demo", tmp_path / "logs", style="text")
    view = oracle(folder)
    name = tag()
    first, second = WorkerProc(tmp_path, kafka_bootstrap, name), WorkerProc(tmp_path, kafka_bootstrap, name)
    with running(first, second):
        await ship(folder, f"kafka://{kafka_bootstrap}/{first.records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, first, view, 150)
        first.stop(signal.SIGKILL)
        await asyncio.to_thread(wait_equal, second, view, 150)
        first.start()  # same port, same group: it rejoins and takes partitions back
        first.wait_ready()
        await asyncio.to_thread(wait_equal, first, view, 150)
        await asyncio.to_thread(wait_equal, second, view, 30)

        def owned() -> list[int]:
            return [len(w.get_json("/api/servers/local")[1]["servers"]) for w in (first, second)]

        deadline = time.monotonic() + 60  # every server owned exactly once once the rebalance settled
        while sum(owned()) != len(view["servers"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert sum(owned()) == len(view["servers"]), owned()


async def test_a_worker_on_the_sasl_ssl_listener_answers_like_the_oracle(
    tmp_path: Path, kafka_bootstrap: str, kafka_tls: KafkaTls
) -> None:
    """TLS checked against the broker's CA and SCRAM-SHA-512, as a production cluster asks: the worker
    consumes, keeps its changelogs and produces its events through the SASL_SSL listener only."""
    folder = write_logset("install_retrying", tmp_path / "logs", style="text")
    view = oracle(folder)
    kafka = (
        f'[kafka]\nsecurity_protocol = "SASL_SSL"\nsasl_mechanism = "{kafka_tls.mechanism}"\n'
        f'username = "{kafka_tls.username}"\npassword = "{kafka_tls.password}"\n'
        f'ssl_cafile = "{kafka_tls.ca_file}"\n'
    )
    worker = WorkerProc(tmp_path, kafka_tls.bootstrap, tag(), extra=kafka)
    with running(worker):
        await ship(folder, f"kafka://{kafka_bootstrap}/{worker.records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, worker, view)


async def test_three_workers_each_answer_for_every_server(tmp_path: Path, kafka_bootstrap: str) -> None:
    """table_route past two workers (a Faust bug report says it breaks there): every worker answers for
    every server, whichever of the three owns it, and each server is owned exactly once."""
    folder = write_logset("concurrent_installs", tmp_path / "logs", style="text")
    view = oracle(folder)
    name = tag()
    workers = [WorkerProc(tmp_path, kafka_bootstrap, name) for _ in range(3)]
    with running(*workers):
        await ship(folder, f"kafka://{kafka_bootstrap}/{workers[0].records}", tmp_path / "state")
        await asyncio.to_thread(wait_equal, workers[0], view, 150)
        for worker in workers[1:]:
            await asyncio.to_thread(wait_equal, worker, view, 60)
        owned = [len(w.get_json("/api/servers/local")[1]["servers"]) for w in workers]
        assert sum(owned) == len(view["servers"]), owned
        assert sum(1 for n in owned if n) >= 2, owned  # answers were routed between owners

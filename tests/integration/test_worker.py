"""``mpwatch worker`` against a real broker answers like the offline oracle.

Each test runs the worker as a subprocess (memory:// store, its own app id and topics), ships fixture
log sets with the real shipper straight to the records topic (``kafka://``, keyed by source host) and
polls the worker's HTTP API until ``GET /api/servers/{server}?now=<oracle now>`` equals the entry of
``streams.offline.run`` over the same logs. The worker is stopped by its PID in a ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.config import ShipperConfig, validate
from streams.loader import discover
from streams.offline import run
from tests.fixtures.logsets import SCENARIOS as ALL
from tests.fixtures.logsets import write_logset
from tests.shipper_harness import REPO, ship_once_async

pytestmark = pytest.mark.kafka

SCENARIOS = tuple(ALL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProc:
    def __init__(
        self, tmp: Path, bootstrap: str, tag: str, port: int | None = None, store: str = "memory://"
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.records = f"{tag}-records"
        self.config = tmp / f"worker-{self.port}.toml"
        self.config.write_text(
            f'broker = "{bootstrap}"\napp_id = "{tag}"\nstore = "{store}"\n'
            f'data_dir = "{tmp / f"data-{self.port}"}"\nweb_port = {self.port}\npartitions = 3\n'
            f'hold_seconds = 1.0\ntick_seconds = 0.5\nlog_level = "info"\n'
            f'[topics]\nrecords = "{tag}-records"\nevents = "{tag}-events"\nhealth = "{tag}-health"\n'
        )
        self.log = tmp / f"worker-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--config", str(self.config)],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self.get(path)
        return status, json.loads(body)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            try:
                if self.get("/api/openapi.json")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready:\n{self.log.read_text()}")


@contextmanager
def running(*workers: WorkerProc) -> Iterator[None]:
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        yield
    finally:
        for worker in workers:
            worker.stop()


async def ship(folder: Path, url: str, state: Path) -> None:
    for host_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        config = ShipperConfig(
            paths=[str(host_dir / "**" / "*")],
            host=host_dir.name,
            output=url,
            state_dir=str(state / host_dir.name),
        )
        config.once = True
        config.batch.max_records = 9
        validate(config)
        assert (await ship_once_async(config)).delivered_all


def oracle(folder: Path) -> dict[str, Any]:
    view: dict[str, Any] = orjson.loads(orjson.dumps(run(discover([str(folder)])).view))
    return view


def wait_equal(worker: WorkerProc, view: dict[str, Any], timeout: float = 90) -> None:
    """Poll until every server of the oracle is answered exactly and the list names the same servers."""
    now = view["now"]
    expected = {entry["server"]: {"now": now, **entry} for entry in view["servers"]}
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        answers = {name: worker.get_json(f"/api/servers/{name}?now={now}") for name in expected}
        listed = worker.get_json(f"/api/servers?now={now}")
        got = {name: body for name, (status, body) in answers.items() if status == 200}
        names = sorted(row["server"] for row in listed[1]["servers"])
        if got == expected and names == sorted(expected):
            return
        last = (got, names, {n: a for n, a in answers.items() if a[0] != 200})
        time.sleep(0.5)
    diff = {n: _diff(expected[n], last[0].get(n)) for n in expected if last[0].get(n) != expected[n]}
    raise AssertionError(f"worker never matched the oracle: names={last[1]} diff={diff} errors={last[2]}")


def _diff(want: dict[str, Any], got: dict[str, Any] | None) -> Any:
    if got is None:
        return "no answer"
    keys = [k for k in want if want[k] != got.get(k)]
    if keys == ["timeline"]:
        w, g = want["timeline"], got["timeline"]
        missing, extra = [e for e in w if e not in g][:3], [e for e in g if e not in w][:3]
        return {"timeline": (len(w), len(g), missing, extra)}
    return {k: (want[k], got.get(k)) for k in keys}


def metric(worker: WorkerProc, name: str) -> float:
    total = 0.0
    for line in worker.get("/metrics")[1].decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def tag() -> str:
    return f"wt-{uuid.uuid4().hex[:10]}"


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
    from aiokafka import AIOKafkaProducer

    folder = write_logset("install_retrying", tmp_path / "logs", style="text")
    view = oracle(folder)
    worker = WorkerProc(tmp_path, kafka_bootstrap, tag())
    with running(worker):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(worker.records, b"{not json", key=b"SOMEHOST")
            await producer.send_and_wait(worker.records, b'{"v":"9.0","h":{},"r":[]}', key=b"SOMEHOST")
        finally:
            await producer.stop()
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

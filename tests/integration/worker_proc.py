"""``mpwatch worker`` as a real process for tests: ``WorkerProc`` (its own TOML, app id and topics,
started and stopped by PID), ``running`` (start, wait until its API answers, always stop), ``ship`` (the
real shipper, once, one host per folder, straight to Kafka), and the oracle comparison ``wait_equal``."""

from __future__ import annotations

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

from shipper.config import ShipperConfig, validate
from streams.loader import discover
from streams.offline import run
from tests.shipper_harness import REPO, ship_once_async


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerProc:
    def __init__(
        self,
        tmp: Path,
        bootstrap: str,
        tag: str,
        port: int | None = None,
        store: str = "memory://",
        extra: str = "",
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
            + extra  # more TOML tables ([kafka] ...)
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


async def send_raw(bootstrap: str, topic: str, key: bytes, *values: bytes) -> None:
    """Messages written straight to a topic, bypassing the shipper (malformed input for the workers)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

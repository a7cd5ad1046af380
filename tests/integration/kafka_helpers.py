"""Helpers for tests that run against a real Apache Kafka broker.

The broker comes from deploy/local/kafka (see README.md, "Running Kafka locally"); `LocalBroker` drives
that script in a run folder of its own, on free ports, and checks that `down` really stopped it.
`create_topic` and `consume_all` talk to any broker through aiokafka; pass `**tls.client_kwargs()` to
use the SASL_SSL listener instead of the plaintext one.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka"
# Long enough for a cold start on a fresh machine, where `up` first downloads the jars.
START_TIMEOUT_S = 900


class KafkaHelperError(RuntimeError):
    """The broker script or the broker did not do what a helper asked; the message says what and why."""


@dataclass(frozen=True)
class KafkaTls:
    """How to reach the SASL_SSL listener: TLS checked against a CA file, SCRAM credentials."""

    bootstrap: str
    ca_file: str
    username: str
    password: str
    mechanism: str = "SCRAM-SHA-512"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaTls | None:
        """Read the KAFKA_TLS_* / KAFKA_SASL_* variables that `deploy/local/kafka up --tls` prints."""
        names = ("KAFKA_TLS_BOOTSTRAP", "KAFKA_TLS_CA_FILE", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD")
        if not all(env.get(name) for name in names):
            return None
        return cls(
            bootstrap=env["KAFKA_TLS_BOOTSTRAP"],
            ca_file=env["KAFKA_TLS_CA_FILE"],
            username=env["KAFKA_SASL_USERNAME"],
            password=env["KAFKA_SASL_PASSWORD"],
            mechanism=env.get("KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512",
        )

    def client_kwargs(self, *, username: str | None = None, password: str | None = None) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client; override username/password to try other ones."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "ssl_context": create_ssl_context(cafile=self.ca_file),
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username if username is None else username,
            "sasl_plain_password": self.password if password is None else password,
        }


def free_ports(count: int) -> list[int]:
    """Ports that nothing listens on now (the kernel picks them; all are held until all are known)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_running(pid: int) -> bool:
    """True while pid exists and is not a zombie (a zombie has exited; only its exit status is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def pids_mentioning(text: str) -> list[int]:
    """Pids of running processes whose command line contains text (for example a run folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and process_running(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class LocalBroker:
    """One broker run by deploy/local/kafka in its own run folder (and so its own data and pid file)."""

    run_dir: Path
    port: int
    controller_port: int
    tls_port: int
    tls_enabled: bool
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. MPWATCH_CACHE_DIR for a cold start
    bootstrap: str = ""
    tls: KafkaTls | None = None

    @classmethod
    def on_free_ports(
        cls, run_dir: Path, *, tls: bool, extra_env: Mapping[str, str] | None = None
    ) -> LocalBroker:
        port, controller_port, tls_port = free_ports(3)
        return cls(run_dir, port, controller_port, tls_port, tls, dict(extra_env or {}))

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("KAFKA_DATA_DIR", "MPWATCH_KAFKA_TLS"):
            env.pop(name, None)
        env.update(
            KAFKA_RUN_DIR=str(self.run_dir),
            KAFKA_PORT=str(self.port),
            KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_TLS_PORT=str(self.tls_port),
        )
        env.update(self.extra_env)
        return env

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the script for this broker; return the finished process whatever its exit status."""
        return subprocess.run(
            [str(KAFKA_SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def up(self) -> str:
        """Start (or find running) and return the bootstrap address, the last line `up` prints."""
        result = self.run("up", *(["--tls"] if self.tls_enabled else []), timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise KafkaHelperError(f"deploy/local/kafka up failed ({result.returncode}):\n{result.stderr}")
        lines = result.stdout.strip().splitlines()
        values: dict[str, str] = {}
        for line in lines[:-1]:
            name, _, value = line.partition("=")
            values[name] = value
        self.bootstrap = lines[-1]
        self.tls = KafkaTls.from_env(values)
        if self.tls_enabled and self.tls is None:
            raise KafkaHelperError(f"up --tls printed no TLS settings:\n{result.stdout}")
        return self.bootstrap

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def last_start(self) -> dict[str, Any]:
        """The timings `up` recorded for its last start (download, format, ready, total seconds)."""
        result: dict[str, Any] = json.loads((self.run_dir / "last-start.json").read_text())
        return result

    def down(self) -> None:
        """Stop the broker and check that its process is gone."""
        pid = self.pid() if self.pid_file.exists() else None
        result = self.run("down")
        if result.returncode != 0:
            raise KafkaHelperError(f"deploy/local/kafka down failed ({result.returncode}):\n{result.stderr}")
        if pid is not None and process_running(pid):
            raise KafkaHelperError(f"deploy/local/kafka down returned but broker pid {pid} still runs")


async def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    config: Mapping[str, str] | None = None,
    **client_kwargs: Any,
) -> None:
    """Create a topic with an explicit partition count and wait until every partition has a leader."""
    client_kwargs.setdefault("bootstrap_servers", bootstrap)
    admin = AIOKafkaAdminClient(**client_kwargs)
    await admin.start()
    try:
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=1, topic_configs=dict(config or {})
        )
        response = await admin.create_topics([topic])
        for topic_name, error_code, *rest in response.topic_errors:
            if error_code != 0:
                raise KafkaHelperError(f"creating topic {topic_name} failed: error {error_code} {rest}")
        for _ in range(100):
            described = {t["topic"]: t for t in await admin.describe_topics([name])}
            found = described.get(name)
            if (
                found
                and found["error_code"] == 0
                and len(found["partitions"]) == partitions
                and all(p["leader"] >= 0 for p in found["partitions"])
            ):
                return
            await asyncio.sleep(0.1)
        raise KafkaHelperError(f"topic {name} was created but its {partitions} partitions got no leader")
    finally:
        await admin.close()


async def _partitions_of(topic: str, client_kwargs: dict[str, Any]) -> list[int]:
    admin = AIOKafkaAdminClient(**client_kwargs)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([topic])}
    finally:
        await admin.close()
    found = described.get(topic)
    if not found or found["error_code"] != 0:
        raise KafkaHelperError(f"topic {topic!r} does not exist (describe: {found})")
    return sorted(p["partition"] for p in found["partitions"])


async def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 30.0,
    **client_kwargs: Any,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of topic from the start to the end offsets seen at call time, by partition and offset.

    Reads without a consumer group (nothing is committed). Raises TimeoutError naming the partitions
    that did not reach their end offset in time.
    """
    client_kwargs.setdefault("bootstrap_servers", bootstrap)
    partitions = await _partitions_of(topic, client_kwargs)
    consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **client_kwargs)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end_offsets = await consumer.end_offsets(assigned)
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            behind = [tp for tp in assigned if await consumer.position(tp) < end_offsets[tp]]
            if not behind:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"consume_all({topic}): {behind} did not reach {end_offsets} in {timeout}s"
                )
            batches = await consumer.getmany(*behind, timeout_ms=int(min(remaining, 1.0) * 1000))
            for batch in batches.values():
                records.extend(batch)
        return sorted(records, key=lambda record: (record.partition, record.offset))
    finally:
        await consumer.stop()

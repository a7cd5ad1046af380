"""Helpers for tests and benchmarks that run ``mpwatch ship`` as a real process against a real broker.

* ``ship_command`` / ``writer_command`` / ``spawn``: command lines of the shipper and of a ``log_writer``,
  and a subprocess (its log in a file); ``reap`` kills what a test left running, ``log_tail`` quotes a log;
* ``cpu_seconds`` / ``status_kb``: CPU time and memory of a process, read from /proc;
* ``scrape_metrics`` / ``scrape_total``: the shipper's /metrics page parsed by prometheus_client's own
  parser;
* ``TopicFollower``: reads a topic from the start as it grows (no consumer group);
* ``check_delivery``: compares what a ``log_writer`` wrote with the records that reached Kafka, by
  record content (the sequence number in the text) and by record id.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.wire import decode, flatten
from tests.integration.log_writer import parse_seq

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def python_env() -> dict[str, str]:
    """The environment for child Python processes: the repository importable, output unbuffered."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ship_command(
    *,
    paths: Sequence[str | Path],
    output: str,
    state_dir: str | Path,
    host: str,
    config: str | Path | None = None,
    metrics_port: int | None = None,
    once: bool = False,
    log_level: str = "info",
) -> list[str]:
    """``mpwatch ship ...`` run as ``python -m streams.cli`` (works without an installed entry point)."""
    cmd = [sys.executable, "-m", "streams.cli", "ship", "--output", output, "--state-dir", str(state_dir)]
    for path in paths:
        cmd += ["--path", str(path)]
    cmd += ["--host", host, "--log-level", log_level]
    if config is not None:
        cmd += ["--config", str(config)]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    if once:
        cmd.append("--once")
    return cmd


def writer_command(logs: Path, manifest: Path, rate: float, **options: object) -> list[str]:
    """``python -m tests.integration.log_writer --dir LOGS --rate RATE --manifest FILE`` plus ``options``
    (``rotate_bytes=50_000`` -> ``--rotate-bytes 50000``; None values are left out)."""
    cmd = [sys.executable, "-m", "tests.integration.log_writer", "--dir", str(logs), "--rate", str(rate)]
    cmd += ["--manifest", str(manifest)]
    for name, value in options.items():
        if value is not None:
            cmd += ["--" + name.replace("_", "-"), str(value)]
    return cmd


def spawn(cmd: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` from the repository root; stdout and stderr are appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(cmd), cwd=REPO_ROOT, env=python_env(), stdout=log, stderr=subprocess.STDOUT
        )


def reap(*procs: subprocess.Popen[bytes] | None) -> None:
    """Kill (SIGKILL) and wait for every process still running; for ``finally`` blocks."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a process log, for assertion messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def toml_config(path: Path, tables: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write a shipper config of ``[table] key = value`` settings (ints, floats, bools, strings)."""
    lines: list[str] = []
    for table, values in tables.items():
        lines.append(f"[{table}]")
        for key, value in values.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f"{key} = {orjson.dumps(str(value)).decode()}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def status_kb(pid: int, name: str = "VmRSS") -> int:
    """A ``kB`` line of /proc/PID/status (VmRSS: resident now, VmHWM: peak resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(f"/proc/{pid}/status has no {name}")


def scrape_metrics(port: int, timeout: float = 5.0) -> dict[str, float]:
    """Every sample on http://127.0.0.1:PORT/metrics, keyed ``name`` or ``name{label="v",...}``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def metric_total(samples: Mapping[str, float], name: str) -> float:
    """Sum of a metric over all its label sets."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def scrape_total(port: int, name: str) -> float:
    """``metric_total`` of a metric on /metrics now; 0 while the endpoint does not answer (yet)."""
    try:
        return metric_total(scrape_metrics(port), name)
    except OSError:
        return 0.0


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM, wait, and return the exit status (SIGKILL and raise when it does not stop in time)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


class TopicFollower:
    """Reads every record of a topic from offset 0, as the topic grows; values are the records of the
    wire messages (``streams.wire.flatten``)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.values: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.time() when each value was fetched
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        partitions = consumer.partitions_for_topic(self.topic)
        for _ in range(50):
            if partitions:
                break
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self.topic)
            await asyncio.sleep(0.1)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions or [])]
        if not assigned:
            await consumer.stop()
            raise RuntimeError(f"topic {self.topic} has no partitions")
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        self._consumer = consumer

    async def poll(self, timeout: float = 0.5) -> int:
        """Fetch what is available now (waiting at most ``timeout`` s for the first record)."""
        assert self._consumer is not None, "start() first"
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=50_000)
        now = time.time()
        count = 0
        for batch in batches.values():
            for record in batch:
                for value in flatten(decode(record.value)):
                    self.values.append(value)
                    self.arrivals.append(now)
                    count += 1
        return count

    async def poll_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                return False
            await self.poll(min(1.0, max(0.05, deadline - loop.time())))
        return True

    def holds_all(self, seqs: Iterable[int]) -> bool:
        """Every record of ``seqs`` (``log_writer`` sequence numbers) was read from the topic."""
        return {seq_of(value) for value in self.values}.issuperset(seqs)

    async def catch_up(self, timeout: float = 60.0) -> None:
        """Read until every partition's position reaches the end offset it has now."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        assigned = list(consumer.assignment())
        ends = await consumer.end_offsets(assigned)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.topic}: did not reach the end offsets {ends} in {timeout} s")
            await self.poll(0.5)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


def seq_of(value: Mapping[str, Any]) -> int | None:
    record = value.get("record") or {}
    return parse_seq(record.get("message") or "") or parse_seq(record.get("raw") or "")


@dataclass
class DeliveryReport:
    """What reached Kafka compared with what the writer wrote (by content and by id)."""

    delivered: int
    unique_seqs: int
    missing: list[int]
    unexpected: list[int]
    duplicates: int  # deliveries beyond the first of the same record
    ids_per_seq_conflicts: dict[int, set[str]] = field(default_factory=dict)  # one record, several ids
    seqs_per_id_conflicts: dict[str, set[int]] = field(default_factory=dict)  # one id, several records
    wrong_log: list[int] = field(default_factory=list)  # delivered from a file of another log
    unparsed: int = 0

    def summary(self) -> str:
        return (
            f"delivered={self.delivered} unique={self.unique_seqs} missing={len(self.missing)} "
            f"(first {self.missing[:10]}) unexpected={len(self.unexpected)} duplicates={self.duplicates} "
            f"id-conflicts={len(self.ids_per_seq_conflicts)}/{len(self.seqs_per_id_conflicts)} "
            f"wrong-log={len(self.wrong_log)} unparsed={self.unparsed}"
        )


def check_delivery(written: Mapping[int, str], values: Sequence[Mapping[str, Any]]) -> DeliveryReport:
    ids_by_seq: dict[int, set[str]] = defaultdict(set)
    seqs_by_id: dict[str, set[int]] = defaultdict(set)
    counts: Counter[int] = Counter()
    wrong_log: list[int] = []
    unparsed = 0
    for value in values:
        seq = seq_of(value)
        if seq is None:
            unparsed += 1
            continue
        counts[seq] += 1
        ids_by_seq[seq].add(str(value.get("id")))
        seqs_by_id[str(value.get("id"))].add(seq)
        name = written.get(seq)
        stem = os.path.basename(str(value.get("path", ""))).rsplit(".", 1)[0]
        if name is not None and stem != name:
            wrong_log.append(seq)
    delivered = set(counts)
    return DeliveryReport(
        delivered=len(values),
        unique_seqs=len(delivered),
        missing=sorted(set(written) - delivered),
        unexpected=sorted(delivered - set(written)),
        duplicates=sum(counts.values()) - len(counts),
        ids_per_seq_conflicts={s: ids for s, ids in ids_by_seq.items() if len(ids) > 1},
        seqs_per_id_conflicts={i: seqs for i, seqs in seqs_by_id.items() if len(seqs) > 1},
        wrong_log=wrong_log,
        unparsed=unparsed,
    )

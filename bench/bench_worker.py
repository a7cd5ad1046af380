"""Records per second through one ``mpwatch worker`` (shipped batches in Kafka -> server states updated).

Prints `name: value unit` lines, for each table store (memory://, rocksdb://):

  worker_records: N records                        what was shipped (a generated SMS site-server log)
  worker_events: N events                          the distinct events those records give (correlated
                                                   in this process, as stage 1 does)
  worker_<store>_records_per_s: N records/s        first record taken in -> last event applied to its
                                                   server state (both stages), one worker
  worker_<store>_stage1_records_per_s: N records/s first record -> last record taken in (stage 1 only:
                                                   what this bench printed before both stages counted)
  worker_<store>_records_per_cpu_s: N records/s    records / CPU seconds of the worker process (all its
                                                   threads) over that same interval: the figure that
                                                   holds on a shared machine
  worker_<store>_cpu_s: N s                        CPU of the worker process over the whole run (startup,
                                                   table recovery and the timed interval)

The log is shipped once with the real shipper (``mpwatch ship --once``) into a 3-partition topic; each
worker (a fresh app id, so it reads the topic from the start) is then timed by polling its
``mpwatch_records_in_total`` and ``mpwatch_events_in_total`` every POLL_S (a /metrics scrape costs the
worker CPU: every 0.1 s it was about a tenth of the worker's samples in py-spy).
Target (issue 10): 100,000 records/s per worker process.
Options: --records N (default 200,000), --profile FILE (py-spy, while timing).
KAFKA_BOOTSTRAP=host:port uses that broker.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from gen_logs import generate  # noqa: E402
from shipper_support import (  # noqa: E402
    arguments,
    bench_setup,
    bench_ship_command,
    host_correlator,
    new_topic,
    note,
    result,
    topic_values,
    wire_records_in,
)

from tests.integration.shipper_proc import cpu_seconds, python_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.25


def counters(port: int) -> tuple[float, float]:
    """(mpwatch_records_in_total, mpwatch_events_in_total) of the worker."""
    values = {"mpwatch_records_in_total": 0.0, "mpwatch_events_in_total": 0.0}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
    return values["mpwatch_records_in_total"], values["mpwatch_events_in_total"]


async def _expected_events(bootstrap: str, topic: str) -> int:
    """Distinct events of every wire message in ``topic``: what stage 2 must have applied at the end."""
    from streams import wire
    from streams.core.correlator import Correlator, FileRef
    from streams.core.servers import canonical_server

    correlators: dict[str, Correlator] = {}
    ids: set[tuple[str, str, str, int]] = set()
    async for value in topic_values(bootstrap, topic):
        batch = wire.decode(value)
        h = batch.header
        correlator = host_correlator(correlators, canonical_server(h.host) or "UNKNOWN")
        events = correlator.feed_many(
            FileRef(h.file_id, h.name, h.kind), wire.parse_records(batch, lean=True)
        )
        ids.update((ev.server, ev.host, ev.file_id, ev.pos) for ev in events)
    return len(ids)


def time_worker(
    work: Path,
    bootstrap: str,
    topic: str,
    store: str,
    expected: tuple[int, int],
    port: int,
    profile: str | None = None,
) -> None:
    app = f"bench-{uuid.uuid4().hex[:8]}"
    config = work / f"{app}.toml"
    config.write_text(
        f'broker = "{bootstrap}"\napp_id = "{app}"\nstore = "{store}"\ndata_dir = "{work / app}"\n'
        f'web_port = {port}\npartitions = 3\nlog_level = "warning"\n'
        f'[topics]\nrecords = "{topic}"\nevents = "{app}-events"\nhealth = "{app}-health"\n'
    )
    log = (work / f"{app}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT, env=python_env(), cwd=REPO,
    )  # fmt: skip
    name = store.rstrip(":/")
    spy = None
    if profile:  # py-spy samples the worker (collapsed stacks, for flame graphs)
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(proc.pid), "-o", f"{profile}.{name}", "-f", "raw", "-d", "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        records, events = expected
        first = stage1 = last = None  # (monotonic time, worker CPU seconds, records counted)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"worker exited {proc.returncode}: see {work / (app + '.log')}")
            try:
                seen, applied = counters(port)
            except OSError:
                time.sleep(0.2)
                continue
            moment = (time.monotonic(), cpu_seconds(proc.pid), seen)
            if seen > 0 and first is None:
                first = moment
            if seen >= records and stage1 is None:
                stage1 = moment
            if seen >= records and applied >= events:
                last = moment
                break
            time.sleep(POLL_S)
        if first is None or stage1 is None or last is None:
            raise SystemExit(f"worker {store}: {events} events of {records} records not applied within 600 s")
        wall, cpu = max(last[0] - first[0], 1e-6), max(last[1] - first[1], 1e-6)
        result(f"worker_{name}_records_per_s", (last[2] - first[2]) / wall, "records/s")
        result(
            f"worker_{name}_stage1_records_per_s",
            (stage1[2] - first[2]) / max(stage1[0] - first[0], 1e-6),
            "records/s",
        )
        result(f"worker_{name}_records_per_cpu_s", (last[2] - first[2]) / cpu, "records/s")
        result(f"worker_{name}_cpu_s", cpu_seconds(proc.pid), "s")
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT, not on SIGTERM
            spy.wait(30)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--profile", metavar="FILE", help="py-spy collapsed stacks to FILE.<store>")
    args = parser.parse_args()
    with bench_setup("mpwatch-bench-worker-") as (work, bootstrap):
        target = work / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
        target.parent.mkdir(parents=True)
        log = generate("sms", target, lines=args.records)
        topic = new_topic(bootstrap, "bench-worker", partitions=3)
        command = bench_ship_command(bootstrap, topic, [log.path], work / "ship-state", once=True)
        subprocess.run(command, check=True, env=python_env(), cwd=REPO, stdout=subprocess.DEVNULL)
        shipped = wire_records_in(bootstrap, topic)
        result("worker_records", shipped, "records")
        events = asyncio.run(_expected_events(bootstrap, topic))
        result("worker_events", events, "events")
        note("shipped; timing one worker per store (each reads the topic from its start)")
        for offset, store in enumerate(("memory://", "rocksdb://")):
            time_worker(work, bootstrap, topic, store, (shipped, events), 18900 + offset, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Records per second through one ``mpwatch worker`` (shipped batches in Kafka -> server states updated).

Prints `name: value unit` lines, for each table store (memory://, rocksdb://):

  worker_records: N records                  what was shipped (a generated SMS site-server log)
  worker_<store>_records_per_s: N records/s  first record counted -> last record counted, one worker
  worker_<store>_cpu_s: N s                  CPU of the worker process over the whole run

The log is shipped once with the real shipper (``mpwatch ship --once``) into a 3-partition topic; each
worker (a fresh app id, so it reads the topic from the start) is then timed by polling its
``mpwatch_records_in_total``. Target (issue 10): 100,000 records/s per worker process.
Options: --records N (default 200,000), --profile FILE (py-spy, while timing).
KAFKA_BOOTSTRAP=host:port uses that broker.
"""

from __future__ import annotations

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
    new_topic,
    note,
    result,
    wire_records_in,
)

from tests.integration.shipper_proc import cpu_seconds, python_env  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def records_in(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("mpwatch_records_in_total "):
                return float(line.split()[1])
    return 0.0


def time_worker(
    work: Path, bootstrap: str, topic: str, store: str, expected: int, port: int, profile: str | None = None
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
        first = last = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"worker exited {proc.returncode}: see {work / (app + '.log')}")
            try:
                seen = records_in(port)
            except OSError:
                time.sleep(0.2)
                continue
            moment = time.monotonic()
            if seen > 0 and first is None:
                first = (moment, seen)
            if seen >= expected:
                last = (moment, seen)
                break
            time.sleep(0.1)
        if first is None or last is None:
            raise SystemExit(f"worker {store} did not take in {expected} records within 600 s")
        rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-6)
        result(f"worker_{name}_records_per_s", rate, "records/s")
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
        note("shipped; timing one worker per store (each reads the topic from its start)")
        for offset, store in enumerate(("memory://", "rocksdb://")):
            time_worker(work, bootstrap, topic, store, shipped, 18900 + offset, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

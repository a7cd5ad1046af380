"""End-to-end delay of the shipper: a line appended to a log -> the record readable in Kafka.

Prints `name: value unit` lines:

  shipper_latency_rate: N lines/s     what the writer appended (four SMS logs, 250 KB rollover)
  shipper_latency_p50: N ms
  shipper_latency_p99: N ms
  shipper_latency_max: N ms

A `log_writer` process appends records at 1,000 lines/s for 20 s; each record carries its append time
(``t=`` in the text). `mpwatch ship` (default settings) runs the whole time; a consumer on the same machine
reads the topic as it grows and takes the fetch time as the arrival. The delay thus includes the
notification, read, parse, batch linger, the broker's acks=all round trip and the consumer's fetch.
KAFKA_BOOTSTRAP=host:port uses that broker instead of starting one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from shipper_support import broker, note, result  # noqa: E402

from tests.integration.kafka_helpers import create_topic, free_ports  # noqa: E402
from tests.integration.log_writer import parse_stamp, read_manifest  # noqa: E402
from tests.integration.shipper_proc import (  # noqa: E402
    TopicFollower,
    metric_total,
    scrape_metrics,
    ship_command,
    spawn,
    stop_process,
    wait_until,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(bootstrap: str, scratch: Path, rate: float, seconds: float) -> list[float]:
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic, 1)
    logs = scratch / "logs"
    logs.mkdir()
    (port,) = free_ports(1)
    shipper = spawn(
        ship_command(
            paths=[logs],
            output=f"kafka://{bootstrap}/{topic}",
            state_dir=scratch / "state",
            host="BENCH",
            metrics_port=port,
            log_level="warning",
        ),
        scratch / "shipper.log",
    )
    follower = TopicFollower(bootstrap, topic)
    writer = None
    try:

        def ready() -> bool:
            try:
                return metric_total(scrape_metrics(port), "mpwatch_shipper_output_up") == 1
            except OSError:
                return False

        if not await asyncio.to_thread(wait_until, ready, 60):
            raise SystemExit("the shipper did not come up (see its log)")
        await follower.start()
        writer = spawn(
            [
                sys.executable,
                "-m",
                "tests.integration.log_writer",
                "--dir",
                str(logs),
                "--rate",
                str(rate),
                "--rotate-bytes",
                "250000",
                "--duration",
                str(seconds),
                "--manifest",
                str(scratch / "manifest.txt"),
            ],
            scratch / "writer.log",
        )
        while writer.poll() is None:
            await follower.poll(0.05)
        written = len(read_manifest(scratch / "manifest.txt"))
        if not await follower.poll_until(lambda: len(follower.values) >= written, 60):
            raise SystemExit(f"only {len(follower.values)}/{written} records arrived")
    finally:
        await follower.stop()
        if writer is not None and writer.poll() is None:
            stop_process(writer)
        stop_process(shipper)
    delays = []
    for value, arrival in zip(follower.values, follower.arrivals, strict=True):
        stamp = parse_stamp(value["record"]["message"])
        if stamp is not None:
            delays.append(arrival - stamp)
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpwatch-bench-latency-") as tmp, broker() as bootstrap:
        delays = asyncio.run(measure(bootstrap, Path(tmp), args.rate, args.seconds))
    note(f"{len(delays)} records; mean {statistics.fmean(delays) * 1000:.1f} ms")
    result("shipper_latency_rate", args.rate, "lines/s")
    result("shipper_latency_p50", percentile(delays, 0.50) * 1000, "ms")
    result("shipper_latency_p99", percentile(delays, 0.99) * 1000, "ms")
    result("shipper_latency_max", max(delays) * 1000, "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

import asyncio
import statistics
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from shipper_support import arguments, bench_setup, bench_ship_command, new_topic, note, result  # noqa: E402

from tests.integration.kafka_helpers import free_ports  # noqa: E402
from tests.integration.log_writer import parse_stamp, read_manifest  # noqa: E402
from tests.integration.shipper_proc import (  # noqa: E402
    TopicFollower,
    scrape_total,
    spawn,
    stop_process,
    wait_until,
    writer_command,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(bootstrap: str, topic: str, scratch: Path, rate: float, seconds: float) -> list[float]:
    logs = scratch / "logs"
    logs.mkdir()
    (port,) = free_ports(1)
    shipper = spawn(
        bench_ship_command(bootstrap, topic, [logs], scratch / "state", metrics_port=port),
        scratch / "shipper.log",
    )
    follower = TopicFollower(bootstrap, topic)
    writer = None
    try:

        def ready() -> bool:
            return scrape_total(port, "mpwatch_shipper_output_up") == 1

        if not await asyncio.to_thread(wait_until, ready, 60):
            raise SystemExit("the shipper did not come up (see its log)")
        await follower.start()
        writer = spawn(
            writer_command(logs, scratch / "manifest.txt", rate, rotate_bytes=250_000, duration=seconds),
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
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with bench_setup("mpwatch-bench-latency-") as (scratch, bootstrap):
        topic = new_topic(bootstrap, "bench-latency")
        delays = asyncio.run(measure(bootstrap, topic, scratch, args.rate, args.seconds))
    note(f"{len(delays)} records; mean {statistics.fmean(delays) * 1000:.1f} ms")
    result("shipper_latency_rate", args.rate, "lines/s")
    result("shipper_latency_p50", percentile(delays, 0.50) * 1000, "ms")
    result("shipper_latency_p99", percentile(delays, 0.99) * 1000, "ms")
    result("shipper_latency_max", max(delays) * 1000, "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

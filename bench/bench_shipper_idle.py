"""What 1,000 watched idle files cost the shipper: CPU while nothing changes, memory while shipping.

Prints `name: value unit` lines:

  shipper_idle_files: 1000 files
  shipper_idle_cpu: N %core          user+system CPU of the shipper over 30 s in which no file changes
  shipper_idle_rss: N MB             resident memory at the end of the idle period (VmRSS)
  shipper_peak_rss: N MB             peak resident memory, shipping the 1,000 files included (VmHWM)
  shipper_idle_open_fds: N fds       descriptors the shipper holds while idle

The files are SMS logs of 5 records each; `mpwatch ship` (defaults: 10 s rescans, watchdog notifications)
ships them to the broker, then is left alone for 30 s. Targets: < 1 %core idle, < 80 MB.
KAFKA_BOOTSTRAP=host:port uses that broker instead of starting one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from shipper_support import arguments, bench_setup, bench_ship_command, new_topic, note, result  # noqa: E402

from tests.integration.kafka_helpers import free_ports  # noqa: E402
from tests.integration.log_writer import format_record  # noqa: E402
from tests.integration.shipper_proc import (  # noqa: E402
    cpu_seconds,
    scrape_total,
    spawn,
    status_kb,
    stop_process,
    wait_until,
)

RECORDS_PER_FILE = 5


def make_files(folder: Path, count: int) -> int:
    folder.mkdir(parents=True)
    now = time.time()
    seq = 0
    for index in range(count):
        lines = []
        for _ in range(RECORDS_PER_FILE):
            seq += 1
            lines.append(format_record(seq, f"Comp{index:04d}", 1000 + index, now))
        (folder / f"Comp{index:04d}.log").write_bytes(b"".join(lines))
    return seq


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    with bench_setup("mpwatch-bench-idle-") as (scratch, bootstrap):
        records = make_files(scratch / "logs", args.files)
        topic = new_topic(bootstrap, "bench-idle")
        (port,) = free_ports(1)
        cmd = bench_ship_command(bootstrap, topic, [scratch / "logs"], scratch / "state", metrics_port=port)
        proc = spawn(cmd, scratch / "shipper.log")
        try:

            def shipped() -> float:
                return scrape_total(port, "mpwatch_shipper_records_shipped_total")

            if not wait_until(lambda: shipped() >= records, timeout=120, interval=0.5):
                raise SystemExit(f"the shipper shipped {shipped()}/{records} records in 120 s")
            note(f"{records} records from {args.files} files shipped; idling {args.idle_seconds:.0f} s")
            time.sleep(2)  # let the last checkpoint write and gauges settle
            before = cpu_seconds(proc.pid)
            time.sleep(args.idle_seconds)
            used = cpu_seconds(proc.pid) - before
            rss = status_kb(proc.pid, "VmRSS")
            peak = status_kb(proc.pid, "VmHWM")
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
        finally:
            status = stop_process(proc)
        if status != 0:
            raise SystemExit(f"the shipper exited with {status} on SIGTERM; see its log")
        result("shipper_idle_files", args.files, "files")
        result("shipper_idle_cpu", 100 * used / args.idle_seconds, "%core")
        result("shipper_idle_rss", rss / 1024, "MB")
        result("shipper_peak_rss", peak / 1024, "MB")
        result("shipper_idle_open_fds", fds, "fds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

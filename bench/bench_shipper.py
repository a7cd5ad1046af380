"""Shipper throughput into the real broker, side by side with rsyslog (imfile + omkafka) on the same file.

Prints `name: value unit` lines:

  shipper_records: N records            the generated SMS file (~150-byte records)
  mpwatch_ship_records_per_s: N records/s        wall clock of `mpwatch ship --once`, start to exit
  mpwatch_ship_records_per_cpu_s: N records/cpu-s  user+system CPU of the shipper process (getrusage)
  mpwatch_ship_peak_rss: N MB
  rsyslog_records_per_s / rsyslog_records_per_cpu_s / rsyslog_peak_rss   the same for rsyslogd
  mpwatch_vs_rsyslog_cpu_ratio: N x     CPU mpwatch needs for the file, divided by what rsyslog needs

Both deliver with acks=all, an idempotent producer and lz4 to a 1-partition topic each, on the same broker.
mpwatch ships wire messages (streams.wire: one header per batch of one file, then offset, size, line and
raw text per record); rsyslog ships the raw line (template %msg%), one Kafka message per line. Records are
counted inside mpwatch's messages (every one decoded, each id once) and as messages for rsyslog.
rsyslog's CPU time is read from /proc/PID/stat when the topic holds every record (it never exits on its
own); it includes start-up, as the shipper's does.

Options: --records N (default 1,000,000), --skip-rsyslog, --profile FILE (also run the shipper under
cProfile on the same file and write the stats to FILE; slower, not part of the figures).
KAFKA_BOOTSTRAP=host:port uses that broker instead of starting one.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from shipper_support import (  # noqa: E402
    OffsetWatch,
    arguments,
    bench_setup,
    bench_ship_command,
    new_topic,
    note,
    result,
    wire_records_in,
)

from tests.integration.log_writer import format_record  # noqa: E402
from tests.integration.shipper_proc import cpu_seconds, python_env, status_kb  # noqa: E402

RSYSLOG_TIMEOUT_S = 900


def generate(path: Path, records: int) -> int:
    """An SMS SiteComp-style file of ``records`` lines; returns its size."""
    start = time.time() - records / 1000
    with open(path, "wb") as out:
        chunk: list[bytes] = []
        for seq in range(1, records + 1):
            chunk.append(format_record(seq, "SiteComp", 1000 + seq % 7, start + seq / 1000))
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return path.stat().st_size


def run_mpwatch(bootstrap: str, log: Path, records: int, scratch: Path) -> dict[str, float]:
    topic = new_topic(bootstrap, "bench-ship")
    cmd = bench_ship_command(bootstrap, topic, [log], scratch / "state", once=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=python_env())
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"mpwatch ship --once exited with {proc.returncode}")
    delivered = wire_records_in(bootstrap, topic)
    if delivered != records:
        raise SystemExit(f"mpwatch delivered {delivered} records, expected {records}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "rss_mb": usage.ru_maxrss / 1024}


RSYSLOG_CONF = """\
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
ruleset(name="tokafka" queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="1024") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="line" partitions.useFixed="0"
         confParam=["compression.codec=lz4", "enable.idempotence=true", "queue.buffering.max.ms=20"]
         topicConfParam=["request.required.acks=-1"])
}}
input(type="imfile" file="{file}" tag="sitecomp" ruleset="tokafka" freshStartTail="off")
"""


def run_rsyslog(bootstrap: str, log: Path, records: int, scratch: Path) -> dict[str, float] | None:
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rsyslogd) or not os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so"):
        note("rsyslog/omkafka not installed (apt-get install rsyslog rsyslog-kafka): rsyslog figures skipped")
        return None
    topic = new_topic(bootstrap, "bench-rsyslog")
    work = scratch / "rsyslog"
    work.mkdir()
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, bootstrap=bootstrap, topic=topic, file=log))
    check = subprocess.run([rsyslogd, "-N1", "-f", str(conf)], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise SystemExit(f"rsyslog rejected its config:\n{check.stdout}{check.stderr}")
    watch = OffsetWatch(bootstrap, topic)
    stderr = open(work / "rsyslogd.out", "wb")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    proc = subprocess.Popen(
        [rsyslogd, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")], stdout=stderr, stderr=stderr
    )
    try:
        delivered = 0
        deadline = started + RSYSLOG_TIMEOUT_S
        while delivered < records:
            if proc.poll() is not None:
                raise SystemExit(f"rsyslogd exited early ({proc.returncode}); see {work / 'rsyslogd.out'}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"rsyslog delivered only {delivered}/{records} in {RSYSLOG_TIMEOUT_S} s")
            time.sleep(0.05)
            delivered = watch.count()
        wall = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid)
        rss_mb = status_kb(proc.pid, "VmHWM") / 1024
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
        watch.close()
    if delivered != records:
        raise SystemExit(f"rsyslog delivered {delivered} records, expected {records}")
    return {"wall": wall, "cpu": cpu, "rss_mb": rss_mb}


def profile_mpwatch(bootstrap: str, log: Path, scratch: Path, out: Path) -> None:
    topic = new_topic(bootstrap, "bench-profile")
    cmd = bench_ship_command(bootstrap, topic, [log], scratch / "profile-state", once=True)
    cmd = [cmd[0], "-m", "cProfile", "-o", str(out), *cmd[1:]]
    subprocess.run(cmd, env=python_env(), check=True)
    note(f"cProfile stats written to {out} (python -m pstats {out})")


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--skip-rsyslog", action="store_true")
    parser.add_argument("--profile", type=Path, help="also write cProfile stats of a shipper run here")
    args = parser.parse_args()
    with bench_setup("mpwatch-bench-ship-") as (scratch, bootstrap):
        log = scratch / "logs" / "SiteComp.log"
        log.parent.mkdir()
        size = generate(log, args.records)
        note(f"generated {args.records} records, {size / 1e6:.0f} MB in {log}")
        result("shipper_records", args.records, "records")
        result("shipper_record_bytes", size / args.records, "bytes")

        ship = run_mpwatch(bootstrap, log, args.records, scratch)
        result("mpwatch_ship_records_per_s", args.records / ship["wall"], "records/s")
        result("mpwatch_ship_records_per_cpu_s", args.records / ship["cpu"], "records/cpu-s")
        result("mpwatch_ship_peak_rss", ship["rss_mb"], "MB")

        if not args.skip_rsyslog:
            rs = run_rsyslog(bootstrap, log, args.records, scratch)
            if rs is not None:
                result("rsyslog_records_per_s", args.records / rs["wall"], "records/s")
                result("rsyslog_records_per_cpu_s", args.records / rs["cpu"], "records/cpu-s")
                result("rsyslog_peak_rss", rs["rss_mb"], "MB")
                result("mpwatch_vs_rsyslog_cpu_ratio", ship["cpu"] / rs["cpu"], "x")
        if args.profile:
            profile_mpwatch(bootstrap, log, scratch, args.profile)
    own = resource.getrusage(resource.RUSAGE_SELF)
    note(f"bench process itself used {own.ru_utime + own.ru_stime:.1f} cpu-s (generation, offset polling)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The correlation core's speed: the reducer alone, and ``mpwatch diagnose`` over a big generated log set.

Prints ``name: value unit`` lines:

  reducer_in_order: N events/s        1,000,000 events (100 servers, 10 files each), in file order
  reducer_replay: N events/s          the same events applied a second time (all recognised as replays)
  reducer_interleaved: N events/s     the files' events interleaved at random, each file in order (what
                                      several shippers or partitions deliver)
  reducer_shuffled: N events/s        one random permutation of all events (adversarial worst case: no
                                      order within files, and no memory locality)
  diagnose_input: N MB                generated log set (K files on H hosts)
  diagnose_wall: N s                  ``mpwatch diagnose DIR --json --jobs 1`` in a child, start to exit
  diagnose_throughput: N MB/s
  diagnose_peak_rss: N MB             the child's peak RSS (getrusage RUSAGE_CHILDREN)
  diagnose_quarter_peak_rss: N MB     the same over the first quarter of the input (memory must not grow
                                      with the input: compare with diagnose_peak_rss)
  diagnose_cpu: N cpu-s               its CPU seconds (user + system, wait4): on a shared machine the
  diagnose_mb_per_cpu_s: N            honest one-process figure is input MB per CPU second
  diagnose_parallel_throughput: N MB/s  the same run with --jobs left to its default (one worker per core;
                                      ``--jobs N`` sets it), and diagnose_parallel_cpu its CPU seconds

The log set: every fixture scenario (tests/fixtures/logsets) replicated as independent sites (site
server and MPs renamed per copy), each MP then running for 30 days: MP Control Manager verifying every
10 minutes and IIS logging client requests into daily files (a few URLScan rejections and 401s), the site
server logging its hourly sync. Written to a temporary folder and deleted afterwards.

``--size-mb`` sets the input size (default 200 MB so that ``make bench`` stays short; the issue's figure
is ``--size-mb 1024``). ``--events`` sets the reducer's event count. ``--keep DIR`` writes the log set
to DIR and keeps it; ``--reuse DIR`` diagnoses such a kept set instead of generating one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.core import kinds as K  # noqa: E402
from streams.core.events import SUB_BITS, Event  # noqa: E402
from streams.core.reducer import Reducer  # noqa: E402
from tests.fixtures.logsets import SCENARIOS, write_logset  # noqa: E402

COPIES = 2  # copies of every scenario (independent sites)
DAYS = 30
START = datetime(2004, 12, 6, 15, 0)  # local time (UTC-5), after every scenario's install
BIAS = 300
IIS_HEADER = (
    "#Software: Microsoft Internet Information Services 6.0\r\n#Version: 1.0\r\n#Date: {date} 00:00:00\r\n"
    "#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status\r\n"
)
REQUESTS = (
    ("GET", "/SMS_MP/.sms_aut", "MPLIST", "200 0 0"),
    ("GET", "/SMS_MP/.sms_aut", "MPCERT", "200 0 0"),
    ("CCM_POST", "/ccm_system/request", "-", "200 0 0"),
    ("BITS_POST", "/CCM_Incoming/{n}", "-", "200 0 0"),
    ("GET", "/CCM_Incoming/{n}", "-", "404 0 2"),
)
RARE = (
    ("GET", "/<Rejected-By-UrlScan>", "~/ccm_system/request", "404 0 0"),
    ("GET", "/SMS_MP/.sms_aut", "MPLIST", "401 3 5"),
)


def result(name: str, value: float, unit: str) -> None:
    print(
        f"{name}: {value:.1f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}", flush=True
    )


# ----------------------------------------------------------------------------- reducer
def reducer_events(n: int) -> list[Event]:
    rng = random.Random(1)
    mix = [(K.HTTP_VERIFY, "200")] * 8 + [
        (K.IIS_MP_ERROR, "401"),
        (K.URLSCAN_REJECTED, "404"),
        (K.INSTALL_PENDING, ""),
        (K.NAL_DRIVE_PROBE, ""),
        (K.MSI_EXIT, "1603"),
    ]
    prev: dict[tuple[str, str], int] = {}
    events = []
    t0 = 1_102_357_295_000_000
    for i in range(n):
        server = f"MP{i % 100:03d}"
        file = f"file{(i // 100) % 10}"
        kind, variant = mix[rng.randrange(len(mix))]
        pos = i * 100 * SUB_BITS
        prev_pos = prev.get((server, file), -1)
        prev[(server, file)] = pos
        events.append(
            Event(kind, server, t0 + i * 1_000_000, server, file, pos, variant=variant, prev=prev_pos)
        )
    return events


def bench_reducer(n: int) -> None:
    events = reducer_events(n)
    reducer = Reducer()
    started = time.perf_counter()
    reducer.apply_all(events)
    result("reducer_in_order", round(n / (time.perf_counter() - started)), "events/s")
    started = time.perf_counter()
    applied = reducer.apply_all(events)
    result("reducer_replay", round(n / (time.perf_counter() - started)), "events/s")
    assert applied == 0
    interleaved = _interleave(events, random.Random(3))
    started = time.perf_counter()
    Reducer().apply_all(interleaved)
    result("reducer_interleaved", round(n / (time.perf_counter() - started)), "events/s")
    random.Random(2).shuffle(events)
    started = time.perf_counter()
    Reducer().apply_all(events)
    result("reducer_shuffled", round(n / (time.perf_counter() - started)), "events/s")


def _interleave(events: list[Event], rng: random.Random) -> list[Event]:
    """Merge the per-file sequences in a random interleaving, keeping each file's own order."""
    files: dict[tuple[str, str, str], list[Event]] = {}
    for ev in events:
        files.setdefault((ev.server, *ev.fkey), []).append(ev)
    queues = [list(reversed(q)) for q in files.values()]
    out = []
    while queues:
        i = rng.randrange(len(queues))
        out.append(queues[i].pop())
        if not queues[i]:
            queues[i] = queues[-1]
            queues.pop()
    return out


# ----------------------------------------------------------------------------- log set
def renamed(data: bytes, names: dict[str, str], utf16: bool) -> bytes:
    for old, new in names.items():
        for a, b in ((old, new), (old.lower(), new.lower())):
            data = (
                data.replace(a.encode("utf-16-le"), b.encode("utf-16-le"))
                if utf16
                else data.replace(a.encode(), b.encode())
            )
    return data


def _sms(text: str, component: str, at: datetime, thread: str) -> str:
    stamp = at.strftime("%m-%d-%Y %H:%M:%S") + f".{at.microsecond // 1000:03d}+{BIAS}"
    return f"{text}  $$<{component}><{stamp}><thread={thread}>\r\n"


def _mp_runtime(host_dir: Path, budget: int, rng: random.Random, rare: bool) -> None:
    """30 days of MP Control verifications and IIS client requests for one MP, about ``budget`` bytes."""
    logs = host_dir / "SMS" / "Logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "MPControl.log", "ab") as out:
        lines = []
        at = START
        while at < START + timedelta(days=DAYS):
            text = "Http verification .sms_aut succeeded with status code 200, OK"
            lines.append(_sms(text, "SMS_MP_CONTROL_MANAGER", at, "2008 (0x7D8)"))
            at += timedelta(minutes=10, milliseconds=rng.randint(0, 3000))
        data = "".join(lines).encode()
        out.write(data)
    per_day = max(0, (budget - len(data)) // DAYS)
    iis = host_dir / "W3SVC1"
    iis.mkdir(parents=True, exist_ok=True)
    for day in range(DAYS):
        date = (START + timedelta(days=day + 1)).date()
        chunks, size, second = [IIS_HEADER.format(date=date)], 0, 0
        while size < per_day:
            second = min(86399, second + rng.randint(0, 24))
            pick = RARE[rng.randrange(2)] if rare and rng.random() < 0.001 else REQUESTS[rng.randrange(5)]
            method, stem, query, status = pick
            line = (
                f"{date} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d} W3SVC1 10.1.1.21 "
                f"{method} {stem.format(n=rng.randrange(10**6))} {query} 80 - 10.1.{rng.randrange(250)}."
                f"{rng.randrange(250)} ccmhttp {status}\r\n"
            )
            chunks.append(line)
            size += len(line)
        (iis / f"ex{date:%y%m%d}.log").write_bytes("".join(chunks).encode())


def generate(dest: Path, size_mb: int) -> tuple[int, int, int]:
    """Write the log set; returns (bytes, files, hosts)."""
    templates = tempfile.mkdtemp(prefix="mpwatch-templates-")
    try:
        names = [n for n in SCENARIOS for _ in range(COPIES)]
        budget = size_mb * 1_000_000 // len(names)
        for copy, name in enumerate(names):
            folder = write_logset(name, Path(templates) / str(copy), style="numeric")
            rename = {
                "SERVER1": f"SITE{copy:03d}",
                "MGTPOINT1": f"MP{copy:03d}A",
                "MGTPOINT2": f"MP{copy:03d}B",
            }
            site = dest / f"part{copy % 4}"
            mps = []
            for path in sorted(folder.rglob("*")):
                if not path.is_file():
                    continue
                rel = path.relative_to(folder)
                host = rename.get(rel.parts[0], rel.parts[0])
                target = site / host / Path(*rel.parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(renamed(path.read_bytes(), rename, path.name.lower() == "mpmsi.log"))
                if host.startswith("MP") and host not in mps:
                    mps.append(host)
            _site_runtime(site / rename["SERVER1"])
            for host in mps:
                _mp_runtime(
                    site / host,
                    budget // len(mps),
                    random.Random(f"{copy}{host}"),
                    name == "urlscan_rejected",
                )
    finally:
        shutil.rmtree(templates, ignore_errors=True)
    files = [p for p in dest.rglob("*") if p.is_file()]
    hosts = {p.relative_to(dest).parts[1] for p in files}
    return sum(p.stat().st_size for p in files), len(files), len(hosts)


def _site_runtime(host_dir: Path) -> None:
    name = host_dir.name
    lines, at = [], START
    while at < START + timedelta(days=DAYS):
        lines.append(
            _sms(
                f"Synchronizing component server {name}...", "SMS_SITE_COMPONENT_MANAGER", at, "1640 (0x668)"
            )
        )
        lines.append(_sms("Synchronization complete.", "SMS_SITE_COMPONENT_MANAGER", at, "1640 (0x668)"))
        at += timedelta(hours=1)
    with open(host_dir / "SMS" / "Logs" / "sitecomp.log", "ab") as out:
        out.write("".join(lines).encode())


# ----------------------------------------------------------------------------- diagnose
def bench_diagnose(paths: list[Path], prefix: str, jobs: int | None = 1) -> float:
    """Run ``mpwatch diagnose PATHS --json`` in a child; returns its peak RSS in MB (and prints figures).

    Peak RSS is the child's ``VmHWM`` (/proc/PID/status), sampled every 20 ms while it runs: unlike
    getrusage's ru_maxrss it does not include the parent's memory the child had before exec.
    """
    command = [sys.executable, "-m", "streams.cli", "diagnose", "--json", *map(str, paths)]
    if jobs is not None:
        command[4:4] = ["--jobs", str(jobs)]
    started = time.perf_counter()
    peak_kb = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        status = Path(f"/proc/{child.pid}/status")
        while True:  # wait4, not poll: its rusage is the child's CPU, with its --jobs workers
            pid, code, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _hwm_kb(status))
            time.sleep(0.02)
        wall = time.perf_counter() - started
        cpu = usage.ru_utime + usage.ru_stime
        child.returncode = os.waitstatus_to_exitcode(code)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"diagnose failed: {err.read().decode(errors='replace')}")
        out.seek(0)
        servers = len(json.loads(out.read())["servers"])
    size = sum(p.stat().st_size for path in paths for p in path.rglob("*") if p.is_file())
    if prefix == "parallel":
        result(
            "diagnose_parallel_wall", round(wall, 1), f"s (--jobs {jobs or 'default: one worker per core'})"
        )
        result("diagnose_parallel_throughput", round(size / 1e6 / wall, 1), "MB/s")
        result("diagnose_parallel_cpu", round(cpu, 1), "cpu-s (parent and workers)")
    if prefix == "diagnose":
        result("diagnose_wall", round(wall, 1), "s")
        result("diagnose_throughput", round(size / 1e6 / wall, 1), "MB/s")
        result("diagnose_cpu", round(cpu, 1), "cpu-s")
        result("diagnose_mb_per_cpu_s", round(size / 1e6 / cpu, 1), "MB per cpu-second (contention-proof)")
        result("diagnose_servers", servers, "management points")
    return peak_kb / 1024


def _hwm_kb(status: Path) -> int:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size-mb", type=int, default=200, help="generated input size (default 200; 1024 = 1 GB)"
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the reducer benchmark")
    parser.add_argument("--keep", type=Path, help="write the log set here and keep it")
    parser.add_argument("--jobs", type=int, help="--jobs of the parallel run (default: one per core)")
    parser.add_argument("--reuse", type=Path, help="diagnose this log set (written by --keep) instead")
    args = parser.parse_args()
    if args.size_mb == 200:
        print("# default input 200 MB (make bench); the 1 GB figure is --size-mb 1024", flush=True)
    dest = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="mpwatch-bench-core-"))
    try:
        if args.reuse:
            found = [p for p in dest.rglob("*") if p.is_file()]
            size, files = sum(p.stat().st_size for p in found), len(found)
            hosts = len({p.relative_to(dest).parts[1] for p in found})
        else:
            size, files, hosts = generate(dest, args.size_mb)
        result("diagnose_input", round(size / 1e6, 1), f"MB ({files} files on {hosts} hosts)")
        quarter = bench_diagnose([dest / "part0"], "quarter")
        whole = bench_diagnose(sorted(dest.iterdir()), "diagnose")
        bench_diagnose(sorted(dest.iterdir()), "parallel", jobs=args.jobs)
        result("diagnose_peak_rss", round(whole, 1), "MB")
        result("diagnose_quarter_peak_rss", round(quarter, 1), "MB")
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(dest, ignore_errors=True)
    bench_reducer(args.events)


if __name__ == "__main__":
    main()

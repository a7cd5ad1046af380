"""``mpwatch run`` as a process: live tailing cost, API latency on a long timeline, page load at scale.

Prints `name: value unit` lines:

  run_tail_servers / run_tail_lines_per_s   the load: N servers' MPControl.log, lines appended in total
  run_tail_cpu_percent: N % of a core       CPU of the mpwatch run process while tailing (after start-up)
  run_tail_rss: N MB                        resident memory at the end; run_tail_peak_rss (VmHWM)
  run_append_to_api_p50 / _p99: N ms        a line appended -> visible in /api/servers/{server}
  run_api_timeline_events: N                timeline entries of the big server
  run_api_server_p50 / _p99: N ms           GET /api/servers/{server} on it (200 requests, one client)
  run_page_servers: N                       servers in the page-load case
  run_page_first_render: N ms               headless Chromium: navigation start -> every row drawn

Targets (issue 11): tailing 200 servers at 100 lines/s < 150 MB and < 5 % of a core; p99 < 50 ms with
10,000 timeline events; page < 1 s to first render with 2,000 servers. Options: --seconds N (tail
phase, default 30), --rate N (lines/s in all; 0 measures the idle cost), --tail-only, --skip-page.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.run_proc import RunProcess, start_run, wait_for
from tests.integration.shipper_proc import cpu_seconds, status_kb

BIAS = 300


def sms_stamp(moment: datetime) -> str:
    local = moment - timedelta(minutes=BIAS)
    return f"{local.strftime('%m-%d-%Y %H:%M:%S')}.{local.microsecond // 1000:03d}+{BIAS}"


def check_line(moment: datetime, status: int = 200, seq: int = 0) -> bytes:
    reason = "OK" if status == 200 else "Unauthorized"
    word = "succeeded" if status == 200 else "failed"
    return (
        f"Http verification .sms_aut {word} with status code {status}, {reason} #{seq}"
        f"  $$<SMS_MP_CONTROL_MANAGER><{sms_stamp(moment)}><thread=2008 (0x7D8)>\r\n"
    ).encode()


def make_hosts(root: Path, count: int) -> list[Path]:
    files = []
    now = datetime.now(UTC)
    for i in range(count):
        path = root / f"MP{i:04d}" / "SMS" / "Logs" / "MPControl.log"
        path.parent.mkdir(parents=True)
        path.write_bytes(check_line(now - timedelta(minutes=5), seq=i))
        files.append(path)
    return files


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def bench_tail(work: Path, seconds: float, profile: str | None = None, rate: float = 100.0) -> None:
    servers = 200
    files = make_hosts(work / "tail", servers)
    proc = start_run(work / "tail", work / "tail-state", work / "tail.log")
    try:
        wait_for(lambda: len(proc.json("/api/servers")["servers"]) == servers, 60, "every server")
        time.sleep(2)
        spy = None
        if profile:  # py-spy samples the running process (collapsed stacks, for flame graphs)
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(proc.proc.pid),
                    "-o",
                    profile,
                    "-f",
                    "raw",
                    "--gil",  # only the thread holding the GIL: Python's CPU, not threads asleep
                    "-d",
                    str(int(seconds)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        cpu0, wall0 = cpu_seconds(proc.proc.pid), time.monotonic()
        delays: list[float] = []
        sent = 0
        while rate == 0 and time.monotonic() - wall0 < seconds:  # the idle cost alone
            time.sleep(0.5)
        while rate > 0 and time.monotonic() - wall0 < seconds:
            target = wall0 + sent / rate
            pause = target - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            path = files[sent % servers]
            with open(path, "ab") as handle:
                handle.write(check_line(datetime.now(UTC), 401 if sent % 7 == 0 else 200, sent))
            sent += 1
            if sent % 100 == 0:  # one probe per second: append -> visible through the API
                delays.append(_probe(proc, files[sent % servers]))
                sent += 1
        cpu = cpu_seconds(proc.proc.pid) - cpu0
        wall = time.monotonic() - wall0
        if spy is not None:
            spy.wait(int(seconds) + 60)
        print(f"run_tail_servers: {servers} servers")
        print(f"run_tail_lines_per_s: {sent / wall:.1f} lines/s")
        print(f"run_tail_cpu_percent: {100 * cpu / wall:.2f} % of a core")
        print(f"run_tail_rss: {status_kb(proc.proc.pid) / 1024:.1f} MB")
        print(f"run_tail_peak_rss: {status_kb(proc.proc.pid, 'VmHWM') / 1024:.1f} MB")
        if delays:
            print(f"run_append_to_api_p50: {statistics.median(delays):.1f} ms")
            print(f"run_append_to_api_p99: {percentile(delays, 0.99):.1f} ms")
    finally:
        proc.stop()


def _probe(proc: RunProcess, path: Path) -> float:
    server = path.parents[2].name
    _probe.seq = getattr(_probe, "seq", 0) + 1  # type: ignore[attr-defined]
    mark = f"#probe{_probe.seq}"  # type: ignore[attr-defined]
    started = time.perf_counter()
    with open(path, "ab") as handle:
        handle.write(check_line(datetime.now(UTC), 503, 0).replace(b"#0", mark.encode()))

    def arrived() -> bool:  # the latest entry (repeated checks are compressed, the newest kept)
        return mark in proc.json(f"/api/servers/{server}")["timeline"][-1]["message"]

    wait_for(arrived, 10, "the probe line")
    return (time.perf_counter() - started) * 1000


def bench_api(work: Path) -> None:
    """One server with ~10,000 distinct timeline entries: status messages of 160 ids, 64 each kept."""
    root = work / "api"
    path = root / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
    path.parent.mkdir(parents=True)
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    lines = []
    for n in range(12_000):  # 1,200 ids x 10: about 10,800 entries kept
        moment = start + timedelta(seconds=n)
        message_id = 6000 + n % 1200
        lines.append(
            f'STATMSG: ID={message_id} SEV=W LEV=M SOURCE="SMS Server" COMP="SMS_MP_CONTROL_MANAGER" '
            f"SYS=BIGMP SITE=ABC PID=1488 TID=1700 "
            f"GMTDATE={moment.strftime('%a %b %d %H:%M:%S')}.000 {moment.year} "
            f'ISTR0="" NUMATTRS=0  $$<SMS_SITE_COMPONENT_MANAGER><{sms_stamp(moment)}>'
            "<thread=1700 (0x6A4)>\r\n"
        )
    path.write_text("".join(lines), encoding="utf-8")
    proc = start_run(root, work / "api-state", work / "api.log")
    try:
        wait_for(lambda: proc.get("/api/servers/BIGMP")[0] == 200, 60, "BIGMP")
        size = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every line is in
            now = len(proc.json("/api/servers/BIGMP")["timeline"])
            if now == size and now > 0:
                break
            size = now
            time.sleep(1)
        url = proc.url + "/api/servers/BIGMP"
        for _ in range(10):
            timed_get(url)
        times = [timed_get(url) for _ in range(200)]
        print(f"run_api_timeline_events: {size} events")
        print(f"run_api_server_p50: {statistics.median(times):.1f} ms")
        print(f"run_api_server_p99: {percentile(times, 0.99):.1f} ms")
    finally:
        proc.stop()


def bench_page(work: Path) -> None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print(
            "note: chromium or playwright missing (make tools, pip install -e '.[dev]'); page bench skipped"
        )
        return
    servers = 2000
    make_hosts(work / "page", servers)
    proc = start_run(work / "page", work / "page-state", work / "page.log")
    try:
        wait_for(lambda: len(proc.json("/api/servers")["servers"]) == servers, 120, "every server")
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            results = []
            for _ in range(3):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(proc.url + "/")
                # a selector, not a JS string: the page's CSP (no eval) refuses Playwright's string functions
                page.wait_for_selector(f"#servers tbody tr:nth-child({servers})", state="attached")
                results.append((time.perf_counter() - started) * 1000)
                page.close()
            browser.close()
        print(f"run_page_servers: {servers} servers")
        print(
            f"run_page_first_render: {min(results):.0f} ms "
            f"(best of 3; median {statistics.median(results):.0f})"
        )
    finally:
        proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0, help="lines/s in all (0: the idle cost)")
    parser.add_argument("--skip-page", action="store_true")
    parser.add_argument("--tail-only", action="store_true", help="only the tailing case")
    parser.add_argument("--profile", metavar="FILE", help="py-spy collapsed stacks of the tail phase to FILE")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mpwatch-bench-run-"))
    try:
        bench_tail(work, args.seconds, args.profile, args.rate)
        if args.tail_only:
            return 0
        bench_api(work)
        if not args.skip_page:
            bench_page(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

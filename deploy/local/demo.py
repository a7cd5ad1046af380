"""``make demo``: ``mpwatch run`` over the bundled samples, with an install that completes while you watch.

1. copies ``samples/`` (the SMS 2003 site ABC of December 2004: MGTPOINT1 healthy, MGTPOINT2 failed,
   MGTPOINT3 retrying, MGTPOINT4 answering 401) to ``.demo/logs`` and starts ``mpwatch run`` on it;
2. prints the page's URL and the ``mpwatch timeline`` commands to try;
3. replays MGTPOINT1's install as a new management point, MGTPOINT5, in real time (``--speed`` times
   faster than it happened): the SiteComp lines go to SERVER1's sitecomp.log, MPSetup.log and
   MPControl.log to MGTPOINT5's folder, each line stamped with the moment it is written. The page shows
   MGTPOINT5 go from pending to installing to installed and healthy. MGTPOINT1 and MGTPOINT5 then keep
   answering MP Control Manager's HTTP check (200) every ``--check-every`` seconds, so they stay healthy;
4. Ctrl-C (or ``--seconds``) stops ``mpwatch run`` by its PID and waits for it.

Run as ``python deploy/local/demo.py [--port N] [--speed X] [--seconds S]`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIAS_MINUTES = 300  # site ABC is on US Eastern time (the samples' SMS trailers say +300)
NEW_MP, OLD_MP = "MGTPOINT5", "MGTPOINT1"
NEW_THREAD, OLD_THREAD = "2600 (0xA28)", "1700 (0x6A4)"
_TRAILER = re.compile(r"<(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3})([+-]\d+)>")
_GMTDATE = re.compile(r"GMTDATE=\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{3} \d{4}")
_MPSETUP = re.compile(r"^<(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d)>")
CHECK_OK = "Http verification .sms_aut succeeded with status code 200, OK"
CONTROL_TRAILER = "  $$<SMS_MP_CONTROL_MANAGER><{stamp}+300><thread=2008 (0x7D8)>"


def local(moment: datetime) -> datetime:
    return moment - timedelta(minutes=BIAS_MINUTES)


def restamp(line: str, moment: datetime) -> str:
    """The line with its time(s) replaced by ``moment`` (UTC) in each format's own spelling."""
    stamp = local(moment)
    line = _TRAILER.sub(
        lambda m: f"<{stamp.strftime('%m-%d-%Y %H:%M:%S')}.{stamp.microsecond // 1000:03d}{m.group(2)}>", line
    )
    line = _GMTDATE.sub(
        f"GMTDATE={moment.strftime('%a %b %d %H:%M:%S')}.{moment.microsecond // 1000:03d} {moment.year}", line
    )
    return _MPSETUP.sub(f"<{stamp.strftime('%m-%d-%Y %H:%M:%S')}>", line)


def original_time(line: str) -> datetime | None:
    """The UTC time a sample line was written at (None for continuation lines)."""
    match = _TRAILER.search(line)
    if match:
        when = datetime.strptime(match.group(1), "%m-%d-%Y %H:%M:%S.%f")
        return (when + timedelta(minutes=int(match.group(2)))).replace(tzinfo=UTC)
    match = _MPSETUP.match(line)
    if match:
        when = datetime.strptime(match.group(1), "%m-%d-%Y %H:%M:%S")
        return (when + timedelta(minutes=BIAS_MINUTES)).replace(tzinfo=UTC)
    return None


def install_script(samples: Path, logs: Path) -> list[tuple[datetime, Path, str]]:
    """MGTPOINT1's install as MGTPOINT5's: (original time, file to append to, line), in time order."""
    steps: list[tuple[datetime, Path, str]] = []
    sitecomp = samples / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
    for line in sitecomp.read_text(encoding="utf-8").splitlines():
        when = original_time(line)
        if f"thread={OLD_THREAD}" in line and when is not None:
            text = (
                line.replace(OLD_MP, NEW_MP).replace(OLD_THREAD, NEW_THREAD).replace("TID=1700", "TID=2600")
            )
            steps.append((when, logs / "SERVER1" / "SMS" / "Logs" / "sitecomp.log", text))
    mp_logs = logs / NEW_MP / "SMS" / "Logs"
    for name in ("MPSetup.log", "MPControl.log"):
        last: datetime | None = None
        for line in (samples / OLD_MP / "SMS" / "Logs" / name).read_text(encoding="utf-8").splitlines():
            when = original_time(line) or last
            if when is None:
                continue
            last = when
            steps.append((when, mp_logs / name, line.replace(OLD_MP, NEW_MP)))
            if name == "MPControl.log":
                break  # the first check after the install; the rest come from the check loop
    steps.sort(key=lambda step: step[0])
    return steps


def append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write((line + "\r\n").encode("utf-8"))


def check_line(moment: datetime) -> str:
    stamp = local(moment)
    return CHECK_OK + CONTROL_TRAILER.format(
        stamp=f"{stamp.strftime('%m-%d-%Y %H:%M:%S')}.{stamp.microsecond // 1000:03d}"
    )


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to mpwatch run if the demo itself is killed (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_for_url(log: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"page (http://\S+?)/ ", log.read_text(errors="replace"))
        if found:
            return found[-1]
        if proc.poll() is not None:
            sys.stderr.write(log.read_text(errors="replace"))
            raise SystemExit(f"demo: mpwatch run exited with status {proc.returncode}")
        time.sleep(0.1)
    raise SystemExit(f"demo: mpwatch run did not start within {timeout} s; see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DEMO_PORT", "8787")), help="default 8787"
    )
    parser.add_argument("--speed", type=float, default=8.0, help="replay this many times faster (default 8)")
    parser.add_argument("--check-every", type=float, default=20.0, help="seconds between HTTP checks")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo", help="default .demo/ (recreated)")
    args = parser.parse_args(argv)
    samples = REPO / "samples"
    logs, state, log = args.workdir / "logs", args.workdir / "state", args.workdir / "mpwatch-run.log"
    shutil.rmtree(args.workdir, ignore_errors=True)
    shutil.copytree(samples, logs, ignore=shutil.ignore_patterns("README.md"))
    script = install_script(samples, logs)
    command = [sys.executable, "-m", "streams.cli", "run", "--logs", str(logs), "--state-dir", str(state),
               "--listen", f"127.0.0.1:{args.port}"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, preexec_fn=_die_with_parent
        )
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        url = wait_for_url(log, proc)
        print(f"\nmpwatch demo: open {url}/ in a browser (the page refreshes itself)")
        print(f"  {NEW_MP} installs now, {args.speed:g}x faster than it did; watch the page or run:")
        print(f"  .venv/bin/mpwatch timeline {NEW_MP} --api {url}")
        print(f"  .venv/bin/mpwatch timeline MGTPOINT3 --api {url}     (retrying: 1013 without 1015)")
        print(f"  curl -s {url}/metrics | grep mpwatch_server_state")
        print(f"  mpwatch run (PID {proc.pid}) logs to {log}; Ctrl-C stops everything\n", flush=True)
        started = time.monotonic()
        t0 = script[0][0]
        pending = list(script)
        next_check = started + (script[-1][0] - t0).total_seconds() / args.speed + 1
        while not stopping and proc.poll() is None:
            now = time.monotonic()
            if args.seconds is not None and now - started >= args.seconds:
                break
            while pending and (pending[0][0] - t0).total_seconds() / args.speed <= now - started:
                _when, path, line = pending.pop(0)
                append(path, restamp(line, datetime.now(UTC)))
                if not pending:
                    print(f"mpwatch demo: {NEW_MP}'s install log lines are all written", flush=True)
            if now >= next_check:
                for mp in (OLD_MP, NEW_MP):
                    append(logs / mp / "SMS" / "Logs" / "MPControl.log", check_line(datetime.now(UTC)))
                next_check = now + args.check_every
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        print(f"mpwatch demo: stopped (mpwatch run exited with status {proc.returncode})", flush=True)
    return 0 if proc.returncode in (0, None) else 1


if __name__ == "__main__":
    sys.exit(main())

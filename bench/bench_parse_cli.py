"""``mpwatch parse`` end to end against the naive loop anyone would write in ten lines.

For 1,000,000 generated SMS lines and 1,000,000 CMTrace lines (bench/gen_logs.py), both run as child
processes writing to a file, and both are timed by their CPU seconds (user + system, ``wait4``), start
up included:

* ``mpwatch parse FILE > out`` (detection, decoding, encodings, multi-line records, the full record);
* the naive loop: open the file as UTF-8, one regex per line, ``orjson.dumps`` of a dict with the same
  fields (time, format, component, thread, severity, message, file, offset, size, line, fields,
  truncated) per line. It knows nothing of encodings, multi-line records, STATMSG or time zones: it is
  the floor of what the work costs in Python.

Prints ``parse_cli_<fmt>_cpu_s``, ``naive_<fmt>_cpu_s`` and ``parse_cli_<fmt>_vs_naive`` (mpwatch CPU /
naive CPU; the target is <= 1.0). ``--lines N`` changes the size. The machine may be shared: each pair
is run ``--repeat`` times (default 3), interleaved, and the lowest CPU figure of each is kept.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from gen_logs import generate  # noqa: E402

NAIVE = {
    "sms": r"""
import re, sys, orjson
rx = re.compile(r"(.*?)  \$\$<([^<>]*)><([^<>]*)><thread=(\d+)[^<>]*>$")
out = open(sys.argv[2], "wb"); offset = 0
for number, text in enumerate(open(sys.argv[1], encoding="utf-8", newline=""), 1):
    size = len(text.encode()); m = rx.match(text.rstrip("\r\n"))
    if m:
        out.write(orjson.dumps({"time": m[3], "time_is_local": False, "format": "sms", "component": m[2],
            "thread": m[4], "severity": "info", "message": m[1], "file": sys.argv[1], "offset": offset,
            "size": size, "line": number, "fields": {}, "truncated": False}) + b"\n")
    offset += size
""",
    "cmtrace": r"""
import re, sys, orjson
rx = re.compile(r'<!\[LOG\[(.*)\]LOG\]!><time="([^"]*)" date="([^"]*)" component="([^"]*)" '
                r'context="[^"]*" type="(\d)" thread="(\d*)"')
out = open(sys.argv[2], "wb"); offset = 0
for number, text in enumerate(open(sys.argv[1], encoding="utf-8", newline=""), 1):
    size = len(text.encode()); m = rx.match(text)
    if m:
        out.write(orjson.dumps({"time": m[3] + "T" + m[2], "time_is_local": False, "format": "cmtrace",
            "component": m[4], "thread": m[6], "severity": "info", "message": m[1], "file": sys.argv[1],
            "offset": offset, "size": size, "line": number, "fields": {"type": int(m[5])},
            "truncated": False}) + b"\n")
    offset += size
""",
}


def cpu_of(cmd: list[str], stdout_path: Path | None) -> float:
    """User + system CPU seconds of a child process run to completion."""
    with open(stdout_path or os.devnull, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:4]} failed")
    return usage.ru_utime + usage.ru_stime


def lines_in(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved; lowest kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpwatch-bench-parse-cli-") as scratch:
        root = Path(scratch)
        for fmt in ("sms", "cmtrace"):
            log = generate(fmt, root / f"{fmt}.log", lines=args.lines)
            naive_script = root / f"naive_{fmt}.py"
            naive_script.write_text(NAIVE[fmt])
            ours = naive = float("inf")
            for _ in range(max(1, args.repeat)):
                ours = min(
                    ours,
                    cpu_of(
                        [sys.executable, "-m", "streams.cli", "parse", str(log.path)], root / "ours.jsonl"
                    ),
                )
                naive = min(
                    naive,
                    cpu_of(
                        [sys.executable, str(naive_script), str(log.path), str(root / "naive.jsonl")], None
                    ),
                )
            got, floor = lines_in(root / "ours.jsonl"), lines_in(root / "naive.jsonl")
            if got != log.records:
                raise SystemExit(f"mpwatch parse printed {got} records, expected {log.records}")
            print(f"parse_cli_{fmt}_cpu_s: {ours:.2f} cpu-s ({got} records)")
            print(f"naive_{fmt}_cpu_s: {naive:.2f} cpu-s ({floor} records)")
            print(f"parse_cli_{fmt}_vs_naive: {ours / naive:.2f} x")


if __name__ == "__main__":
    main()

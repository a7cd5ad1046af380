"""``mpwatch diagnose`` over a collected site of many small host folders: is the cost linear in hosts?

Every fixture scenario (tests/fixtures/logsets) is copied again and again as an independent site (its
site server and MPs renamed per copy, in folder names and log text), until the requested host count is
reached: small host folders of ~10-30 KB each, as a site-wide log collection gives. For each host count
the whole folder is diagnosed in a child process. Prints ``name: value unit`` lines:

  hosts_N_input: MB             size of the N-host folder
  hosts_N_throughput: MB/s      ``mpwatch diagnose DIR --json`` wall clock, start to exit
  hosts_N_peak_rss: MB
  hosts_N_mb_per_cpu_s: MB      input MB per CPU second of that run (user + system: contention-proof)
  hosts_linearity: X            MB per CPU second at the largest count / at the smallest (1.0 = linear)

``--hosts 500,1000,2000,5000`` sets the counts (default; ``make bench`` uses it). ``--keep DIR`` keeps the
largest folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench_core import renamed  # noqa: E402

from tests.fixtures.logsets import SCENARIOS, write_logset  # noqa: E402


def result(name: str, value: float | int, unit: str) -> None:
    print(f"{name}: {value} {unit}", flush=True)


def templates(root: Path) -> list[tuple[Path, list[str]]]:
    """Every scenario written once: (folder, host names)."""
    out = []
    for name in SCENARIOS:
        folder = write_logset(name, root, style="numeric")
        out.append((folder, sorted(p.name for p in folder.iterdir() if p.is_dir())))
    return out


def build(dest: Path, hosts: int, sets: list[tuple[Path, list[str]]]) -> int:
    """Copy scenario sites under new names until ``hosts`` host folders exist; returns the byte count."""
    made = size = copy = 0
    while made < hosts:
        folder, names = sets[copy % len(sets)]
        rename = {name: f"{name[:6]}{copy:05d}" for name in names}
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            rel = path.relative_to(folder)
            target = dest / rename[rel.parts[0]] / Path(*rel.parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            data = renamed(path.read_bytes(), rename, path.name.lower() == "mpmsi.log")
            target.write_bytes(data)
            size += len(data)
        made += len(names)
        copy += 1
    return size


def diagnose(folder: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of ``mpwatch diagnose --json`` in a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "diagnose", "--json", str(folder)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mpwatch diagnose {folder} failed")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", default="500,1000,2000,5000", help="comma-separated host counts")
    parser.add_argument("--keep", type=Path, help="keep the largest folder here")
    args = parser.parse_args()
    counts = sorted(int(x) for x in args.hosts.split(","))
    scratch = Path(tempfile.mkdtemp(prefix="mpwatch-bench-hosts-"))
    rates = []
    try:
        sets = templates(scratch / "templates")
        for count in counts:
            folder = args.keep if args.keep and count == counts[-1] else scratch / f"site-{count}"
            size = build(folder, count, sets)
            wall, cpu, rss = diagnose(folder)
            rate = size / 1e6 / wall
            rates.append(size / 1e6 / cpu)
            result(f"hosts_{count}_input", round(size / 1e6, 1), "MB")
            result(f"hosts_{count}_throughput", round(rate, 2), "MB/s")
            result(f"hosts_{count}_mb_per_cpu_s", round(size / 1e6 / cpu, 2), "MB per cpu-second")
            result(f"hosts_{count}_peak_rss", round(rss, 1), "MB")
            if folder != args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        result("hosts_linearity", round(rates[-1] / rates[0], 2), "x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

"""CPU per million records at each stage of the hot path, over the ``bench_core`` log set (an MP site:
IIS request logs, MP Control, SiteComp, setup logs), in this process, by ``time.process_time``:

  stages_records: N records          records in the generated set (N MB, files, hosts)
  stage_frame_cpu_per_m: S cpu-s     decode + frame (``Parser.frame_lines``: what the shipper does per
                                     record before the wire encoding; format known, as the shipper's is)
  stage_parse_cpu_per_m: S cpu-s     decode + detect + parse into ``Record`` (``offline.read_source``)
  stage_extract_cpu_per_m: S cpu-s   one ``Correlator`` per host, records -> events (parse excluded)
  stage_reduce_cpu_per_m: S cpu-s    ``Reducer.apply_all`` over those events, per million *records*
  stage_events_per_m: N events       events per million records of this input
  stage_view_cpu: S cpu-s            ``build_view`` once at the end
  stage_total_cpu_per_m: S cpu-s     parse + extract + reduce: one worker core's cost per million records

Each stage is timed on its own, best of ``--repeat`` (default 2). ``--size-mb`` sets the log set size
(default 50). CPU time, not wall time: the figures hold on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_core import generate  # noqa: E402

from streams.core.correlator import FileRef  # noqa: E402
from streams.core.events import Event  # noqa: E402
from streams.core.view import build_view  # noqa: E402
from streams.engine import Engine, RunStats  # noqa: E402
from streams.formats.api import make_parser  # noqa: E402
from streams.formats.decode import LineDecoder  # noqa: E402
from streams.loader import Source, discover  # noqa: E402
from streams.offline import read_source  # noqa: E402

CHUNK = 1 << 15


def result(name: str, value: float | int, unit: str) -> None:
    print(f"{name}: {value} {unit}", flush=True)


def frame(sources: list[Source], formats: dict[str, str]) -> int:
    framed = 0
    for source in sources:
        decoder = LineDecoder()
        parser = make_parser(formats[source.origin], source.file_id)
        with source.open() as handle:
            while chunk := handle.read(CHUNK):
                framed += len(parser.frame_lines(decoder.feed(chunk)))
        framed += len(parser.frame_lines(decoder.flush())) + len(parser.flush_framed())
    return framed


def parse(sources: list[Source]) -> int:
    stats = RunStats()
    for source in sources:
        for _ in read_source(source, stats, None):
            pass
    return stats.records


def extract(sources: list[Source], events: list[Event]) -> Engine:
    """Parse + correlate; events collected instead of reduced."""
    engine = Engine()
    engine.reducer.apply_all = lambda evs: (events.extend(evs), 0)[1]  # type: ignore[method-assign]
    stats = RunStats()
    for source in sorted(sources, key=lambda s: s.order):
        ref = FileRef(source.file_id, source.file_id, source.kind)
        for records in read_source(source, stats, None):
            engine.feed(source.host, ref, records)
    engine.finish()
    return engine


def best(repeat: int, call: object, *args: object) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        value = call(*args)  # type: ignore[operator]
        times.append(time.process_time() - started)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    dest = Path(tempfile.mkdtemp(prefix="mpwatch-bench-stages-"))
    try:
        size, files, hosts = generate(dest, args.size_mb)
        sources = discover([str(p) for p in sorted(dest.iterdir())], [], [])
        formats = {}
        for source in sources:
            stats = RunStats()
            for _ in read_source(source, stats, None):
                pass
            formats[source.origin] = max(stats.formats, key=stats.formats.__getitem__, default="raw")
        frame_cpu, framed = best(args.repeat, frame, sources, formats)
        parse_cpu, records = best(args.repeat, parse, sources)
        assert isinstance(records, int) and isinstance(framed, int)
        runs = []
        for _ in range(args.repeat):
            events: list[Event] = []
            gc.collect()
            started = time.process_time()
            engine = extract(sources, events)
            runs.append((time.process_time() - started, events, engine))
        both_cpu, events, engine = min(runs, key=lambda run: run[0])
        reduce_cpu = float("inf")
        for _ in range(args.repeat):
            reducer = Engine().reducer
            started = time.process_time()
            reducer.apply_all(events)
            reduce_cpu = min(reduce_cpu, time.process_time() - started)
        started = time.process_time()
        build_view(reducer.servers.values(), engine.latest_seen())
        view_cpu = time.process_time() - started
        per_m = 1e6 / records
        extract_cpu = max(0.0, both_cpu - parse_cpu)
        result("stages_records", records, f"records ({size / 1e6:.1f} MB, {files} files on {hosts} hosts)")
        result(
            "stage_frame_cpu_per_m",
            round(frame_cpu * 1e6 / framed, 2),
            f"cpu-s per million framed ({framed})",
        )
        result("stage_parse_cpu_per_m", round(parse_cpu * per_m, 2), "cpu-s per million records")
        result("stage_extract_cpu_per_m", round(extract_cpu * per_m, 2), "cpu-s per million records")
        result("stage_reduce_cpu_per_m", round(reduce_cpu * per_m, 2), "cpu-s per million records")
        result("stage_events_per_m", round(len(events) * per_m), "events per million records")
        result("stage_view_cpu", round(view_cpu, 3), "cpu-s")
        total = (parse_cpu + extract_cpu + reduce_cpu) * per_m
        result("stage_total_cpu_per_m", round(total, 2), "cpu-s per million records")
        result("stage_bytes_per_record", round(size / records), "bytes")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    main()

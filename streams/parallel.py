"""``mpwatch diagnose --jobs N``: the offline run spread over N processes, same answer as one.

Hosts are independent until the reducer: each host's files go to one worker process (hosts dealt out
by size, biggest first, to the least loaded worker), which runs the engine's stage 1 (a ``Correlator``
per host, ``streams.engine.Engine``) over them and streams the events back in chunks. The parent holds
the one ``Reducer``; the reducer is order-free and idempotent, so events arriving from several workers in
any interleaving give the answer a single process gives (a test holds every fixture to that).

Two things cross hosts in stage 1: the site fallback for hosts whose logs never state a UTC offset
(the offset most hosts showed), and the input's latest time (where a host that showed no time at all
places its lines that have none). Workers therefore stop before their end-of-input step and send their
offset votes and latest time; the parent adds them up, sends the site-wide fallback and latest time
back, and only then do the workers release what they held, with them.

Workers are forked (Linux, macOS with fork): the sources, which carry open-callbacks, are inherited, not
pickled. Without fork, or for archives (one zip handle must not be shared by processes), or for small
inputs (a fork costs more than it saves), the run stays in one process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

from streams.core.correlator import FileRef
from streams.core.servers import canonical_server
from streams.engine import Engine, RunResult, RunStats
from streams.loader import Source

MIN_PARALLEL_BYTES = 32 << 20  # below this a single process is faster than starting workers
EVENTS_PER_MESSAGE = 20_000

Progress = Callable[[RunStats], None]


def default_jobs(sources: list[Source]) -> int:
    """Workers worth using for these sources: 1 unless the input is big, plain files, and fork exists."""
    if not can_fork() or sum(s.size for s in sources) < MIN_PARALLEL_BYTES or not all_plain(sources):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def all_plain(sources: list[Source]) -> bool:
    """Every source is a plain file on disk (not a zip member, whose handle processes cannot share)."""
    return all(os.path.isfile(s.origin) for s in sources)


def deal(sources: list[Source], jobs: int) -> list[list[Source]]:
    """Hosts to workers: every source of a host in one list, lists balanced by bytes."""
    by_host: dict[str, list[Source]] = {}
    for source in sources:
        by_host.setdefault(canonical_server(source.host) or "UNKNOWN", []).append(source)
    loads = [0] * jobs
    out: list[list[Source]] = [[] for _ in range(jobs)]
    for host_sources in sorted(by_host.values(), key=lambda group: -sum(s.size for s in group)):
        least = loads.index(min(loads))
        out[least].extend(host_sources)
        loads[least] += sum(s.size for s in host_sources)
    return [group for group in out if group]


def run_parallel(
    sources: list[Source],
    jobs: int,
    *,
    now: int | None = None,
    tz: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """The offline run over ``jobs`` forked workers (see the module docstring)."""
    stats = RunStats(files_total=len(sources), bytes_total=sum(s.size for s in sources))
    engine = Engine(tz, stats)  # the parent's engine: its reducer takes every worker's events
    groups = deal(sources, jobs)
    context = multiprocessing.get_context("fork")
    workers: dict[Connection, Any] = {}
    for group in groups:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, args=(group, dict(tz or {}), child_end), daemon=True)
        process.start()
        child_end.close()
        workers[parent_end] = process
    workers_by_id = {id(conn): conn for conn in workers}
    votes: Counter[int] = Counter()
    latest: int | None = None
    waiting_votes = set(workers)
    done: set[Connection] = set()
    progress_by_worker: dict[Connection, tuple[int, int]] = {}
    try:
        while len(done) < len(workers):
            for ready in wait([c for c in workers if c not in done]):
                conn = workers_by_id[id(ready)]
                kind, payload = conn.recv()
                payload = _typed(payload)
                if kind == "events":
                    stats.events += len(payload)
                    stats.events_applied += engine.reducer.apply_all(payload)
                elif kind == "progress":
                    progress_by_worker[conn] = payload
                    stats.bytes_done = sum(b for b, _ in progress_by_worker.values())
                    stats.files_done = sum(f for _, f in progress_by_worker.values())
                    if progress is not None:
                        progress(stats)
                elif kind == "votes":
                    worker_votes, worker_latest = payload
                    votes.update(worker_votes)
                    if worker_latest is not None and (latest is None or worker_latest > latest):
                        latest = worker_latest
                    waiting_votes.discard(conn)
                    if not waiting_votes:
                        fallback = _fallback(votes)
                        for other in workers:
                            other.send((fallback, latest))
                elif kind == "done":
                    _merge(stats, payload)
                    done.add(conn)
                elif kind == "error":
                    raise RuntimeError(f"diagnose worker failed: {payload}")
    finally:
        for conn, process in workers.items():
            conn.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return engine.result(now)


def _fallback(votes: Counter[int]) -> tuple[int, str]:
    """``correlator.site_fallback`` over the votes of every worker."""
    if not votes:
        return 0, "utc"
    best = max(votes.values())
    return min(o for o, n in votes.items() if n == best), "site"


def _worker(sources: list[Source], tz: dict[str, int], conn: Connection) -> None:
    """Stage 1 for some hosts: events out in chunks, then votes, then (with the site fallback) the rest."""
    from streams.offline import read_source  # the offline shell's reader: one way to read a file

    try:
        stats = RunStats(files_total=len(sources), bytes_total=sum(s.size for s in sources))
        engine = Engine(tz, stats)
        pending: list[Any] = []
        engine.reducer.apply_all = lambda events: _collect(pending, events)  # type: ignore[method-assign]
        for source in sorted(sources, key=lambda s: s.order):
            ref = FileRef(source.file_id, source.file_id, source.kind)
            for records in read_source(source, stats, None):
                engine.feed(source.host, ref, records)
                if len(pending) >= EVENTS_PER_MESSAGE:
                    conn.send(("events", pending[:]))
                    pending.clear()
            stats.files_done += 1
            conn.send(("progress", (stats.bytes_done, stats.files_done)))
        votes: Counter[int] = Counter()
        for correlator in engine.correlators.values():
            votes.update(correlator.offsets())
        conn.send(("votes", (votes, engine.latest_seen())))
        fallback, latest = conn.recv()
        engine.finish(fallback, latest)
        if pending:
            conn.send(("events", pending[:]))
        conn.send(("done", _figures(stats)))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _typed(payload: Any) -> Any:
    """Messages between processes are plain picklable values; this names the type for the checker."""
    return payload


def _collect(pending: list[Any], events: Iterable[Any]) -> int:
    before = len(pending)
    pending.extend(events)
    return len(pending) - before


def _figures(stats: RunStats) -> dict[str, Any]:
    return {
        "records": stats.records,
        "formats": dict(stats.formats),
        "extractor": dict(stats.extractor),
        "errors": list(stats.errors),
        "encoding_switches": list(stats.encoding_switches),
        "latest": stats.latest,
        "guessed_offsets": dict(stats.guessed_offsets),
        "bytes_done": stats.bytes_done,
        "files_done": stats.files_done,
    }


def _merge(stats: RunStats, figures: dict[str, Any]) -> None:
    stats.records += figures["records"]
    stats.formats.update(figures["formats"])
    stats.extractor.update(figures["extractor"])
    stats.errors.extend(figures["errors"])
    stats.encoding_switches.extend(figures["encoding_switches"])
    stats.guessed_offsets.update(figures["guessed_offsets"])
    latest = figures["latest"]
    if latest is not None and (stats.latest is None or latest > stats.latest):
        stats.latest = latest

"""The offline shell behind ``mpwatch diagnose``: it only assembles the engine's pieces.

sources (``streams.loader``) -> parser per file -> one ``Correlator`` per source host -> ``Reducer`` ->
``build_view``. One pass: files are read in ``Source.order`` (a rotated ``.lo_`` before its ``.log``),
each in chunks, and every event goes straight into the reducer, so memory stays bounded by the
reducer's retention, the correlators' bounded state and one chunk, whatever the input size.

Local-time records (MPSetup, MSI) wait inside their host's correlator until a zoned log of the same
host states its UTC offset; at the end, hosts whose logs never did are placed with the offset most
hosts of the site showed (``site_fallback``), else UTC, and the run says so (``guessed_offsets``).

"now" is ``--now`` or else the latest record time in the input (the offline "now" policy,
``streams.store``). Unreadable files are reported and counted, and the run goes on.

The same entry point also takes shipped data: ``run_records`` is fed (host, FileRef, records) triples
(from ``streams.wire`` batches) and gives the same answer as the original logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.core.correlator import Correlator, FileRef, site_fallback
from streams.core.events import Event
from streams.core.reducer import Reducer
from streams.core.servers import canonical_server
from streams.core.view import build_view
from streams.formats.api import StreamParser
from streams.formats.record import Record
from streams.loader import READ_ERRORS, Source

CHUNK = 1 << 20

Progress = Callable[["RunStats"], None]


@dataclass
class RunStats:
    """Figures of a run (also what the progress line shows)."""

    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    bytes_done: int = 0
    records: int = 0
    events: int = 0
    events_applied: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    extractor: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latest: int | None = None  # latest record time seen (UTC microseconds)
    guessed_offsets: dict[str, tuple[int, str]] = field(default_factory=dict)  # host -> (minutes, source)


@dataclass
class RunResult:
    view: dict[str, Any]
    reducer: Reducer
    stats: RunStats
    now: int | None


class Engine:
    """Correlators per source host feeding one reducer: what every in-process shell assembles."""

    def __init__(self, tz: Mapping[str, int] | None = None, stats: RunStats | None = None) -> None:
        self.tz = {canonical_server(host): minutes for host, minutes in (tz or {}).items()}
        self.stats = stats or RunStats()
        self.reducer = Reducer()
        self.correlators: dict[str, Correlator] = {}

    def correlator(self, host: str) -> Correlator:
        host = canonical_server(host) or "UNKNOWN"
        correlator = self.correlators.get(host)
        if correlator is None:
            correlator = Correlator(host, tz=self.tz.get(host), fallback=self._site_fallback)
            self.correlators[host] = correlator
        return correlator

    def feed(self, host: str, ref: FileRef, records: Iterable[Record]) -> list[Event]:
        """Correlate and apply records of one file; returns the events they gave."""
        return self._apply(self.correlator(host).feed_many(ref, records))

    def finish(self) -> list[Event]:
        """End of input: release what waits, collect the correlators' figures; returns the events
        released."""
        fallback = site_fallback(self.correlators.values())
        stats = self.stats
        released: list[Event] = []
        for host, correlator in self.correlators.items():
            released.extend(self._apply(correlator.finish(fallback)))
            stats.extractor.update(correlator.stats)
            if correlator.fallback_used is not None and correlator.stats.get("local_times"):
                stats.guessed_offsets[host] = correlator.fallback_used
            seen = correlator.latest_ts()
            if seen is not None and (stats.latest is None or seen > stats.latest):
                stats.latest = seen
        return released

    def result(self, now: int | None) -> RunResult:
        if now is None:
            now = self.stats.latest
        return RunResult(build_view(self.reducer.servers.values(), now), self.reducer, self.stats, now)

    def _apply(self, events: list[Event]) -> list[Event]:
        self.stats.events += len(events)
        self.stats.events_applied += self.reducer.apply_all(events)
        return events

    def _site_fallback(self) -> tuple[int, str]:
        return site_fallback(self.correlators.values())


def run(
    sources: list[Source],
    *,
    now: int | None = None,
    tz: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Diagnose the given sources; "now" defaults to the latest record time."""
    stats = RunStats(files_total=len(sources), bytes_total=sum(s.size for s in sources))
    engine = Engine(tz, stats)
    for source in sorted(sources, key=lambda s: s.order):
        ref = FileRef(source.file_id, source.file_id, source.kind)
        for records in _read(source, stats, progress):
            engine.feed(source.host, ref, records)
        stats.files_done += 1
        if progress is not None:
            progress(stats)
    engine.finish()
    return engine.result(now)


def run_records(
    batches: Iterable[tuple[str, FileRef, list[Record]]],
    *,
    now: int | None = None,
    tz: Mapping[str, int] | None = None,
) -> RunResult:
    """Diagnose already parsed records (shipped batches): (source host, file, records) in any order
    that keeps each file's records in file order."""
    engine = Engine(tz)
    for host, ref, records in batches:
        engine.stats.records += len(records)
        engine.feed(host, ref, records)
    engine.finish()
    return engine.result(now)


def _read(source: Source, stats: RunStats, progress: Progress | None) -> Iterator[list[Record]]:
    """Record batches of one source, one per chunk read; fills the byte and record figures."""
    parser = StreamParser(source.file_id)
    done = 0
    try:
        with source.open() as handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                done += len(chunk)
                stats.bytes_done += len(chunk)
                yield parser.feed(chunk)
                if progress is not None:
                    progress(stats)
    except READ_ERRORS as exc:
        stats.errors.append(f"{source.origin}: {getattr(exc, 'strerror', None) or exc}")
        stats.bytes_done += max(0, source.size - done)
    yield parser.flush()
    file_stats = parser.stats()
    stats.records += sum(file_stats.records.values())
    stats.formats.update(file_stats.records)

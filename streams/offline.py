"""The offline run behind ``mpwatch diagnose``: sources -> records -> events -> reducer -> view.

Two passes keep the result independent of file order:

1. **Clocks.** For every source the first records (at most ``LEARN_BYTES``) are parsed until one states
   its zone; that gives the host's UTC offset at that time (``HostClock.observe``). ``--tz`` overrides.
2. **Events.** Every source is parsed in chunks, one ``EventExtractor`` per (host, rotation stream), and
   each event goes straight into the reducer, so memory stays bounded by the reducer's retention
   and one chunk, whatever the input size.

"now" is ``--now`` or else the latest record time in the input. Unreadable files are reported and
counted, and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from streams.core.clock import HostClock, offset_from_record
from streams.core.events import Event, to_us
from streams.core.extract import EventExtractor
from streams.core.reducer import Reducer
from streams.core.view import build_view
from streams.formats.api import StreamParser
from streams.loader import READ_ERRORS, Source

CHUNK = 1 << 20
LEARN_BYTES = 256 << 10
LEARN_CHUNK = 16 << 10
_ZONED = frozenset({"sms", "cmtrace"})

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


def learn_clocks(sources: Iterable[Source], clock: HostClock) -> None:
    """Pass 1: observe each host's UTC offset from the first zoned record of each of its files.

    Reads small chunks and stops at the first record that states its zone, or as soon as the file's
    format turns out to carry no zone (MPSetup, MSI, IIS), or after ``LEARN_BYTES``.
    """
    for source in sources:
        try:
            with source.open() as handle:
                _learn_one(source, handle, clock)
        except READ_ERRORS:
            continue  # pass 2 reports it


def _learn_one(source: Source, handle: IO[bytes], clock: HostClock) -> None:
    parser = StreamParser(source.file_id)
    read = 0
    while read < LEARN_BYTES:
        chunk = handle.read(LEARN_CHUNK)
        read += len(chunk)
        records = parser.feed(chunk) if chunk else parser.flush()
        if parser.format is not None and parser.format not in _ZONED:
            return
        for record in records:
            if record.time is None or record.time.tzinfo is None or record.time_is_local:
                continue
            offset = offset_from_record(record)
            if offset is not None:
                clock.observe(source.host, to_us(record.time), offset)
                return
        if not chunk:
            return


def iter_events(
    sources: Iterable[Source],
    clock: HostClock,
    stats: RunStats,
    progress: Progress | None = None,
) -> Iterator[tuple[Source, list[Event]]]:
    """Pass 2: (source, events) batches, one per chunk read, in reading order.

    Sources are read in ``Source.order`` whatever order they are given in, so a rotated ``.lo_`` always
    precedes its ``.log`` in the extractor they share. Fills ``stats`` (including ``stats.latest``).
    """
    extractors: dict[tuple[str, str], EventExtractor] = {}
    for source in sorted(sources, key=lambda s: s.order):
        extractor = extractors.get(source.stream)
        if extractor is None:
            extractor = extractors[source.stream] = EventExtractor(source.host, clock)
        yield from _read(source, extractor, stats, progress)
        stats.files_done += 1
        if progress is not None:
            progress(stats)
    for extractor in extractors.values():
        extractor.finish()
        stats.extractor.update(extractor.stats)
        if extractor.stats["local_times"] and not clock.known(extractor.host):
            stats.guessed_offsets[extractor.host] = clock.offset_for(extractor.host, 0)
        seen = extractor.latest_ts()
        if seen is not None and (stats.latest is None or seen > stats.latest):
            stats.latest = seen


def run(
    sources: list[Source],
    *,
    now: int | None = None,
    tz: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Diagnose the given sources; "now" defaults to the latest record time."""
    stats = RunStats(files_total=len(sources), bytes_total=sum(s.size for s in sources))
    clock = HostClock(tz)
    learn_clocks(sources, clock)
    reducer = Reducer()
    apply = reducer.apply
    for _source, events in iter_events(sources, clock, stats, progress):
        stats.events += len(events)
        for ev in events:
            stats.events_applied += apply(ev)
    if now is None:
        now = stats.latest
    return RunResult(build_view(reducer, now), reducer, stats, now)


def _read(
    source: Source, extractor: EventExtractor, stats: RunStats, progress: Progress | None
) -> Iterator[tuple[Source, list[Event]]]:
    parser = StreamParser(source.file_id)
    feed = extractor.feed
    file_id = source.file_id
    done = 0
    try:
        with source.open() as handle:
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                done += len(chunk)
                stats.bytes_done += len(chunk)
                batch = [ev for record in parser.feed(chunk) for ev in feed(record, file_id)]
                if batch:
                    yield source, batch
                if progress is not None:
                    progress(stats)
    except READ_ERRORS as exc:
        stats.errors.append(f"{source.origin}: {getattr(exc, 'strerror', None) or exc}")
        stats.bytes_done += max(0, source.size - done)
    batch = [ev for record in parser.flush() for ev in feed(record, file_id)]
    if batch:
        yield source, batch
    file_stats = parser.stats()
    stats.records += sum(file_stats.records.values())
    stats.formats.update(file_stats.records)

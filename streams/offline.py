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

The same entry point also takes shipped data (``shipped``: wire batches from the shipper's ``file://``
output or a topic, ``streams.shipped``), parsed on this side with ``wire.parse_records``, and gives the
same answer as the original logs; ``run_records`` takes already parsed (host, FileRef, records).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from streams.core.correlator import FileRef
from streams.engine import Engine, RunResult, RunStats
from streams.formats.api import StreamParser
from streams.formats.record import Record
from streams.loader import READ_ERRORS, Source
from streams.wire import ShippedBatch

CHUNK = 1 << 20

Progress = Callable[[RunStats], None]

__all__ = ["Engine", "Progress", "RunResult", "RunStats", "run", "run_records"]


def run(
    sources: list[Source],
    *,
    now: int | None = None,
    tz: Mapping[str, int] | None = None,
    progress: Progress | None = None,
    shipped: Iterable[ShippedBatch] = (),
) -> RunResult:
    """Diagnose the given sources and shipped batches (``streams.shipped``: the shipper's ``file://``
    output or a topic); "now" defaults to the latest record time."""
    stats = RunStats(files_total=len(sources), bytes_total=sum(s.size for s in sources))
    engine = Engine(tz, stats)
    for source in sorted(sources, key=lambda s: s.order):
        ref = FileRef(source.file_id, source.file_id, source.kind)
        for records in read_source(source, stats, progress):
            engine.feed(source.host, ref, records)
        stats.files_done += 1
        if progress is not None:
            progress(stats)
    for batch in shipped:
        engine.feed_batch(batch)
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


def read_source(source: Source, stats: RunStats, progress: Progress | None) -> Iterator[list[Record]]:
    """Record batches of one source, one per chunk read; fills the byte and record figures."""
    parser = StreamParser(source.file_id, lean=True)  # records for correlation only (Parser.lean)
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
    stats.encoding_switches += [
        f"{source.origin}: at byte {at}, {old} -> {new}" for at, old, new in parser.decoder.switches
    ]
    file_stats = parser.stats()
    stats.records += sum(file_stats.records.values())
    stats.formats.update(file_stats.records)

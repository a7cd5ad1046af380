"""The engine every shell assembles: one ``Correlator`` per source host feeding one ``Reducer``.

``Engine`` is what the offline run (``streams.offline``), the embedded ``mpwatch run`` and the tests hold
in one process; the Faust workers hold the same two stages split over partitions (Correlator state in a
table keyed by source host, ``ServerState`` in a table keyed by target server) and call the same
methods of the same classes. No shell correlates anything itself.

* ``feed(host, file, records)`` -- records of one file, in file order, any chunking, replays ignored;
* ``feed_batch(batch)`` -- one shipped batch (``streams.wire``), parsed here with ``parse_records``;
* ``tick(now_us)`` -- live shells only: releases local-time records that waited too long for their
  host's UTC offset (bounded wait, then the site fallback);
* ``finish()`` -- offline only: end of input, everything still waiting is released (records whose
  file never stated a time are placed from context, the input's latest time as the last resort);
* ``result(now)`` -- the ``mpwatch diagnose --json`` answer at ``now``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.core.correlator import HOLD_SECONDS, Correlator, FileRef, site_fallback
from streams.core.events import Event
from streams.core.reducer import Reducer, ServerState
from streams.core.servers import canonical_server
from streams.core.view import build_view
from streams.formats.record import Record
from streams.wire import ShippedBatch, parse_records

MAX_FILE_REFS = 65536  # (host, file id) -> FileRef entries kept for shipped batches (oldest dropped)


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
    encoding_switches: list[str] = field(default_factory=list)  # "file: at byte N, utf-8 -> utf-16-le"
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
        self._files: dict[tuple[str, str], FileRef] = {}
        self.hold_seconds: float = HOLD_SECONDS  # live shells: wall-clock wait for a UTC offset (tick)

    def correlator(self, host: str) -> Correlator:
        host = canonical_server(host) or "UNKNOWN"
        correlator = self.correlators.get(host)
        if correlator is None:
            correlator = Correlator(
                host, tz=self.tz.get(host), fallback=self._site_fallback, hold_seconds=self.hold_seconds
            )
            self.correlators[host] = correlator
        return correlator

    def feed(self, host: str, ref: FileRef, records: Iterable[Record]) -> list[Event]:
        """Correlate and apply records of one file; returns the events they gave."""
        return self._apply(self.correlator(host).feed_many(ref, records))

    def feed_batch(self, batch: ShippedBatch) -> list[Event]:
        """Parse and correlate one shipped batch; the figures go to ``stats``. A rotated file keeps its
        identity under a new name: its FileRef follows the name the latest batch gives."""
        h = batch.header
        key = (h.host, h.file_id)
        known = self._files.get(key)
        if known is None or known.name != h.name:
            known = self._files[key] = FileRef(h.file_id, h.name, h.kind)
            if len(self._files) > MAX_FILE_REFS:
                self._files.pop(next(iter(self._files)))
        records = parse_records(batch, lean=True)  # correlation only: runs of IIS requests folded
        stats = self.stats
        stats.records += len(batch.records)
        stats.bytes_done += sum(r.size for r in batch.records)
        stats.formats[h.format] += len(batch.records)
        return self.feed(h.host, known, records)

    def finish(self, fallback: tuple[int, str] | None = None, latest: int | None = None) -> list[Event]:
        """End of input: release what waits (with ``fallback``, default: this engine's site fallback;
        records whose file never stated a time at ``latest`` when their host knows no time either,
        default: ``latest_seen``), collect the correlators' figures; returns the events released."""
        if fallback is None:
            fallback = site_fallback(self.correlators.values())
        if latest is None:
            latest = self.latest_seen()
        stats = self.stats
        released: list[Event] = []
        for host, correlator in self.correlators.items():
            released.extend(self._apply(correlator.finish(fallback, latest=latest)))
            stats.extractor.update(correlator.stats)
            if correlator.fallback_used is not None and correlator.stats.get("local_times"):
                stats.guessed_offsets[host] = correlator.fallback_used
            seen = correlator.latest_ts()
            if seen is not None and (stats.latest is None or seen > stats.latest):
                stats.latest = seen
        return released

    def latest_seen(self) -> int | None:
        """The latest record time any host showed so far (UTC microseconds)."""
        return max((t for c in self.correlators.values() if (t := c.latest_ts()) is not None), default=None)

    def tick(self, now_us: int) -> list[Event]:
        """Time-driven work of live shells: release what waited too long for a UTC offset."""
        released: list[Event] = []
        for correlator in self.correlators.values():
            released.extend(self._apply(correlator.tick(now_us)))
        return released

    def result(self, now: int | None) -> RunResult:
        if now is None:
            now = self.stats.latest
        return RunResult(build_view(self.reducer.servers.values(), now), self.reducer, self.stats, now)

    # ------------------------------------------------------------------ snapshots (the embedded shell)
    def correlator_state(self, host: str) -> dict[str, Any]:
        return self.correlators[host].state()

    def restore(self, correlators: Iterable[dict[str, Any]], servers: Iterable[dict[str, Any]]) -> None:
        """Resume from states written by ``correlator_state`` and ``ServerState.to_dict``: the same
        reducer dict object is refilled, so stores reading it live see the restored servers."""
        for data in correlators:
            correlator = Correlator.from_state(
                data, fallback=self._site_fallback, hold_seconds=self.hold_seconds
            )
            self.correlators[correlator.host] = correlator
        for data in servers:
            state = ServerState.from_dict(data)
            self.reducer.servers[state.server] = state

    def _apply(self, events: list[Event]) -> list[Event]:
        self.stats.events += len(events)
        self.stats.events_applied += self.reducer.apply_all(events)
        return events

    def _site_fallback(self) -> tuple[int, str]:
        return site_fallback(self.correlators.values())

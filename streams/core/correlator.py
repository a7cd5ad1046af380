"""Stage 1 of the engine: one source host's records in, events about target servers out.

A ``Correlator`` is everything the engine knows about one *source* host (the machine whose logs these
are); every shell runs one per host and nothing else between the parsers and the reducer:

* the offline run (``streams.offline``) feeds it the files of a collected log folder;
* ``mpwatch run`` feeds it what the tailer reads, live;
* a Faust worker keeps one per host in a table (stage 1, keyed by source host) and re-keys the events it
  returns by ``event.server`` (the *target* server) for stage 2.

What it does, in order, for each ``feed(ref, record)``:

1. **Replay guard.** A record at or below the last offset already fed for that file identity is
   ignored (at-least-once delivery repeats batches; Faust cannot commit this state together with its
   consumer offset). Files are told apart by identity (``FileRef.file_id``), never by name.
2. **Streams.** Records go to the ``EventExtractor`` of their rotation stream (``SiteComp.lo_`` and
   ``SiteComp.log`` share one, so SiteComp's per-thread target context survives a rollover).
3. **Clock.** The host's UTC offset is learned from its own zoned records (the first one of each file;
   ``tz`` overrides). Records in local time only (MPSetup.log, MPMSI.log) *wait* while the offset is
   unknown: their stream is held, in order, and released once any zoned record of the host states its
   offset, so streaming and offline place them at the same time. The wait is bounded: after
   ``HOLD_LIMIT`` held records, or ``HOLD_SECONDS`` of wall clock (``tick``), or at the end of the
   input (``finish``), they are placed with the *fallback*: the ``fallback`` callable given at
   construction (the offline and embedded shells pass the offset most hosts of the site showed),
   else UTC. Such times are flagged inferred, like every placed local time.

4. **Records with no time at all.** A record whose file has stated no time yet waits in its extractor
   for the file's first time (a Windows Installer 2.0 log collected after its banner: the next banner
   places it). If none comes, it is placed from *context*, inferred: an MSI record 1 ms after the
   host's latest MPSetup ``Installing ... mp.msi`` time (so timelines show it after that line); any
   other record, or an MSI record when MPSetup said nothing, at the latest time the host's other logs
   showed; and at the end of an offline input, if the host showed no time at all, at the latest time
   of the whole input (``finish(latest=...)``). That happens at ``finish``, after ``HOLD_SECONDS`` of
   wall clock (``tick``, counted once no local-time record of the host is held any more: those may
   carry the mp.msi start) and before a file is forgotten; nothing is dropped unless no time is known
   anywhere.

State is complete and bounded: ``state()`` holds the extractors (thread contexts, chains, last times,
records waiting for a time), the learned clock, the held records, the replay marks and counters;
``from_state`` resumes exactly. At most ``MAX_FILES`` file identities and ``MAX_STREAMS`` streams are
remembered; the least recently fed are forgotten first (a new IIS file every day never grows it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streams.core import kinds as K
from streams.core.clock import HostClock
from streams.core.events import Event
from streams.core.extract import EventExtractor
from streams.core.servers import canonical_server
from streams.formats.record import Record, record_from_state, record_to_state
from streams.logfiles import rotation_stem

HOLD_LIMIT = 20_000  # local-time records held per host while its UTC offset is unknown
HOLD_SECONDS = 300  # ... or this long (wall clock, through tick) before the fallback places them
MAX_FILES = 512  # file identities whose replay marks are kept
MAX_STREAMS = 64  # rotation streams whose extractor state is kept
_US = 1_000_000
AFTER_MSI_STARTED = 1_000  # us: timeless mp.msi lines follow MPSetup's "Installing ... mp.msi" line

Fallback = Callable[[], tuple[int, str]]  # -> (offset minutes east, source: "site" | "utc" | ...)


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file of the host, as the engine sees it.

    ``file_id``: identity used in event ids (a shipped file's identity, which changes after truncation,
    or an offline file's path relative to its host folder); ``name``: the display path relative to the
    host's log root, '/'-separated (what timelines and evidence show); ``kind``: its log kind
    (``streams.logfiles.KINDS``).
    """

    file_id: str
    name: str
    kind: str

    @property
    def stream(self) -> str:
        return rotation_stem(self.name)


def _utc() -> tuple[int, str]:
    return 0, "utc"


class Correlator:
    """Records of one source host -> events (see the module docstring)."""

    def __init__(
        self,
        host: str,
        *,
        tz: int | None = None,
        fallback: Fallback | None = None,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self.host = canonical_server(host) or "UNKNOWN"
        self.tz = tz
        self.fallback = fallback or _utc
        self.hold_seconds = hold_seconds  # live shells may shorten the wall-clock wait (tests do)
        self.clock = HostClock({self.host: tz} if tz is not None else None)
        self.stats: Counter[str] = Counter()
        self._extractors: dict[str, EventExtractor] = {}  # stream -> extractor, least recently fed first
        self._last: dict[str, int] = {}  # file_id -> last offset fed, least recently fed first
        self._held: list[tuple[FileRef, Record]] = []  # local-time records waiting for the offset
        self._held_streams: set[str] = set()
        self._held_since: int | None = None  # wall-clock time (us) tick first saw a hold
        self._fallback_used: tuple[int, str] | None = None
        self._msi_started: int | None = None  # latest MPSetup "Installing ... mp.msi" time (UTC us)
        self._site_latest: int | None = None  # the whole input's latest time (offline finish only)
        self._waiting_since: int | None = None  # wall-clock time (us) tick first saw timeless records
        self._spilled: list[Event] = []  # released by a forgotten stream; drained in the same call

    # ------------------------------------------------------------------ feeding
    def feed(self, ref: FileRef, record: Record) -> list[Event]:
        """Events of one record of ``ref`` (usually none); see the module docstring."""
        return self._feed(ref, ref.stream, record)

    def _feed(self, ref: FileRef, stream: str, record: Record) -> list[Event]:
        last = self._last.pop(ref.file_id, -1)
        if record.offset <= last:
            self._last[ref.file_id] = last
            self.stats["replayed"] += 1
            return []
        self._last[ref.file_id] = record.offset
        forgotten = self._forget_file(next(iter(self._last))) if len(self._last) > MAX_FILES else []
        if stream in self._held_streams or (self._is_local(record) and self._must_wait()):
            self._hold(ref, stream, record)
            if len(self._held) >= HOLD_LIMIT:
                forgotten.extend(self._release(self.fallback()))
            return forgotten
        events = self._extractor(stream).feed(record, ref.file_id, ref.name, ref.kind)
        if self._spilled:
            events = self._drain(events)
        if self._held and self.clock.known(self.host):
            events.extend(self._release(None))
        if events:
            self._note(events)
        return forgotten + events if forgotten else events

    def feed_many(self, ref: FileRef, records: Iterable[Record]) -> list[Event]:
        """``feed`` for each record of one file, in order."""
        out: list[Event] = []
        stream = ref.stream  # one rotation-stem lookup per call, not per record
        feed = self._feed
        for record in records:
            events = feed(ref, stream, record)
            if events:
                out.extend(events)
        return out

    def tick(self, now_us: int) -> list[Event]:
        """Time-driven work (call every few seconds in live shells): held records that waited
        ``HOLD_SECONDS`` are placed with the fallback offset, and records whose file stated no time
        for as long are placed from context."""
        out: list[Event] = []
        if not self._held:
            self._held_since = None
        elif self._held_since is None:
            self._held_since = now_us
        elif now_us - self._held_since >= self.hold_seconds * _US:
            out.extend(self._release(self.fallback()))
        if not self._held:  # timeless lines wait for held ones: those may carry the mp.msi start
            out.extend(self._tick_timeless(now_us))
        return out

    def _tick_timeless(self, now_us: int) -> list[Event]:
        if not self.waiting:
            self._waiting_since = None
            return []
        if self._waiting_since is None:
            self._waiting_since = now_us
            return []
        if now_us - self._waiting_since < self.hold_seconds * _US:
            return []
        return self._release_timeless()

    def finish(self, fallback: tuple[int, str] | None = None, *, latest: int | None = None) -> list[Event]:
        """End of the input (offline): release what is held (with ``fallback``, else the constructor's),
        place records whose file stated no time from context (``latest``: the whole input's latest time,
        the last resort) and let every extractor count what still has none."""
        out = self._release(fallback or self.fallback()) if self._held else []
        if latest is not None:
            self._site_latest = latest
        out.extend(self._release_timeless())
        for extractor in self._extractors.values():
            out.extend(extractor.finish())
            self.stats.update(extractor.stats)
            extractor.stats.clear()
        return out

    # ------------------------------------------------------------------ what it learned
    def latest_ts(self) -> int | None:
        """Latest record time seen (any record, matched or not), UTC microseconds."""
        times = [t for e in self._extractors.values() if (t := e.latest_ts()) is not None]
        return max(times) if times else None

    def offsets(self) -> set[int]:
        """The UTC offsets (minutes east) this host's zoned logs stated."""
        return self.clock.offsets(self.host)

    @property
    def fallback_used(self) -> tuple[int, str] | None:
        """(offset, source) used for local times because no log of the host stated its zone."""
        return self._fallback_used

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def waiting(self) -> int:
        """Records waiting inside the extractors because their file stated no time yet."""
        return sum(e.waiting() for e in self._extractors.values())

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _is_local(record: Record) -> bool:
        time = record.time
        return time is not None and (record.time_is_local or time.tzinfo is None)

    def _must_wait(self) -> bool:
        """Local times wait while the host's offset is neither known nor settled by the fallback."""
        return self._fallback_used is None and not self.clock.known(self.host)

    def _note(self, events: list[Event]) -> None:
        """Remember the latest MPSetup ``Installing ... mp.msi`` time (context for timeless MSI lines)."""
        for ev in events:
            if ev.kind == K.MSI_STARTED and (self._msi_started is None or ev.ts > self._msi_started):
                self._msi_started = ev.ts

    def _context(self, record: Record) -> int | None:
        """Where a record whose file stated no time is placed (see the module docstring, point 4)."""
        if record.format == "msi" and self._msi_started is not None:
            return self._msi_started + AFTER_MSI_STARTED
        latest = self.latest_ts()
        return latest if latest is not None else self._site_latest

    def _release_timeless(self) -> list[Event]:
        out: list[Event] = []
        for extractor in self._extractors.values():
            out.extend(extractor.release_waiting())
        self._waiting_since = None
        return out

    def _new_extractor(self) -> EventExtractor:
        return EventExtractor(self.host, self.clock, learn=True, context=self._context)

    def _extractor(self, stream: str) -> EventExtractor:
        extractor = self._extractors.pop(stream, None)
        if extractor is None:
            extractor = self._new_extractor()
            if len(self._extractors) >= MAX_STREAMS:
                self._forget_stream(next(iter(self._extractors)))
        self._extractors[stream] = extractor  # most recently fed last
        return extractor

    def _hold(self, ref: FileRef, stream: str, record: Record) -> None:
        self._held.append((ref, record))
        self._held_streams.add(stream)
        self.stats["held"] += 1

    def _release(self, fallback: tuple[int, str] | None) -> list[Event]:
        """Feed the held records, in order, now that the offset is known (or with ``fallback``)."""
        if fallback is not None and not self.clock.known(self.host):
            self.clock.set_default(self.host, fallback[0])
            self._fallback_used = fallback
            self.stats["fallback_placed"] += len(self._held)
        held, self._held = self._held, []
        self._held_streams.clear()
        self._held_since = None
        out: list[Event] = []
        for ref, record in held:
            out.extend(self._extractor(ref.stream).feed(record, ref.file_id, ref.name, ref.kind))
        out = self._drain(out)
        self._note(out)
        return out

    def _drain(self, events: list[Event]) -> list[Event]:
        """Events a forgotten stream released (they come first: they were fed earlier)."""
        spilled, self._spilled = self._spilled, []
        return spilled + events if spilled else events

    def _forget_file(self, file_id: str) -> list[Event]:
        """Forget a file's state; its records still waiting for a time are placed from context first."""
        self._last.pop(file_id, None)
        out: list[Event] = []
        for extractor in self._extractors.values():
            out.extend(extractor.release_waiting({file_id}))
            extractor.forget({file_id})
        self.stats["files_forgotten"] += 1
        return out

    def _forget_stream(self, stream: str) -> None:
        extractor = self._extractors.pop(stream)
        self._spilled.extend(extractor.release_waiting())  # handed out by the feed that caused this
        extractor.finish()
        self.stats.update(extractor.stats)
        self.stats["streams_forgotten"] += 1

    # ------------------------------------------------------------------ checkpointable state
    def state(self) -> dict[str, Any]:
        """Everything needed to resume exactly (plain data, orjson-ready, bounded)."""
        return {
            "v": 1,
            "host": self.host,
            "tz": self.tz,
            "clock": self.clock.to_dict(),
            "extractors": [[stream, e.state()] for stream, e in self._extractors.items()],
            "last": [[f, o] for f, o in self._last.items()],
            "held": [[[r.file_id, r.name, r.kind], record_to_state(rec)] for r, rec in self._held],
            "held_since": self._held_since,
            "fallback_used": list(self._fallback_used) if self._fallback_used else None,
            "msi_started": self._msi_started,
            "site_latest": self._site_latest,
            "waiting_since": self._waiting_since,
            "stats": dict(self.stats),
        }

    @classmethod
    def from_state(
        cls, data: dict[str, Any], *, fallback: Fallback | None = None, hold_seconds: float = HOLD_SECONDS
    ) -> Correlator:
        self = cls(data["host"], tz=data.get("tz"), fallback=fallback, hold_seconds=hold_seconds)
        self.clock = HostClock.from_dict(data["clock"])
        for stream, state in data["extractors"]:
            extractor = self._new_extractor()
            extractor.restore(state)
            self._extractors[stream] = extractor
        self._last = {f: o for f, o in data["last"]}
        self._held = [(FileRef(*ref), record_from_state(rec)) for ref, rec in data["held"]]
        self._held_streams = {ref.stream for ref, _ in self._held}
        self._held_since = data.get("held_since")
        used = data.get("fallback_used")
        self._fallback_used = (used[0], used[1]) if used else None
        self._msi_started = data.get("msi_started")
        self._site_latest = data.get("site_latest")
        self._waiting_since = data.get("waiting_since")
        self.stats = Counter(data.get("stats", {}))
        return self


def site_fallback(correlators: Iterable[Correlator]) -> tuple[int, str]:
    """The offset most hosts' zoned logs showed (one site is usually one zone), else UTC: the fallback
    the offline and embedded shells give hosts whose own logs state no zone."""
    return site_offset(correlator.offsets() for correlator in correlators)


def site_offset(offsets: Iterable[Iterable[int]]) -> tuple[int, str]:
    """``site_fallback`` over each host's stated offsets (a Faust worker keeps them in a table)."""
    votes: Counter[int] = Counter()
    for host_offsets in offsets:
        votes.update(host_offsets)
    if not votes:
        return 0, "utc"
    best = max(votes.values())
    return min(o for o, n in votes.items() if n == best), "site"

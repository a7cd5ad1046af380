"""The per-server reducer: an idempotent, order-independent, bounded store of a server's events.

``ServerState.apply(event)`` is the only write. What it keeps:

* **Series with bounded retention.** Events are grouped by (kind, variant). Each series keeps its
  ``head`` (the H earliest events by key) and ``tail`` (the T latest) in full, and for everything in
  between only a count plus the earliest and latest of those events. H/T come from ``kinds.caps``:
  3/5 for kinds that repeat forever (HTTP verification every 10 minutes, drive probes, IIS lines),
  32/32 for milestones and errors (one per install attempt: every event in practice). Which events
  are kept depends only on the *set* of events applied, never on their order, so the timeline and the
  rules (which read the kept events) are order-independent.
* **Bounded idempotency.** Applied positions are remembered per source file as intervals of the
  file's event chain (``applied.py``): an event inside an interval was applied before and is ignored.
  Exact for any order, as long as ``prev`` links are right (the extractor's chain state is
  checkpointed with its parse position). At most ``MAX_FILES`` files are remembered per server; the
  file with the oldest events is forgotten first (a replay of *that* file could then recount dropped
  repetitions; kept events stay exact).

State is plain data (``to_dict``/``from_dict``) so it can live in a Faust table keyed by server.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any

from streams.core.applied import mark, marks_from_list, marks_to_list, new_marks
from streams.core.events import Event
from streams.core.kinds import caps

MAX_FILES = 512
_KEY = attrgetter("key")
# Sentinel keys: every event key (time, host, file, pos) lies strictly between them.
_TOP: Any = (1 << 62,)
_BOTTOM: Any = (-(1 << 62),)


def _insert(keys: list[Any], events: list[Event], key: Any, ev: Event) -> bool:
    """Insert ``ev`` into parallel sorted lists; False if its key is already there."""
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        return False
    keys.insert(i, key)
    events.insert(i, ev)
    return True


class Series:
    """Retention of one (kind, variant) series: head/tail in full, a count of the middle.

    ``head``/``tail`` hold events sorted by key, with their keys in the parallel lists
    ``head_keys``/``tail_keys`` (so that searching compares tuples in C). Both caps are at least 1.
    Invariant: every head key < every middle key < every tail key, and the tail fills only once the
    head is full. Once both are full, ``lo``/``hi``/``top`` cache the last head key and the first and
    last tail keys, so that the two common cases cost two comparisons: an event strictly between
    ``lo`` and ``hi`` goes straight to the middle count (a long series arriving out of order), one
    above ``top`` is appended to the tail (in-order delivery). While filling they are the sentinels
    ``_TOP``/``_BOTTOM``/``_TOP``, which no key passes. ``mid_lo``/``mid_hi`` are the keys of
    ``mid_first``/``mid_last``.
    """

    __slots__ = (
        "head",
        "head_cap",
        "head_keys",
        "hi",
        "lo",
        "mid_first",
        "mid_hi",
        "mid_last",
        "mid_lo",
        "n_mid",
        "tail",
        "tail_cap",
        "tail_keys",
        "top",
    )

    def __init__(self, head_cap: int, tail_cap: int) -> None:
        self.head: list[Event] = []
        self.tail: list[Event] = []
        self.head_keys: list[Any] = []
        self.tail_keys: list[Any] = []
        self.head_cap = max(1, head_cap)
        self.tail_cap = max(1, tail_cap)
        self.lo: Any = _TOP
        self.hi: Any = _BOTTOM
        self.top: Any = _TOP
        self.n_mid = 0
        self.mid_first: Event | None = None
        self.mid_last: Event | None = None
        self.mid_lo: Any = _TOP
        self.mid_hi: Any = _BOTTOM

    def add(self, ev: Event) -> None:
        """Insert an event not applied before (a kept duplicate is ignored, as a second guard)."""
        key = ev.key
        if key < self.hi:  # before the tail (hi is _BOTTOM while filling)
            if key <= self.lo:  # joins the head, whose latest moves to the middle
                head_keys = self.head_keys
                if not _insert(head_keys, self.head, key, ev):
                    return
                key = head_keys.pop()
                ev = self.head.pop()
                self.lo = head_keys[-1]
        elif key > self.top:  # in-order delivery: the tail's earliest moves to the middle
            tail_keys = self.tail_keys
            tail_keys.append(key)
            self.tail.append(ev)
            self.top = key
            key = tail_keys.pop(0)
            ev = self.tail.pop(0)
            self.hi = tail_keys[0]
        elif len(self.tail_keys) < self.tail_cap:
            self._fill(key, ev)
            return
        else:  # within the tail
            tail_keys = self.tail_keys
            if not _insert(tail_keys, self.tail, key, ev):
                return
            key = tail_keys.pop(0)
            ev = self.tail.pop(0)
            self.hi = tail_keys[0]
        self.n_mid += 1
        if key < self.mid_lo:
            self.mid_lo = key
            self.mid_first = ev
        if key > self.mid_hi:
            self.mid_hi = key
            self.mid_last = ev

    def _fill(self, key: Any, ev: Event) -> None:
        """Add while head or tail still has room: every event is kept."""
        head_keys = self.head_keys
        if len(head_keys) < self.head_cap:
            _insert(head_keys, self.head, key, ev)
            return
        if key <= head_keys[-1]:
            if not _insert(head_keys, self.head, key, ev):
                return
            key = head_keys.pop()
            ev = self.head.pop()
        _insert(self.tail_keys, self.tail, key, ev)
        self._set_window()

    def _set_window(self) -> None:
        if len(self.tail_keys) >= self.tail_cap:
            self.lo = self.head_keys[-1]
            self.hi = self.tail_keys[0]
            self.top = self.tail_keys[-1]

    def events(self) -> list[Event]:
        return self.head + self.tail

    def latest(self) -> Event | None:
        return self.tail[-1] if self.tail else (self.head[-1] if self.head else None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": [e.to_dict() for e in self.head],
            "tail": [e.to_dict() for e in self.tail],
            "caps": [self.head_cap, self.tail_cap],
            "n_mid": self.n_mid,
            "mid": [e.to_dict() for e in (self.mid_first, self.mid_last) if e is not None],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Series:
        series = cls(*d["caps"])
        series.head = [Event.from_dict(e) for e in d["head"]]
        series.tail = [Event.from_dict(e) for e in d["tail"]]
        series.head_keys = [e.key for e in series.head]
        series.tail_keys = [e.key for e in series.tail]
        series._set_window()
        series.n_mid = d["n_mid"]
        if d["mid"]:
            first = series.mid_first = Event.from_dict(d["mid"][0])
            last = series.mid_last = Event.from_dict(d["mid"][-1])
            series.mid_lo, series.mid_hi = first.key, last.key
        return series


class ServerState:
    """Everything the core remembers about one target server."""

    __slots__ = ("latest_ts", "mp", "seen", "series", "server", "version", "view_cache")

    def __init__(self, server: str) -> None:
        self.server = server
        self.mp = False  # some event is specific to management points (else the view hides the server)
        self.latest_ts: int | None = None
        # (host, file_id) -> [newest event time, prevs, bounds]: applied chain intervals (applied.py)
        self.seen: dict[tuple[str, str], list[Any]] = {}
        self.series: dict[tuple[str, str], Series] = {}
        self.version = 0  # counts applied events: what a read side caches is valid while it stays
        self.view_cache: tuple[int, Any] | None = None  # (version, what streams.core.view derived)

    def apply(self, ev: Event) -> bool:
        """Apply one event; False when it had been applied before (nothing changes)."""
        ts = ev.ts
        marks = self.seen.get(ev.fkey)
        if marks is None:
            if len(self.seen) >= MAX_FILES:
                self._forget_oldest_file()
            self.seen[ev.fkey] = new_marks(ts, ev.pos, ev.prev)
        elif not mark(marks, ev.pos, ev.prev):
            return False
        elif ts > marks[0]:
            marks[0] = ts
        skey = (ev.kind, ev.variant)
        series = self.series.get(skey)
        if series is None:
            series = self.series[skey] = Series(*caps(ev.kind))
        series.add(ev)
        if ev.mp:
            self.mp = True
        latest = self.latest_ts
        if latest is None or ts > latest:
            self.latest_ts = ts
        self.version += 1
        return True

    def _forget_oldest_file(self) -> None:
        oldest = min(self.seen.items(), key=lambda item: (item[1][0], item[0]))[0]
        del self.seen[oldest]

    def events(self) -> list[Event]:
        """Every kept event, sorted by (time, host, file, position)."""
        out: list[Event] = []
        for series in self.series.values():
            out.extend(series.events())
        out.sort(key=_KEY)
        return out

    def compressed(self) -> Iterator[tuple[tuple[str, str], Series]]:
        """Series that dropped events from their middle (for timeline summaries)."""
        for skey, series in self.series.items():
            if series.n_mid:
                yield skey, series

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "mp": self.mp,
            "latest_ts": self.latest_ts,
            "seen": [[h, f, *marks_to_list(marks)] for (h, f), marks in self.seen.items()],
            "series": [[k, v, s.to_dict()] for (k, v), s in self.series.items()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ServerState:
        state = cls(d["server"])
        state.mp = d["mp"]
        state.latest_ts = d["latest_ts"]
        state.seen = {(h, f): marks_from_list(ts, ivs) for h, f, ts, ivs in d["seen"]}
        state.series = {(k, v): Series.from_dict(s) for k, v, s in d["series"]}
        return state


class Reducer:
    """Routes events to their server's state. In Faust, a table keyed by server replaces this dict."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerState] = {}

    def apply(self, ev: Event) -> bool:
        state = self.servers.get(ev.server)
        if state is None:
            state = self.servers[ev.server] = ServerState(ev.server)
        return state.apply(ev)

    def apply_all(self, events: Iterable[Event]) -> int:
        """Apply many events; returns how many were new."""
        servers = self.servers
        applied = 0
        for ev in events:
            state = servers.get(ev.server)
            if state is None:
                state = servers[ev.server] = ServerState(ev.server)
            if state.apply(ev):
                applied += 1
        return applied

    def latest_ts(self) -> int | None:
        times = [s.latest_ts for s in self.servers.values() if s.latest_ts is not None]
        return max(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {"servers": [s.to_dict() for _, s in sorted(self.servers.items())]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reducer:
        reducer = cls()
        for item in d["servers"]:
            state = ServerState.from_dict(item)
            reducer.servers[state.server] = state
        return reducer

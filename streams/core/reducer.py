"""The per-server reducer: an idempotent, order-independent, bounded store of a server's events.

``ServerState.apply(event)`` is the only write. What it keeps:

* **Series with bounded retention.** Events are grouped by (kind, variant). Each series keeps its
  ``head`` (the H earliest events by key) and ``tail`` (the T latest) in full, and for everything in
  between only a count plus the earliest and latest of those events. H/T come from ``kinds.caps``:
  3/5 for kinds that repeat forever (HTTP verification every 10 minutes, drive probes, IIS lines),
  32/32 for milestones and errors (one per install attempt: every event in practice). Which events
  are kept depends only on the *set* of events applied, never on their order, so the timeline and the
  rules (which read the kept events) are order-independent.
* **Bounded idempotency.** Applied positions are remembered per source file as closed intervals of the
  file's event chain (``Event.prev`` links each event to the previous one for the same server in the
  same file). An event whose position lies inside an interval was applied before and is ignored; a new
  event extends or joins intervals. In-order delivery (the shipper, offline runs) keeps one interval
  per file; arbitrary reordering only adds intervals until the gaps fill. Exact for any order, as long
  as ``prev`` links are right (the extractor's chain state is checkpointed with its parse position).
  At most ``MAX_FILES`` files are remembered per server; the file with the oldest events is forgotten
  first (a replay of *that* file could then recount dropped repetitions; kept events stay exact).

State is plain data (``to_dict``/``from_dict``) so it can live in a Faust table keyed by server.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any

from streams.core.events import Event
from streams.core.kinds import caps

MAX_FILES = 512
_KEY = attrgetter("key")
_NO_END = [1 << 62]  # compares above any [start, end, prev] interval with the same start


def _insert(keys: list[Any], events: list[Event], ev: Event) -> bool:
    """Insert ``ev`` into parallel sorted lists; False if its key is already there."""
    key = ev.key
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        return False
    keys.insert(i, key)
    events.insert(i, ev)
    return True


class Series:
    """Retention of one (kind, variant) series: head/tail in full, a count of the middle.

    ``head``/``tail`` hold events sorted by key, with their keys in the parallel lists
    ``head_keys``/``tail_keys`` (so that searching compares tuples in C).
    """

    __slots__ = (
        "head",
        "head_cap",
        "head_keys",
        "mid_first",
        "mid_last",
        "n_mid",
        "tail",
        "tail_cap",
        "tail_keys",
    )

    def __init__(self, head_cap: int, tail_cap: int) -> None:
        self.head: list[Event] = []
        self.tail: list[Event] = []
        self.head_keys: list[Any] = []
        self.tail_keys: list[Any] = []
        self.head_cap = head_cap
        self.tail_cap = tail_cap
        self.n_mid = 0
        self.mid_first: Event | None = None
        self.mid_last: Event | None = None

    def add(self, ev: Event) -> None:
        """Insert an event not applied before (a kept duplicate is ignored, as a second guard)."""
        key = ev.key
        tail_keys, tail = self.tail_keys, self.tail
        if len(tail_keys) == self.tail_cap and tail_keys and key > tail_keys[-1]:
            tail_keys.append(key)  # fast path: in-order delivery
            tail.append(ev)
            del tail_keys[0]
            ev = tail.pop(0)
        else:
            head_keys, head = self.head_keys, self.head
            if len(head_keys) < self.head_cap:
                _insert(head_keys, head, ev)
                return
            if key <= head_keys[-1]:
                if not _insert(head_keys, head, ev):
                    return
                head_keys.pop()
                ev = head.pop()
                key = ev.key
            if len(tail_keys) < self.tail_cap:
                _insert(tail_keys, tail, ev)
                return
            if key >= tail_keys[0]:  # else it belongs to the middle as it is
                if not _insert(tail_keys, tail, ev):
                    return
                del tail_keys[0]
                ev = tail.pop(0)
        self.n_mid += 1
        if self.mid_first is None or ev.key < self.mid_first.key:
            self.mid_first = ev
        if self.mid_last is None or ev.key > self.mid_last.key:
            self.mid_last = ev

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
        series.n_mid = d["n_mid"]
        if d["mid"]:
            series.mid_first = Event.from_dict(d["mid"][0])
            series.mid_last = Event.from_dict(d["mid"][-1])
        return series


class ServerState:
    """Everything the core remembers about one target server."""

    __slots__ = ("latest_ts", "mp", "seen", "series", "server")

    def __init__(self, server: str) -> None:
        self.server = server
        self.mp = False  # some event is specific to management points (else the view hides the server)
        self.latest_ts: int | None = None
        # (host, file_id) -> [newest event time, [[start_pos, end_pos, prev_of_start], ...] sorted]
        self.seen: dict[tuple[str, str], list[Any]] = {}
        self.series: dict[tuple[str, str], Series] = {}

    def apply(self, ev: Event) -> bool:
        """Apply one event; False when it had been applied before (nothing changes)."""
        if not self._mark(ev):
            return False
        skey = (ev.kind, ev.variant)
        series = self.series.get(skey)
        if series is None:
            series = self.series[skey] = Series(*caps(ev.kind))
        series.add(ev)
        if ev.mp:
            self.mp = True
        if self.latest_ts is None or ev.ts > self.latest_ts:
            self.latest_ts = ev.ts
        return True

    def _mark(self, ev: Event) -> bool:
        entry = self.seen.get(ev.fkey)
        pos, prev = ev.pos, ev.prev
        if entry is None:
            if len(self.seen) >= MAX_FILES:
                self._forget_oldest_file()
            self.seen[ev.fkey] = [ev.ts, [[pos, pos, prev]]]
            return True
        if ev.ts > entry[0]:
            entry[0] = ev.ts
        ivs = entry[1]
        last = ivs[-1]
        if pos > last[1]:  # fast path: in-order delivery extends the last interval
            if prev == last[1] and prev >= 0:
                last[1] = pos
            else:
                ivs.append([pos, pos, prev])
            return True
        i = bisect_right(ivs, [pos, *_NO_END])
        left = ivs[i - 1] if i else None
        if left is not None and pos <= left[1]:
            return False
        right = ivs[i] if i < len(ivs) else None
        if left is not None and prev >= 0 and prev == left[1]:
            left[1] = pos
            if right is not None and right[2] == pos:
                left[1] = right[1]
                del ivs[i]
        elif right is not None and right[2] == pos:
            right[0], right[2] = pos, prev
        else:
            ivs.insert(i, [pos, pos, prev])
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
            "seen": [[h, f, entry[0], entry[1]] for (h, f), entry in self.seen.items()],
            "series": [[k, v, s.to_dict()] for (k, v), s in self.series.items()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ServerState:
        state = cls(d["server"])
        state.mp = d["mp"]
        state.latest_ts = d["latest_ts"]
        state.seen = {(h, f): [ts, [list(iv) for iv in ivs]] for h, f, ts, ivs in d["seen"]}
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
        applied = 0
        for ev in events:
            if self.apply(ev):
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

"""Records -> events: typing, target-server attribution and time placement for one host's log stream.

One ``EventExtractor`` follows the records of one log *stream* of one source host, in file order
(a rotated ``sitecomp.lo_`` and then ``sitecomp.log`` may share one extractor, so thread context
survives the rotation). It is stateful but does no I/O:

* **Target attribution.** A STATMSG names its system (``SYS=``). MP-side logs (MPSetup, MPMSI,
  MPControl, IIS, CCM logs) concern the host they came from. SiteComp lines mostly do not name the
  server they are about, so each SiteComp thread carries a context target, set by
  ``Synchronizing component server X``, ``on/to/of server X`` and UNC paths ``\\\\X\\...`` (a UNC path
  naming the site server itself does not move the context). Several installs on different threads are
  therefore attributed independently.
* **Drive enumeration.** A NAL failure on a drive share (``N$``) while the thread enumerates drives A..Z,
  or on any drive other than the chosen install drive, is a normal probe (``nal_drive_probe``); on
  ``admin$`` (or on the chosen drive after the choice) it is ``nal_unreachable``.
* **Time.** Zoned times are used as they are. Zoneless local times are placed with the host clock and
  flagged ``inferred``. A record without any time takes the previous time of its file (inferred);
  events before the first time of a file wait for it (a Windows Installer 2.0 log collected after its
  banner has no time on any line: its next banner, often the ``stopped`` one, places them). Events
  whose file never states a time are placed from *context* (``release_waiting``, called by the
  ``Correlator`` at the end of the input, after its wall-clock wait, when a file is forgotten, or when
  ``MAX_WAITING`` events of one file wait): the ``context`` callable given at construction answers a
  time for such a record (the host's ``Installing ... mp.msi`` time, its other logs), and the file
  keeps that time for its later timeless records. Only events no context can place are counted and
  dropped (``finish``, ``stats['untimed']``).
* **Chains.** Each event carries ``prev``, the position of the previous event for the same server from
  the same file; the reducer's bounded idempotency relies on it. The chain state must be checkpointed
  together with the parse position when this runs inside a long-lived worker.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.core import field_rules as F
from streams.core import kinds as K
from streams.core import matchers as M
from streams.core.clock import HostClock, offset_from_record
from streams.core.events import SUB_BITS, Event, to_us
from streams.core.servers import canonical_server
from streams.formats.record import RUN, Record, record_from_state, record_to_state
from streams.logfiles import log_kind

_DRIVE_SHARE = re.compile(r"([A-Za-z])\$")
_SETUP_FORMATS = frozenset({"mpsetup", "msi"})
_OTHER_RULES = M.MPCONTROL_RULES + M.SETUP_RULES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_WAITING = 10_000  # events of one file waiting for a time before context places them

#: record -> UTC microseconds where a record with no time of its own or of its file can be placed
Context = Callable[[Record], int | None]
_Waiting = tuple[Record, str, str, list[tuple[str, M.Hit]]]


class _Thread:
    __slots__ = ("drive", "enumerating", "target")

    def __init__(self, target: str = "", enumerating: bool = False, drive: str = "") -> None:
        self.target = target
        self.enumerating = enumerating
        self.drive = drive


class EventExtractor:
    """Turns the records of one host's log stream into events (see the module docstring)."""

    def __init__(
        self,
        host: str,
        clock: HostClock | None = None,
        *,
        learn: bool = False,
        context: Context | None = None,
    ) -> None:
        self.host = canonical_server(host) or "UNKNOWN"
        self.clock = clock if clock is not None else HostClock()
        self.learn = learn  # observe UTC offsets from this stream's zoned records (streaming use)
        self.context = context  # places records whose file states no time (see the module docstring)
        self.stats: Counter[str] = Counter()
        self._threads: dict[str, _Thread] = {}
        self._chain: dict[tuple[str, str], int] = {}
        self._last_time: dict[str, tuple[datetime, bool]] = {}
        self._records = 0
        self._local_times = 0
        self._learned: set[str] = set()
        self._waiting: dict[str, list[_Waiting]] = {}
        self._max_aware: datetime | None = None
        self._max_local: datetime | None = None

    # ------------------------------------------------------------------ public API
    def feed(self, record: Record, file_id: str, file: str = "", kind: str = "") -> list[Event]:
        """Events of one record (usually none). ``file_id`` is the file identity used in event ids,
        ``file`` the name shown in views, ``kind`` the log kind (``streams.logfiles``; from the name
        when not given)."""
        if record.format == RUN:
            return self._feed_run(record, file_id)
        self._records += 1
        if record.time is not None:
            self._observe(record, file_id)
        hits, spaced = self._hits(record, kind or log_kind(file or record.file or file_id))
        if not hits:
            if record.time is not None and file_id in self._waiting:  # a banner: the file's first time
                local = record.time_is_local or record.time.tzinfo is None
                return self._flush_waiting(file_id, self._place(record.time, local)[0])
            return []
        file = file or record.file or file_id
        ts, inferred = self._time(record, file_id)
        if ts is None:
            waiting = self._waiting.setdefault(file_id, [])
            waiting.append((record, file_id, file, hits))
            if len(waiting) < MAX_WAITING:
                return []
            out = self.release_waiting({file_id})
            if file_id in self._waiting:  # no context either: the oldest goes, counted
                self.stats["untimed"] += len(self._waiting[file_id].pop(0)[3])
            return out
        out = self._flush_waiting(file_id, ts)
        out.extend(self._events(record, file_id, file, hits, ts, inferred, spaced))
        return out

    def _feed_run(self, record: Record, file_id: str) -> list[Event]:
        """A ``RUN`` record (lean parsing: uneventful zoned records folded into one) has exactly the
        effect its records would have had one by one: counted, the latest time and the file's last
        time kept, and records of the file waiting for a time placed at the run's first time."""
        fields = record.fields
        self._records += fields["lines"]
        latest = fields["max"]
        if self._max_aware is None or latest > self._max_aware:
            self._max_aware = latest
        if record.time is not None:
            self._last_time[file_id] = (record.time, False)
        if file_id in self._waiting:
            return self._flush_waiting(file_id, to_us(fields["first"]))
        return []

    def finish(self) -> list[Event]:
        """End of input: events that never got a time are counted (``stats['untimed']``) and dropped."""
        self.stats["records"] += self._records
        self.stats["local_times"] += self._local_times
        self._records = self._local_times = 0
        for waiting in self._waiting.values():
            self.stats["untimed"] += sum(len(hits) for *_, hits in waiting)
        self._waiting.clear()
        return []

    def waiting(self) -> int:
        """How many records wait for a time (their file has stated none yet)."""
        return sum(len(w) for w in self._waiting.values())

    def release_waiting(self, file_ids: set[str] | None = None) -> list[Event]:
        """Place the records still waiting for a time of their file (all files, or ``file_ids``) at the
        time ``context`` gives (inferred); the file keeps that time for its later timeless records.
        Files for which context knows no time yet keep waiting."""
        if self.context is None:
            return []
        out: list[Event] = []
        for file_id in [f for f in self._waiting if file_ids is None or f in file_ids]:
            waiting = self._waiting[file_id]
            ts = self.context(waiting[0][0])
            if ts is None:
                continue
            del self._waiting[file_id]
            self._last_time[file_id] = (_EPOCH + timedelta(microseconds=ts), False)
            self.stats["placed_from_context"] += sum(len(hits) for *_, hits in waiting)
            for record, fid, file, hits in waiting:
                out.extend(self._events(record, fid, file, hits, ts, True))
        return out

    def latest_ts(self) -> int | None:
        """Latest record time seen (any record, matched or not), in UTC microseconds."""
        best = to_us(self._max_aware) if self._max_aware is not None else None
        if self._max_local is not None:
            local = self.clock.place(self.host, self._max_local)
            best = local if best is None else max(best, local)
        return best

    # ------------------------------------------------------------------ matching + attribution
    def _hits(self, record: Record, kind: str) -> tuple[list[tuple[str, M.Hit]], str | None]:
        """(target server, hit) pairs for a record, and the spaced message they were read from (its
        events reuse it; None for IIS, read by fields); updates SiteComp thread context."""
        fmt = record.format
        if fmt == "iis":
            hit = F.match_iis(record.fields)
            return ([(self.host, hit)] if hit else []), None
        spaced, squashed = M.normalize(record.message)
        return self._text_hits(record, kind, spaced, squashed), spaced

    def _text_hits(self, record: Record, kind: str, spaced: str, squashed: str) -> list[tuple[str, M.Hit]]:
        """``_hits`` for records read by their text (every format but IIS)."""
        fmt = record.format
        statmsg = F.match_statmsg(record.fields) if record.fields.get("statmsg") else None
        sitecomp = fmt == "sms" and (kind == "sitecomp" or record.component.upper() == M.SITECOMP_COMPONENT)
        if sitecomp:
            return self._sitecomp(record, spaced, squashed, statmsg)
        found: list[M.Hit] = [statmsg] if statmsg else []
        if fmt in _SETUP_FORMATS:
            rules = M.SETUP_RULES
        elif fmt == "sms":
            rules = M.MPCONTROL_RULES
        else:
            rules = _OTHER_RULES
        hit = None if statmsg else M.first_hit(rules, spaced, squashed)
        if hit:
            found.append(hit)
        generic = M.first_hit(M.GENERIC_RULES, spaced, squashed)
        if generic:
            found.append(generic)
        return [(h.server or self.host, h) for h in found]

    def _sitecomp(
        self, record: Record, spaced: str, squashed: str, statmsg: M.Hit | None
    ) -> list[tuple[str, M.Hit]]:
        thread = self._threads.setdefault(record.thread.split(" ", 1)[0], _Thread())
        named = M.named_server(spaced) if "server" in squashed else ""
        unc = M.unc_server(spaced)
        if unc == self.host:
            unc = ""
        explicit = named or unc
        if statmsg is not None:
            target = statmsg.server or explicit or thread.target
            if statmsg.kind == K.SQL_ACCESS_GROUP_FAILED and target == self.host and thread.target:
                target = thread.target  # 5414 is reported on the site server about the MP install
            return [(target, statmsg)] if target else self._unattributed()
        if explicit:
            thread.target = explicit
        if "enumeratingdrives" in squashed:
            thread.enumerating = True
        hit = M.first_hit(M.SITECOMP_RULES, spaced, squashed)
        if hit is None:
            hit = M.first_hit(M.GENERIC_RULES, spaced, squashed)
            if hit is None:
                return []
        if hit.kind == K.INSTALL_STARTED:
            thread.enumerating, thread.drive = False, ""
        elif hit.kind == K.DRIVE_CHOSEN:
            thread.enumerating = False
            thread.drive = (hit.data or {}).get("drive", "")
        elif hit.kind == K.NAL_UNREACHABLE:
            share = _DRIVE_SHARE.fullmatch((hit.data or {}).get("share", ""))
            if share and (thread.enumerating or share.group(1).upper() != thread.drive):
                hit.kind = K.NAL_DRIVE_PROBE
        target = hit.server or explicit or thread.target
        return [(target, hit)] if target else self._unattributed()

    def _unattributed(self) -> list[tuple[str, M.Hit]]:
        self.stats["unattributed"] += 1
        return []

    # ------------------------------------------------------------------ time
    def _observe(self, record: Record, file_id: str) -> None:
        """Track the latest time (matched or not) and each file's last time; learn offsets if asked."""
        value = record.time
        if value is None:
            return
        local = value.tzinfo is None or record.time_is_local
        if local:
            value = value.replace(tzinfo=None)
            if self._max_local is None or value > self._max_local:
                self._max_local = value
            self._local_times += 1
        else:
            if self._max_aware is None or value > self._max_aware:
                self._max_aware = value
            if self.learn and file_id not in self._learned and record.format != "iis":
                self._learn(record, file_id)  # IIS lines state no offset, and their text is the client's
        self._last_time[file_id] = (value, local)

    def _time(self, record: Record, file_id: str) -> tuple[int | None, bool]:
        """(UTC microseconds or None, inferred) for a matched record."""
        if record.time is not None:
            return self._place(record.time, record.time_is_local or record.time.tzinfo is None)
        status_time = record.fields.get("status_time")
        if isinstance(status_time, datetime):
            return to_us(status_time), False
        last = self._last_time.get(file_id)
        if last is None:
            return None, True
        return self._place(*last)[0], True

    def _place(self, value: datetime, local: bool) -> tuple[int, bool]:
        if local:
            return self.clock.place(self.host, value.replace(tzinfo=None)), True
        return to_us(value), False

    def _learn(self, record: Record, file_id: str) -> None:
        offset = offset_from_record(record)
        if offset is not None and record.time is not None:
            self._learned.add(file_id)
            self.clock.observe(self.host, to_us(record.time), offset)

    # ------------------------------------------------------------------ event building
    def _flush_waiting(self, file_id: str, ts: int) -> list[Event]:
        out: list[Event] = []
        for record, fid, file, hits in self._waiting.pop(file_id, ()):
            out.extend(self._events(record, fid, file, hits, ts, True))
        return out

    def _events(
        self,
        record: Record,
        file_id: str,
        file: str,
        hits: list[tuple[str, M.Hit]],
        ts: int,
        inferred: bool,
        spaced: str | None = None,
    ) -> list[Event]:
        out = []
        if spaced is None:
            spaced = M.normalize(record.message)[0]
        text = M.clip(record.raw.strip() if record.format == "iis" and record.raw else spaced)
        for sub, (target, hit) in enumerate(hits[:SUB_BITS]):
            server = canonical_server(target)
            pos = record.offset * SUB_BITS + sub
            link = (file_id, server)
            prev = self._chain.get(link, -1)
            self._chain[link] = pos
            self.stats["events"] += 1
            out.append(
                Event(
                    hit.kind,
                    server,
                    ts,
                    self.host,
                    file_id,
                    pos,
                    variant=hit.variant,
                    prev=prev,
                    line=record.line,
                    file=file,
                    text=text,
                    message=hit.message or M.clip(spaced, 200),
                    inferred=inferred,
                    mp=hit.mp,
                    data=hit.data,
                )
            )
        return out

    # ------------------------------------------------------------------ checkpointable state
    def files(self) -> list[str]:
        """File ids this extractor holds state for (chains, last times, waiting records)."""
        seen = dict.fromkeys(f for f, _ in self._chain)
        seen.update(dict.fromkeys(self._last_time))
        seen.update(dict.fromkeys(self._waiting))
        return list(seen)

    def forget(self, file_ids: set[str]) -> None:
        """Drop every piece of state about these files (bounded state: the caller prunes old files)."""
        self._chain = {k: p for k, p in self._chain.items() if k[0] not in file_ids}
        for file_id in file_ids:
            self._last_time.pop(file_id, None)
            self._learned.discard(file_id)
            waiting = self._waiting.pop(file_id, None)
            if waiting:
                self.stats["untimed"] += sum(len(hits) for *_, hits in waiting)

    def state(self) -> dict[str, Any]:
        """Everything needed to resume exactly: thread contexts, chains, last times, records waiting for a
        time, learned files, latest times and counters (plain data, orjson-ready)."""
        return {
            "host": self.host,
            "threads": {k: [t.target, t.enumerating, t.drive] for k, t in self._threads.items()},
            "chain": [[f, s, p] for (f, s), p in self._chain.items()],
            "last_time": {f: [t.isoformat(), local] for f, (t, local) in self._last_time.items()},
            "waiting": {
                f: [
                    [record_to_state(r), fid, file, [[t, asdict(h)] for t, h in hits]]
                    for r, fid, file, hits in w
                ]
                for f, w in self._waiting.items()
            },
            "learned": sorted(self._learned),
            "max_aware": self._max_aware.isoformat() if self._max_aware is not None else None,
            "max_local": self._max_local.isoformat() if self._max_local is not None else None,
            "counts": [self._records, self._local_times],
            "stats": dict(self.stats),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._threads = {k: _Thread(*v) for k, v in state.get("threads", {}).items()}
        self._chain = {(f, s): p for f, s, p in state.get("chain", [])}
        self._last_time = {
            f: (datetime.fromisoformat(t), local) for f, (t, local) in state.get("last_time", {}).items()
        }
        self._waiting = {
            f: [
                (record_from_state(r), fid, file, [(t, M.Hit(**h)) for t, h in hits])
                for r, fid, file, hits in w
            ]
            for f, w in state.get("waiting", {}).items()
        }
        self._learned = set(state.get("learned", ()))
        aware, local = state.get("max_aware"), state.get("max_local")
        self._max_aware = datetime.fromisoformat(aware) if aware else None
        self._max_local = datetime.fromisoformat(local) if local else None
        self._records, self._local_times = state.get("counts", [0, 0])
        self.stats = Counter(state.get("stats", {}))

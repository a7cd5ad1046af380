"""Host clocks: placing times that carry no zone (MPSetup.log, MSI logs) on the UTC axis.

A host's UTC offset is learned from that host's own zoned logs: the SMS trailer's bias
(``<12-06-2004 13:21:35.123+300>``: UTC = local + 300 minutes), the text-style trailer with a zone name
(``<Mon Dec 06 13:21:35.123 2004 Eastern Standard Time>``, compared with the record's UTC time), or a
CMTrace ``time="..+TZ"`` attribute. ``--tz HOST=+HH:MM`` overrides it.

Offsets are kept per host as ``{offset: [first_utc, last_utc]}`` (a host changes offset only at daylight
saving changes), so the clock stays tiny and the result does not depend on the order of observations.
A local time is placed with the offset whose observed period is nearest to it. A host with no
observation borrows the offset most hosts of the input showed (one site is usually one zone), else UTC.
Every placed time is flagged ``inferred`` by the caller.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.core.events import to_us
from streams.core.servers import canonical_server
from streams.errors import InputError
from streams.formats.record import Record
from streams.formats.timeparse import parse_ctime, zone_bias

MINUTE = 60_000_000
_NUMERIC = re.compile(r"<\d{1,2}[-/]\d{1,2}[-/]\d{2,4} \d{1,2}:\d{2}:\d{2}(?:\.\d+)?([+-]\d{1,4})>")
_TEXT = re.compile(r"<(\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}:\d{2}(?:\.\d{1,7})? \d{4} [A-Za-z .()&'-]+)>")
_CMTRACE = re.compile(r'time="\d{1,2}:\d{2}:\d{2}(?:\.\d+)?([+-]\d{1,4})"')


def parse_offset(text: str) -> int:
    """``+05:30``, ``-0800``, ``+5``, ``UTC``, ``Z`` -> minutes east of UTC."""
    value = text.strip().upper()
    if value in ("Z", "UTC", "GMT", "0", "+0", "-0"):
        return 0
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", value)
    if not match:
        raise InputError(f"bad UTC offset {text!r} (expected +HH:MM or -HH:MM)")
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    if minutes > 14 * 60:
        raise InputError(f"UTC offset {text!r} is out of range")
    return minutes if match.group(1) == "+" else -minutes


def offset_from_record(record: Record) -> int | None:
    """The writer's UTC offset (minutes east) stated by a zoned record, or None."""
    fields = record.fields
    for name in ("bias", "tz_bias"):
        if isinstance(fields.get(name), int):
            return -int(fields[name])
    if isinstance(fields.get("utc_offset"), int):
        return int(fields["utc_offset"])
    tail = record.raw[-160:] if record.raw else ""
    if not tail or ("<" not in tail and 'time="' not in tail):
        return None  # none of the patterns below can match (an IIS line, most raw lines)
    match = _NUMERIC.search(tail) or _CMTRACE.search(tail)
    if match:
        return -int(match.group(1))
    match = _TEXT.search(tail)
    parsed = parse_ctime(match.group(1)) if match else None
    if parsed is None:
        return None
    local, zone = parsed
    if record.time is not None and record.time.tzinfo is not None:
        # the parser placed it on UTC: the difference is the offset, whatever the zone was called
        return round((to_us(local) - to_us(record.time)) / (15 * MINUTE)) * 15
    bias = zone_bias(zone)
    return None if bias is None else -bias


class HostClock:
    """Per-host UTC offsets (learned or configured) and placement of local times."""

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._overrides = {canonical_server(h): m for h, m in (overrides or {}).items()}
        self._seen: dict[str, dict[int, list[int]]] = {}
        self._defaults: dict[str, int] = {}  # fallback offsets given for hosts with no observation

    def observe(self, host: str, utc_us: int, offset: int) -> None:
        """Record that ``host`` logged at ``utc_us`` with UTC offset ``offset`` minutes."""
        periods = self._seen.setdefault(canonical_server(host), {})
        span = periods.get(offset)
        if span is None:
            periods[offset] = [utc_us, utc_us]
        else:
            span[0] = min(span[0], utc_us)
            span[1] = max(span[1], utc_us)

    def offsets(self, host: str) -> set[int]:
        """The offsets observed for ``host`` (empty when none)."""
        return set(self._seen.get(canonical_server(host), ()))

    def set_default(self, host: str, offset: int) -> None:
        """The offset to use for ``host`` while none is configured or observed (a fallback)."""
        self._defaults[canonical_server(host)] = offset

    def known(self, host: str) -> bool:
        host = canonical_server(host)
        return host in self._overrides or host in self._seen

    def offset_for(self, host: str, local_us: int) -> tuple[int, str]:
        """(offset minutes, source) for a local time on ``host``; source: tz | learned | site | utc."""
        host = canonical_server(host)
        if host in self._overrides:
            return self._overrides[host], "tz"
        periods = self._seen.get(host)
        if periods:
            return _nearest(periods, local_us), "learned"
        if host in self._defaults:
            return self._defaults[host], "default"
        votes: Counter[int] = Counter()
        for other in self._seen.values():
            votes.update(other.keys())
        if votes:
            best = max(votes.values())
            return min(o for o, n in votes.items() if n == best), "site"
        return 0, "utc"

    def place(self, host: str, local: datetime) -> int:
        """UTC microseconds for a naive local wall-clock time on ``host``."""
        local_us = to_us(local.replace(tzinfo=None))
        offset, _ = self.offset_for(host, local_us)
        return local_us - offset * MINUTE

    def to_dict(self) -> dict[str, Any]:
        return {
            "overrides": dict(self._overrides),
            "defaults": dict(self._defaults),
            "seen": {h: {str(o): list(s) for o, s in p.items()} for h, p in self._seen.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostClock:
        clock = cls(data.get("overrides"))
        clock._defaults = dict(data.get("defaults", {}))
        for host, periods in data.get("seen", {}).items():
            clock._seen[host] = {int(o): list(s) for o, s in periods.items()}
        return clock


def _nearest(periods: dict[int, list[int]], local_us: int) -> int:
    def distance(item: tuple[int, list[int]]) -> tuple[int, int]:
        offset, (first, last) = item
        lo, hi = first + offset * MINUTE, last + offset * MINUTE
        gap = lo - local_us if local_us < lo else (local_us - hi if local_us > hi else 0)
        return gap, offset

    return min(periods.items(), key=distance)[0]

"""The event model: what one log record means for one target server.

Identity. An event is identified by where it came from: the source host, the file identity and the
record's byte offset, plus a sub-index when one record yields several events. ``pos`` packs offset and
sub-index into one integer (``offset * 16 + sub``), so ``(host, file_id, pos)`` is the stable id and
replaying the same bytes yields the same ids.

Chains. ``prev`` is the ``pos`` of the previous event the extractor produced for the *same target
server from the same file* (-1 for the first one). The reducer uses these links to remember which
events it has applied as a few closed intervals per file instead of a set of every id (see
reducer.py).

Ordering. ``key`` = (time, host, file, pos) orders events by time and breaks ties by source order;
every timeline and every rule works on events sorted by this key, so arrival order never matters.
``file`` is the display name (path relative to the host's log root), not the identity, so the same
logs order the same way in every shell (offline file ids are paths, shipped ones are file identities).

Spelling. ``id`` is ``HOST:FILE_ID:OFFSET`` (the record id of ``streams.wire``) plus ``/SUB`` for the
second and later events of one record.

Times are integers: microseconds since the Unix epoch, UTC. ``inferred`` says the log gave no zone
and the time was placed with the host's learned or configured UTC offset.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

SUB_BITS = 16  # positions per record: at most 16 events from one record
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


class Event:
    """One typed, attributed, timed fact. Immutable by convention; cheap to build and compare."""

    __slots__ = (
        "data",
        "file",
        "file_id",
        "fkey",
        "host",
        "inferred",
        "key",
        "kind",
        "line",
        "message",
        "mp",
        "pos",
        "prev",
        "server",
        "text",
        "ts",
        "variant",
    )

    def __init__(
        self,
        kind: str,
        server: str,
        ts: int,
        host: str,
        file_id: str,
        pos: int,
        *,
        variant: str = "",
        prev: int = -1,
        line: int = 0,
        file: str = "",
        text: str = "",
        message: str = "",
        inferred: bool = False,
        mp: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.variant = variant
        self.server = server
        self.ts = ts
        self.inferred = inferred
        self.host = host
        self.file_id = file_id
        self.file = file or file_id
        self.pos = pos
        self.prev = prev
        self.line = line
        self.text = text
        self.message = message or text
        self.mp = mp
        self.data = data
        self.fkey = (host, file_id)
        self.key = (ts, host, self.file, pos)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its constructor's arguments (``diagnose --jobs`` sends events between processes):
        a flat tuple pickles several times faster than the slots."""
        return _rebuild, (
            self.kind, self.server, self.ts, self.host, self.file_id, self.pos, self.variant, self.prev,
            self.line, self.file, self.text, self.message, self.inferred, self.mp, self.data,
        )  # fmt: skip

    @property
    def offset(self) -> int:
        """Byte offset of the record this event came from."""
        return self.pos // SUB_BITS

    @property
    def id(self) -> str:
        """Stable id: ``HOST:FILE_ID:OFFSET`` (the record's id) and ``/SUB`` after the first event."""
        offset, sub = divmod(self.pos, SUB_BITS)
        return f"{self.host}:{self.file_id}:{offset}" + (f"/{sub}" if sub else "")

    def to_dict(self) -> dict[str, Any]:
        """orjson-friendly mapping; :meth:`from_dict` gives back an equal event."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "variant": self.variant,
            "server": self.server,
            "ts": self.ts,
            "inferred": self.inferred,
            "host": self.host,
            "file_id": self.file_id,
            "file": self.file,
            "pos": self.pos,
            "prev": self.prev,
            "line": self.line,
            "text": self.text,
            "message": self.message,
            "mp": self.mp,
        }
        if self.data:
            out["data"] = self.data
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            d["kind"],
            d["server"],
            d["ts"],
            d["host"],
            d["file_id"],
            d["pos"],
            variant=d.get("variant", ""),
            prev=d.get("prev", -1),
            line=d.get("line", 0),
            file=d.get("file", ""),
            text=d.get("text", ""),
            message=d.get("message", ""),
            inferred=d.get("inferred", False),
            mp=d.get("mp", False),
            data=d.get("data"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Event({self.kind}:{self.variant} {self.server} {iso(self.ts)} {self.id})"


def _rebuild(
    kind: str, server: str, ts: int, host: str, file_id: str, pos: int, variant: str, prev: int, line: int,
    file: str, text: str, message: str, inferred: bool, mp: bool, data: dict[str, Any] | None,
) -> Event:  # fmt: skip
    return Event(
        kind, server, ts, host, file_id, pos, variant=variant, prev=prev, line=line, file=file, text=text,
        message=message, inferred=inferred, mp=mp, data=data,
    )  # fmt: skip


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC wall time."""
    zone = value.tzinfo
    if zone is UTC:  # what the parsers give: exact integer arithmetic, no time tuple
        return (value - _EPOCH) // _ONE_US
    if zone is None:
        return (value - _NAIVE_EPOCH) // _ONE_US
    value = value.astimezone(UTC)
    return calendar.timegm(value.timetuple()) * 1_000_000 + value.microsecond


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def iso(us: int) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``; fixed width, so the strings sort like the times.
    (The hot spot of every view with a long timeline: the seconds part is cached, as log events
    cluster in time.)"""
    seconds, rest = divmod(us, 1_000_000)
    return f"{_iso_second(seconds)}.{rest // 1000:03d}Z"


@lru_cache(maxsize=8192)
def _iso_second(seconds: int) -> str:
    dt = _EPOCH + timedelta(seconds=seconds)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def parse_iso(text: str) -> int:
    """Parse an ISO 8601 time (``Z`` or an offset; naive means UTC) into epoch microseconds."""
    value = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    return to_us(value)

"""The one record model shared by every format, the shipper, and the correlation core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "error"]

FORMATS = ("sms", "cmtrace", "msi", "mpsetup", "iis", "raw")
#: ``Record.format`` of a *run*: consecutive uneventful records of one file folded into one by a parser in
#: lean mode (``Parser.lean``), for correlation only. ``fields`` = ``{"lines": n, "first": t1, "max": t}``,
#: ``time`` the last record's time, ``offset``/``line`` the last record's, ``size`` the bytes of all.
RUN = "run"


@dataclass(slots=True)
class Line:
    """One physical line as decoded from a file.

    ``offset`` is the byte offset of the line's first byte in the file and ``size`` the number of bytes
    it occupied including its line terminator, so ``offset + size`` is where the next line starts.
    ``number`` is 1-based. ``text`` has no line terminator.
    """

    text: str
    offset: int
    size: int
    number: int
    truncated: bool = False


@dataclass(slots=True)
class Framed:
    """One whole record as a framer delimits it, unparsed: byte span, first line number, raw text (lines
    joined by "\n"), and whether a line of it was cut. What the shipper ships (``streams.wire``)."""

    offset: int
    size: int
    line: int
    text: str
    truncated: bool = False


@dataclass(slots=True)
class Record:
    """One logical log record (possibly several physical lines).

    ``time`` is timezone-aware UTC when the log states its zone; when it does not (MPSetup.log, MSI
    logs), ``time`` is the naive local wall-clock time and ``time_is_local`` is True. ``offset`` is the
    byte offset of the record's first byte, ``size`` the bytes it spans, ``line`` its first line number.
    ``fields`` holds format-specific values (STATMSG keys, IIS columns, MSI return values...).
    """

    format: str
    time: datetime | None
    component: str
    thread: str
    severity: Severity
    message: str
    file: str
    offset: int
    size: int
    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    time_is_local: bool = False
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (ISO 8601 time; ``Z`` suffix only when the zone is known)."""
        return {
            "time": _iso(self.time),
            "time_is_local": self.time_is_local,
            "format": self.format,
            "component": self.component,
            "thread": self.thread,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "offset": self.offset,
            "size": self.size,
            "line": self.line,
            "fields": self.fields,
            "truncated": self.truncated,
        }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def record_to_state(record: Record) -> dict[str, Any]:
    """A lossless, orjson-ready form of a record (for checkpointed state that holds records);
    datetimes, also inside ``fields``, are tagged so :func:`record_from_state` restores them."""
    return {
        "format": record.format,
        "time": _tag(record.time),
        "component": record.component,
        "thread": record.thread,
        "severity": record.severity,
        "message": record.message,
        "file": record.file,
        "offset": record.offset,
        "size": record.size,
        "line": record.line,
        "fields": {k: _tag(v) for k, v in record.fields.items()},
        "raw": record.raw,
        "time_is_local": record.time_is_local,
        "truncated": record.truncated,
    }


def record_from_state(data: dict[str, Any]) -> Record:
    """The record :func:`record_to_state` described."""
    return Record(
        data["format"],
        _untag(data["time"]),
        data["component"],
        data["thread"],
        data["severity"],
        data["message"],
        data["file"],
        data["offset"],
        data["size"],
        data["line"],
        {k: _untag(v) for k, v in data["fields"].items()},
        data["raw"],
        data["time_is_local"],
        data["truncated"],
    )


def _tag(value: Any) -> Any:
    return {"$dt": value.isoformat()} if isinstance(value, datetime) else value


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    return value

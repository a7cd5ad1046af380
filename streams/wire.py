"""The wire contract: what the shipper sends and every consumer reads, encode AND decode, versioned.

A message (a Kafka message value, or one line of the ``file://`` output) is ONE batch of whole records
from ONE file::

    {"v": "1.0",
     "h": {"host": "MP01", "kind": "sitecomp", "path": "C:\\SMS\\Logs\\SiteComp.log",
           "name": "SMS/Logs/SiteComp.log", "file_id": "803-1a2b-9f86d0818", "format": "sms",
           "encoding": "utf-8", "context": {}},
     "r": [[OFFSET, SIZE, LINE, "raw text", TRUNCATED], ...]}

Records are compact arrays (the header is written once per batch, not once per record). The shipper
frames records with the project's parsers (multi-line records stay whole) but ships their raw text;
``parse_records`` parses them on the consumer with a fresh parser primed by ``context`` (what the
parser learnt from lines before the batch: IIS ``#Fields`` columns, the MSI banner date and order), so
a parser fix needs no redeploy and kept raw data can be re-processed.

Versioning: ``WIRE_VERSION`` is ``MAJOR.MINOR``. A minor bump only adds optional fields (consumers
ignore what they do not know); a consumer rejects an unknown MAJOR with ``WireVersionError``.

Ids: ``record_id(host, file_id, offset)`` = ``HOST:FILE_ID:OFFSET`` is the one record-id spelling; the
file identity changes when a file is truncated, so ids never repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from streams.errors import WireFormatError, WireVersionError
from streams.formats.api import make_parser
from streams.formats.base import Parser, framed
from streams.formats.raw import is_blank
from streams.formats.record import RUN, Framed, Line, Record

__all__ = [
    "CONTEXT_FORMATS",
    "DEFAULT_LIMIT",
    "WIRE_VERSION",
    "ContextTracker",
    "FileHeader",
    "Framed",
    "ShippedBatch",
    "decode",
    "encode",
    "flatten",
    "parse_records",
    "record_id",
]

WIRE_VERSION = "1.0"
MAJOR = WIRE_VERSION.split(".")[0]
DEFAULT_LIMIT = 512 << 10  # bytes per message: well under Kafka's default 1 MiB message.max.bytes


@dataclass(frozen=True, slots=True)
class FileHeader:
    """Where a batch comes from and what a fresh parser needs to read it."""

    host: str
    kind: str
    path: str  # the path as the source host names it
    name: str  # relative to the watched root, '/'-separated
    file_id: str  # file identity incl. truncation generation
    format: str
    encoding: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ShippedBatch:
    header: FileHeader
    records: list[Framed]


def record_id(host: str, file_id: str, offset: int) -> str:
    """The one record-id spelling: ``HOST:FILE_ID:OFFSET``."""
    return f"{host}:{file_id}:{offset}"


# ---------------------------------------------------------------------------------------------- encode
def _header_dict(header: FileHeader) -> dict[str, Any]:
    return {
        "host": header.host,
        "kind": header.kind,
        "path": header.path,
        "name": header.name,
        "file_id": header.file_id,
        "format": header.format,
        "encoding": header.encoding,
        "context": header.context,
    }


def _framed(rec: Framed) -> list[Any]:
    return [rec.offset, rec.size, rec.line, rec.text, rec.truncated]


_ROW_OVERHEAD = 40  # bytes a record row adds to its text when nothing in it needs escaping


def encode(batch: ShippedBatch, limit: int = DEFAULT_LIMIT) -> list[bytes]:
    """The batch as one or more messages, each at most ``limit`` bytes (records are never split; a single
    record too big for one message has its text cut and ``truncated`` set, so no output stalls).

    Fast path: runs of records whose estimated size fits are serialised with one ``orjson.dumps`` each;
    a run that comes out too big (text that needed escaping) goes through the exact per-record path."""
    opening = b'{"v":%s,"h":%s,"r":[' % (
        orjson.dumps(WIRE_VERSION),
        orjson.dumps(_header_dict(batch.header)),
    )
    room = limit - len(opening) - 2  # '],' closing
    if room < 64:
        raise ValueError(f"limit {limit} leaves no room for records after a {len(opening)}-byte header")
    head = opening[:-1]  # up to '"r":'
    out: list[bytes] = []
    run: list[Framed] = []
    estimate = 0
    budget = room * 7 // 8
    for rec in batch.records:
        cost = len(rec.text) + _ROW_OVERHEAD
        if run and estimate + cost > budget:
            out.extend(_encode_run(run, head, opening, room))
            run, estimate = [], 0
        run.append(rec)
        estimate += cost
    if run or not out:
        out.extend(_encode_run(run, head, opening, room))
    return out


def _encode_run(run: list[Framed], head: bytes, opening: bytes, room: int) -> list[bytes]:
    body = orjson.dumps([[r.offset, r.size, r.line, r.text, r.truncated] for r in run])
    if len(body) <= room:
        return [head + body + b"}"]
    return _encode_exact(run, opening, room)


def _encode_exact(records: list[Framed], opening: bytes, room: int) -> list[bytes]:
    """Record by record, cutting a message whenever the next record would not fit."""
    out: list[bytes] = []
    parts: list[bytes] = []
    used = 0
    for rec in records:
        item = orjson.dumps(_framed(rec))
        if len(item) > room:
            item = _cut(rec, room)
        cost = len(item) + (1 if parts else 0)
        if parts and used + cost > room:
            out.append(opening + b",".join(parts) + b"]}")
            parts, used = [], 0
            cost = len(item)
        parts.append(item)
        used += cost
    if parts or not out:
        out.append(opening + b",".join(parts) + b"]}")
    return out


def _cut(rec: Framed, room: int) -> bytes:
    """The record with its text shortened until its encoding fits in ``room`` bytes."""
    text = rec.text
    while True:
        text = (
            text[: max(0, min(len(text) // 2, len(text) - 1))]
            if len(text) > room
            else text[: len(text) * 3 // 4]
        )
        item = orjson.dumps([rec.offset, rec.size, rec.line, text, True])
        if len(item) <= room or not text:
            return item


# ---------------------------------------------------------------------------------------------- decode
def decode(data: bytes) -> ShippedBatch:
    """One message back into a batch; WireFormatError when it is not one, WireVersionError when its major
    version is not ours."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise WireFormatError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict) or "v" not in obj:
        raise WireFormatError("not a shipped batch (no 'v' version field)")
    version = obj["v"]
    if not isinstance(version, str) or version.split(".")[0] != MAJOR:
        raise WireVersionError(
            f"wire version {version!r} is not supported (this consumer reads major {MAJOR}, {WIRE_VERSION})"
        )
    try:
        h = obj["h"]
        context = h.get("context") or {}
        if not isinstance(context, dict):
            raise TypeError("context is not an object")
        header = FileHeader(
            host=str(h["host"]),
            kind=str(h["kind"]),
            path=str(h["path"]),
            name=str(h["name"]),
            file_id=str(h["file_id"]),
            format=str(h["format"]),
            encoding=None if h.get("encoding") is None else str(h["encoding"]),
            context=context,
        )
        records = [
            Framed(int(r[0]), int(r[1]), int(r[2]), str(r[3]), bool(r[4]) if len(r) > 4 else False)
            for r in obj["r"]
        ]
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        raise WireFormatError(f"malformed shipped batch: {exc!r}") from exc
    return ShippedBatch(header, records)


# ------------------------------------------------------------------------------------ parser context
def parser_context(parser: Parser, last_time: datetime | None = None) -> dict[str, Any]:
    """What ``parser`` learnt from earlier lines that a fresh parser needs to read the next records the
    same way (JSON-ready). Take it just before feeding the first line of the batch's first record;
    ``last_time`` = the latest non-null ``time`` of the records BEFORE that one in the file (MSI lines
    without a clock inherit it; the framing parser only learns it when the previous record is emitted,
    so pass it when the batch is assembled, e.g. via ``dataclasses.replace`` or ``with_last_time``)."""
    name = parser.name
    if name == "iis":
        return {"columns": list(getattr(parser, "columns", [])), "day": getattr(parser, "_day", "")}
    if name == "msi":
        day: date | None = getattr(parser, "_date", None)
        last = last_time
        return {
            "date": day.isoformat() if day else None,
            "order": getattr(parser, "_order", None),
            "clock": getattr(parser, "_clock", None),
            "last": last.isoformat() if last else None,
        }
    return {}


def with_last_time(context: dict[str, Any], last_time: datetime | None) -> dict[str, Any]:
    """``context`` (from ``parser_context``) with the time inherited by clock-less records set."""
    if "last" not in context:
        return context
    return {**context, "last": last_time.isoformat() if last_time else None}


#: formats whose parser carries state from one record to the next that a fresh parser must be given
CONTEXT_FORMATS = frozenset({"iis", "msi"})

#: one context change seen while framing: (offset of the first record it applies to, context, whether a
#: batch must be cut there: IIS directives are not records, so a consumer cannot learn them mid-batch)
ContextChange = tuple[int, dict[str, Any], bool]


class ContextTracker:
    """Frames lines with ``parser`` (like ``parser.frame_lines``) and notes where the parser's context
    changed, so the shipper can give every batch the context in force before its first record.

    IIS: after each ``#`` directive (a cut point); other lines are single-line records, framed without
    parsing. MSI: at each record start whose banner date, date order, clock or inherited time differs
    from the last noted one (no cut needed: banners are records, so a consumer's parser follows them;
    only a batch's first record needs it). MSI lines are parsed in full (the clock and the inherited
    time come from the records); MSI logs are small."""

    def __init__(self, parser: Parser, start_offset: int, last_time: datetime | None = None) -> None:
        self.parser = parser
        self.changes: list[ContextChange] = [(start_offset, parser_context(parser, last_time), False)]
        self._msi_key: tuple[Any, ...] | None = None
        self._last: datetime | None = last_time  # MSI: latest record time emitted so far

    def frame_lines(self, lines: list[Line]) -> list[Framed]:
        parser = self.parser
        out: list[Framed] = []
        if parser.name == "iis":
            for line in lines:
                text = line.text
                if text.startswith("#"):
                    parser.feed(line)
                    self.changes.append((line.offset + line.size, parser_context(parser), True))
                elif not is_blank(text):
                    out.append(Framed(line.offset, line.size, line.number, text, line.truncated))
                else:
                    parser.feed(line)  # blank: no record, counted by the parser
            return out
        for line in lines:
            key = (
                getattr(parser, "_date", None),
                getattr(parser, "_order", None),
                getattr(parser, "_clock", None),
                self._last,
            )
            records = parser.feed(line)
            for record in records:
                if record.time is not None:
                    self._last = record.time
            out.extend(framed(records))
            if parser.pending_offset() == line.offset:  # this line starts a record
                key = (*key[:3], self._last)
                if key != self._msi_key:
                    self._msi_key = key
                    day, order, clock, last = key
                    context = {
                        "date": day.isoformat() if day else None,
                        "order": order,
                        "clock": clock,
                        "last": last.isoformat() if last else None,
                    }
                    self.changes.append((line.offset, context, False))
        return out

    def take(self) -> list[ContextChange]:
        """The changes noted since the last call (oldest first)."""
        changes, self.changes = self.changes, []
        return changes


def restore_context(parser: Parser, context: dict[str, Any]) -> None:
    """Prime a fresh parser with a ``parser_context`` result."""
    if not context:
        return
    name = parser.name
    if name == "iis":
        columns = [str(c) for c in context.get("columns") or []]
        if columns:
            parser.feed(Line("#Fields: " + " ".join(columns), 0, 0, 0))
        if context.get("day"):
            parser._day = str(context["day"])  # type: ignore[attr-defined]
        parser.directive_lines = 0
        parser.skipped_bytes = 0
    elif name == "msi":
        parser._date = date.fromisoformat(context["date"]) if context.get("date") else None  # type: ignore[attr-defined]
        parser._order = context.get("order")  # type: ignore[attr-defined]
        parser._clock = context.get("clock")  # type: ignore[attr-defined]
        parser._last = datetime.fromisoformat(context["last"]) if context.get("last") else None  # type: ignore[attr-defined]


#: formats whose ``flush`` does nothing while no line is held, so feeding one-line records as one run
#: of lines is the same as feeding them one by one with a flush after each (``parse_records``)
_RUN_FORMATS = frozenset({"sms", "cmtrace", "iis"})


def parse_records(batch: ShippedBatch, *, lean: bool = False) -> list[Record]:
    """The batch's records parsed on the consumer with a fresh parser (``Record.file`` = header name).
    Offsets, sizes and line numbers are the shipped ones; one Record per Framed, in order.

    One-line records of SMS, CMTrace and IIS batches (nearly all of them) go through the parser's
    ``feed_lines`` at once; the result is used only when it is exactly one record per framed record,
    starting at its offset (else, e.g. a line the parser would hold, the batch is parsed record by
    record, which is the definition).

    ``lean`` (shells that only correlate): the parser runs lean (``Parser.lean``), so a ``RUN`` record
    stands for as many framed records as its ``lines``, ending at the offset of the last of them;
    count the batch's records with ``len(batch.records)``, not with this list."""
    header = batch.header
    records = batch.records
    if header.format in _RUN_FORMATS and not any("\n" in rec.text for rec in records):
        parser = make_parser(header.format, header.name)
        restore_context(parser, header.context)
        parser.lean = lean
        lines = [Line(rec.text, rec.offset, 0, rec.line, rec.truncated) for rec in records]
        got = parser.feed_lines(lines)
        got.extend(parser.flush())
        if len(got) == len(records) and all(g.offset == r.offset for g, r in zip(got, records, strict=True)):
            return [_merge([g], r, header) for g, r in zip(got, records, strict=True)]
        if lean and parser.folded:
            merged = _merge_runs(got, records, header)
            if merged is not None:
                return merged
    return _parse_each(batch)


def _merge_runs(got: list[Record], records: list[Framed], header: FileHeader) -> list[Record] | None:
    """Lean results matched to the framed records (a run covers ``lines`` of them, its offset that of
    the last); None when they do not match one to one."""
    out: list[Record] = []
    at = 0
    for record in got:
        span = record.fields["lines"] if record.format == RUN else 1
        last = at + span - 1
        if last >= len(records) or records[last].offset != record.offset:
            return None
        if record.format == RUN:
            record.file = header.name
            out.append(record)
        else:
            out.append(_merge([record], records[at], header))
        at += span
    return out if at == len(records) else None


def _parse_each(batch: ShippedBatch) -> list[Record]:
    """``parse_records`` by definition: each framed record fed alone, then flushed."""
    header = batch.header
    parser = make_parser(header.format, header.name)
    restore_context(parser, header.context)
    out: list[Record] = []
    for rec in batch.records:
        lines: list[Line] = []
        offset = rec.offset
        for number, text in enumerate(rec.text.split("\n"), start=rec.line):
            lines.append(Line(text, offset, 0, number, rec.truncated))
            offset += len(text) + 1
        got = parser.feed_lines(lines)
        got.extend(parser.flush())
        record = _merge(got, rec, header)
        out.append(record)
    return out


def flatten(batch: ShippedBatch, *, parsed: bool = True) -> list[dict[str, Any]]:
    """One JSON-ready object per record of the batch (what ``mpwatch records`` prints): id, host, kind,
    path, file (the display name), file_id, offset, size, line, raw, truncated; with ``parsed`` also
    ``record`` = the parsed record (``Record.to_dict`` plus its raw text)."""
    h = batch.header
    records = parse_records(batch) if parsed else None
    out: list[dict[str, Any]] = []
    for i, rec in enumerate(batch.records):
        obj: dict[str, Any] = {
            "id": record_id(h.host, h.file_id, rec.offset),
            "host": h.host,
            "kind": h.kind,
            "path": h.path,
            "file": h.name,
            "file_id": h.file_id,
            "offset": rec.offset,
            "size": rec.size,
            "line": rec.line,
            "raw": rec.text,
            "truncated": rec.truncated,
        }
        if records is not None:
            body = records[i].to_dict()
            body["raw"] = records[i].raw
            obj["record"] = body
        out.append(obj)
    return out


def _merge(got: list[Record], rec: Framed, header: FileHeader) -> Record:
    """Exactly one Record for one Framed (a parser that splits or drops lines differently is repaired to
    a single record so ids stay one per framed record)."""
    if got:
        record = got[0]
        if len(got) > 1:
            record.raw = rec.text
    else:
        record = Record(header.format, None, "", "", "info", rec.text, header.name, rec.offset, 0, rec.line)
        record.raw = rec.text
    record.file = header.name
    record.offset = rec.offset
    record.size = rec.size
    record.line = rec.line
    record.truncated = record.truncated or rec.truncated
    return record

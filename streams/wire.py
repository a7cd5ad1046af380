"""The wire contract: what the shipper sends and every consumer reads, encode AND decode, versioned.

A message (a Kafka message value, or one line of the ``file://`` output) is ONE batch of whole records
from ONE file::

    {"v": "2.0",
     "h": {"host": "MP01", "kind": "sitecomp", "path": "C:\\SMS\\Logs\\SiteComp.log",
           "name": "SMS/Logs/SiteComp.log", "file_id": "803-1a2b-9f86d0818", "format": "sms",
           "encoding": "utf-8", "context": {}},
     "r": [[OFFSET, SIZE, LINE, "raw text", TRUNCATED],
           {"o": OFFSET, "l": LINE, "n": COUNT, "u": UNIT, "e": "\r\n", "t": "line\r\nline\r\n"}, ...]}

Records are compact (the header is written once per batch, not once per record): ``r`` holds, in file
order, a row per record (``[offset, size, line, text, truncated]``) or a **record block** (2.0): ``n``
single-line records as the file's own text, each line followed by the terminator ``e`` (one kind per
block), starting at byte ``o`` with line number ``l``; every character took ``u`` bytes in the file, so
record i is the i-th line, at the offset after the lines before it, of ``(len(line) + len(e)) * u``
bytes, never truncated (``streams.formats.record.Block``). The shipper sends blocks for runs of
single-line records the framer checked at once; ``decode`` turns both forms into the same ``Framed``
records, so consumers see no difference. The shipper
frames records with the project's parsers (multi-line records stay whole) but ships their raw text;
``parse_records`` parses them on the consumer with a fresh parser primed by ``context`` (what the
parser learnt from lines before the batch: IIS ``#Fields`` columns, the MSI banner date and order), so
a parser fix needs no redeploy and kept raw data can be re-processed.

Versioning: ``WIRE_VERSION`` is ``MAJOR.MINOR``. A minor bump only adds optional fields (consumers
ignore what they do not know); a consumer rejects an unknown MAJOR with ``WireVersionError``. 2.0 added
record blocks (a 1.x consumer could not read them, hence the major bump); ``decode`` reads majors 1 and
2, and ``encode(..., version="1.0")`` still writes 1.0 (rows only) for consumers not yet upgraded.

Ids: ``record_id(host, file_id, offset)`` = ``HOST:FILE_ID:OFFSET`` is the one record-id spelling; the
file identity changes when a file is truncated, so ids never repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from streams.errors import WireFormatError, WireVersionError
from streams.formats.api import make_parser
from streams.formats.base import Parser, framed
from streams.formats.raw import is_blank
from streams.formats.record import RUN, Block, Framed, Line, Record

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
    "encode_items",
    "flatten",
    "parse_records",
    "record_id",
]

WIRE_VERSION = "2.0"
MAJOR = WIRE_VERSION.split(".")[0]
READ_MAJORS = frozenset({"1", "2"})  # 1.x: rows only; 2.x: rows and record blocks
_EOLS = frozenset({"\n", "\r\n", "\r"})
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
_BLOCK_OVERHEAD = 96  # bytes of a block's keys and numbers


def encode(batch: ShippedBatch, limit: int = DEFAULT_LIMIT, version: str = WIRE_VERSION) -> list[bytes]:
    """The batch as one or more messages, each at most ``limit`` bytes (records are never split; a single
    record too big for one message has its text cut and ``truncated`` set, so no output stalls)."""
    return encode_items(batch.header, batch.records, limit, version)


def encode_items(
    header: FileHeader,
    items: Sequence[Framed | Block],
    limit: int = DEFAULT_LIMIT,
    version: str = WIRE_VERSION,
) -> list[bytes]:
    """``encode`` for records given as ``Framed`` rows and record ``Block``s (the shipper's hot path: a
    block is written as one JSON string, no object per record). ``version`` 1.x writes every block as
    rows (what a 1.x consumer reads).

    Fast path: runs of items whose estimated size fits are serialised with one ``orjson.dumps`` each;
    a run that comes out too big (text that needed escaping) goes through the exact per-item path."""
    if version.split(".")[0] == "1":
        items = _rows_only(items)
    opening = b'{"v":%s,"h":%s,"r":[' % (orjson.dumps(version), orjson.dumps(_header_dict(header)))
    room = limit - len(opening) - 2  # '],' closing
    if room < 64:
        raise ValueError(f"limit {limit} leaves no room for records after a {len(opening)}-byte header")
    head = opening[:-1]  # up to '"r":'
    out: list[bytes] = []
    run: list[Framed | Block] = []
    estimate = 0
    budget = room * 7 // 8
    for item in items:
        if isinstance(item, Block):
            cost = _block_cost(item)
            if cost > budget:  # bigger than a message: in pieces of whole lines that fit
                if run:
                    out.extend(_encode_run(run, head, opening, room))
                    run, estimate = [], 0
                out.extend(_encode_run(_pieces(item, budget), head, opening, room))
                continue
        else:
            cost = len(item.text) + _ROW_OVERHEAD
        if run and estimate + cost > budget:
            out.extend(_encode_run(run, head, opening, room))
            run, estimate = [], 0
        run.append(item)
        estimate += cost
    if run or not out:
        out.extend(_encode_run(run, head, opening, room))
    return out


def _rows_only(items: Sequence[Framed | Block]) -> list[Framed]:
    out: list[Framed] = []
    for item in items:
        if isinstance(item, Block):
            out.extend(item.framed())
        else:
            out.append(item)
    return out


def _block_cost(block: Block) -> int:
    """Estimated JSON size of a block: its text, two bytes per escaped terminator character, the keys."""
    return len(block.text) + block.count * len(block.eol) + _BLOCK_OVERHEAD


def _pieces(block: Block, budget: int) -> list[Framed | Block]:
    """``block`` cut into blocks of whole lines whose estimated size is within ``budget``."""
    out: list[Framed | Block] = []
    rest: Block | None = block
    chars = max(1, (budget - _BLOCK_OVERHEAD) * len(block.text) // max(1, _block_cost(block)))
    while rest is not None:
        piece, rest = rest.cut(chars, rest.count)
        out.append(piece)
    return out


def _item(item: Framed | Block) -> Any:
    if isinstance(item, Block):
        return {
            "o": item.offset, "l": item.line, "n": item.count, "u": item.unit, "e": item.eol, "t": item.text,
        }  # fmt: skip
    return [item.offset, item.size, item.line, item.text, item.truncated]


def _encode_run(run: list[Framed | Block], head: bytes, opening: bytes, room: int) -> list[bytes]:
    body = orjson.dumps([_item(item) for item in run])
    if len(body) <= room:
        return [head + body + b"}"]
    return _encode_exact(run, opening, room)


def _encode_exact(items: list[Framed | Block], opening: bytes, room: int) -> list[bytes]:
    """Item by item, cutting a message whenever the next item would not fit (a block too big for a
    message on its own is halved at a line boundary until it fits; a single record is cut)."""
    out: list[bytes] = []
    parts: list[bytes] = []
    used = 0
    for encoded in _fitted(items, room):
        cost = len(encoded) + (1 if parts else 0)
        if parts and used + cost > room:
            out.append(opening + b",".join(parts) + b"]}")
            parts, used = [], 0
            cost = len(encoded)
        parts.append(encoded)
        used += cost
    if parts or not out:
        out.append(opening + b",".join(parts) + b"]}")
    return out


def _fitted(items: list[Framed | Block], room: int) -> list[bytes]:
    """Each item encoded on its own, in pieces of at most ``room`` bytes."""
    out: list[bytes] = []
    for item in items:
        encoded = orjson.dumps(_item(item))
        if len(encoded) <= room:
            out.append(encoded)
        elif isinstance(item, Block):
            if item.count == 1:
                out.extend(_fitted(list[Framed | Block](item.framed()), room))
            else:
                first, rest = item.cut(len(item.text) // 2, item.count - 1)
                out.extend(_fitted([first] if rest is None else [first, rest], room))
        else:
            out.append(_cut(item, room))
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
    if not isinstance(version, str) or version.split(".")[0] not in READ_MAJORS:
        raise WireVersionError(
            f"wire version {version!r} is not supported (this consumer reads majors "
            f"{', '.join(sorted(READ_MAJORS))}, up to {WIRE_VERSION})"
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
        records: list[Framed] = []
        append = records.append
        for r in obj["r"]:
            if isinstance(r, dict):
                records.extend(_block_records(r))
            else:
                truncated = bool(r[4]) if len(r) > 4 else False
                append(Framed(int(r[0]), int(r[1]), int(r[2]), str(r[3]), truncated))
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        raise WireFormatError(f"malformed shipped batch: {exc!r}") from exc
    return ShippedBatch(header, records)


def _block_records(r: dict[str, Any]) -> list[Framed]:
    """The records of a record block (2.0), checked: whole lines, one terminator kind, ``n`` of them."""
    text, eol, unit = r["t"], r["e"], int(r["u"])
    if not isinstance(text, str) or eol not in _EOLS or unit not in (1, 2) or not text.endswith(eol):
        raise ValueError("record block: text must end with its terminator e (LF, CR-LF or CR), u 1 or 2")
    count = int(r["n"])
    if eol == "\r\n":
        if not text.count("\r") == text.count("\n") == count:
            raise ValueError("record block: stray CR or LF in a CR-LF block, or n is wrong")
    elif ("\r" if eol == "\n" else "\n") in text:
        raise ValueError("record block: a terminator other than e inside the text")
    block = Block(text, int(r["o"]), int(r["l"]), count, eol, unit)
    records = block.framed()
    if len(records) != count:
        raise ValueError(f"record block: {len(records)} lines, n says {count}")
    return records


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

    def frame_items(self, items: Sequence[Line | Block]) -> list[Framed | Block]:
        """``frame_lines`` over a decoder's ``feed_blocks`` output. IIS: a block with no line that is
        empty or starts with whitespace or ``#`` (no blank line, no directive) is all records and stays
        one block; other blocks and MSI go line by line."""
        out: list[Framed | Block] = []
        lines: list[Line] = []
        iis = self.parser.name == "iis"
        for item in items:
            if not isinstance(item, Block):
                lines.append(item)
            elif iis and _iis_records_only(item):
                if lines:
                    out.extend(self.frame_lines(lines))
                    lines = []
                out.append(item)
            else:
                lines.extend(item.lines())
        if lines:
            out.extend(self.frame_lines(lines))
        return out

    def take(self) -> list[ContextChange]:
        """The changes noted since the last call (oldest first)."""
        changes, self.changes = self.changes, []
        return changes


_IIS_SPECIAL = {eol: re.compile(re.escape(eol) + r"[\s#]") for eol in _EOLS}  # a line after eol: blank, #


def _iis_records_only(block: Block) -> bool:
    """True when no line of the block is blank or a directive: every line is an IIS record as framed."""
    text = block.text
    first = text[:1]
    return not (first.isspace() or first == "#") and _IIS_SPECIAL[block.eol].search(text) is None


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

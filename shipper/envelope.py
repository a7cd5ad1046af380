"""The shipped form of a record: where it came from, a stable id, and the parsed record.

One JSON object per record (orjson)::

    {"id": "MP01:803-1a2b-9f86d081884c7d65:1234", "host": "MP01", "kind": "sitecomp",
     "path": "C:\\SMS\\Logs\\SiteComp.log", "file_id": "803-1a2b-9f86d081884c7d65", "offset": 1234,
     "size": 120, "line": 57,
     "record": {"time": "2004-12-06T23:35:41.123Z", "time_is_local": false, "component": "...",
                "thread": "...", "severity": "info", "message": "...", "fields": {...}, "raw": "...",
                "format": "sms", "truncated": false}}

``id`` = host, file identity and byte offset: the same bytes always get the same id, in every run, so a
consumer can drop the duplicates that at-least-once delivery produces, exactly. Times are ISO 8601; a
``Z`` suffix only when the zone is known (``time_is_local`` says when it is not).
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.formats.record import Record

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def record_id(host: str, file_id: str, offset: int) -> str:
    return f"{host}:{file_id}:{offset}"


def _record_body(record: Record) -> dict[str, Any]:
    """The parsed record as it is shipped (the envelope's ``record`` object)."""
    return {
        "time": record.time,
        "time_is_local": record.time_is_local,
        "component": record.component,
        "thread": record.thread,
        "severity": record.severity,
        "message": record.message,
        "fields": record.fields,
        "raw": record.raw,
        "format": record.format,
        "truncated": record.truncated,
    }


def envelope(host: str, kind: str, path: str, file_id: str, record: Record) -> dict[str, Any]:
    """The envelope as a mapping (see the module docstring)."""
    return {
        "id": record_id(host, file_id, record.offset),
        "host": host,
        "kind": kind,
        "path": path,
        "file_id": file_id,
        "offset": record.offset,
        "size": record.size,
        "line": record.line,
        "record": _record_body(record),
    }


def encode(host: str, kind: str, path: str, file_id: str, record: Record) -> bytes:
    """The envelope serialised as one line of JSON (no trailing newline)."""
    return orjson.dumps(envelope(host, kind, path, file_id, record), option=_OPTIONS, default=str)


def encode_within(host: str, kind: str, path: str, file_id: str, record: Record, limit: int) -> bytes:
    """Like ``encode``, but an envelope over ``limit`` bytes gets its message, raw text and fields cut
    (and ``truncated`` set) until it fits: one huge record must never block an output for good."""
    data = encode(host, kind, path, file_id, record)
    while len(data) > limit:
        if not record.message and not record.raw:
            if not record.fields:
                break  # nothing left to cut: the output reports the size itself
            record.fields = {}
        record.truncated = True
        record.message = record.message[: len(record.message) // 2]
        record.raw = record.raw[: len(record.raw) // 2]
        data = encode(host, kind, path, file_id, record)
    return data


class EnvelopeEncoder:
    """Fast ``encode_within`` for one file: the per-file parts (host, kind, path, file id) are serialised
    once; each record costs one ``orjson.dumps`` of its own fields. Output is byte-identical to
    ``encode`` for envelopes within ``limit``."""

    def __init__(self, host: str, kind: str, path: str, file_id: str, limit: int) -> None:
        self.args = (host, kind, path, file_id)
        self.limit = limit
        self._id_open = orjson.dumps(f"{host}:{file_id}:")[:-1]  # '"HOST:FILE_ID:' (JSON-escaped)
        self._middle = orjson.dumps({"host": host, "kind": kind, "path": path, "file_id": file_id})[1:-1]

    def __call__(self, record: Record) -> bytes:
        body = orjson.dumps(_record_body(record), option=_OPTIONS, default=str)
        data = b'{"id":%s%d",%s,"offset":%d,"size":%d,"line":%d,"record":%s}' % (
            self._id_open,
            record.offset,
            self._middle,
            record.offset,
            record.size,
            record.line,
            body,
        )
        if len(data) > self.limit:
            return encode_within(*self.args, record, self.limit)
        return data

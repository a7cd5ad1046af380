"""``mpwatch records SOURCE... [--parsed]``: what was shipped, one JSON object per record.

SOURCE is a ``file://`` output file of the shipper (a path or a file:// URL; one wire batch per line).
Each record prints as {"id", "host", "kind", "file", "offset", "size", "line", "raw", "truncated"};
``--parsed`` adds the parsed record (``wire.parse_records``) under "record". A malformed line or one with
an unknown major wire version gets one line on stderr naming the file and line number, is counted and
skipped; a summary goes to stderr at the end, and the exit status is 1 if anything was skipped.
Reading kafka://HOST:PORT/TOPIC is not implemented yet (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from streams.cli.help import description
from streams.errors import InputError, WireFormatError
from streams.wire import ShippedBatch, decode, parse_records, record_id

_JSON = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def register(subparsers: Any) -> None:
    """Add the ``records`` sub-command."""
    parser = subparsers.add_parser(
        "records",
        help="print shipped records (file:// output) as JSON lines",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="file:// output file (path or URL)")
    parser.add_argument("--parsed", action="store_true", help="add the parsed fields of each record")
    parser.set_defaults(func=run)


def _path(source: str) -> str:
    if source.startswith("kafka://"):
        raise InputError(f"{source}: reading Kafka is not implemented yet")
    if source.startswith("file://"):
        return unquote(urlparse(source).path)
    return source


def batch_lines(batch: ShippedBatch, parsed: bool) -> list[bytes]:
    """The JSON lines ``mpwatch records`` prints for one batch."""
    h = batch.header
    records = parse_records(batch) if parsed else None
    out = []
    for i, rec in enumerate(batch.records):
        obj: dict[str, Any] = {
            "id": record_id(h.host, h.file_id, rec.offset),
            "host": h.host,
            "kind": h.kind,
            "file": h.name,
            "offset": rec.offset,
            "size": rec.size,
            "line": rec.line,
            "raw": rec.text,
            "truncated": rec.truncated,
        }
        if records is not None:
            obj["record"] = records[i].to_dict()
        out.append(orjson.dumps(obj, option=_JSON, default=str))
    return out


def run(args: argparse.Namespace) -> int:
    paths = [_path(s) for s in args.sources]
    out = sys.stdout.buffer
    shown = skipped = 0
    for path in paths:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
        except OSError as exc:
            raise InputError(f"{path}: {exc.strerror or exc}") from exc
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    batch = decode(line)
                except WireFormatError as exc:
                    skipped += 1
                    print(f"mpwatch records: {path}:{number}: skipped: {exc}", file=sys.stderr)
                    continue
                for item in batch_lines(batch, args.parsed):
                    out.write(item)
                    shown += 1
    out.flush()
    print(f"mpwatch records: {shown} records, {skipped} malformed messages skipped", file=sys.stderr)
    return 1 if skipped else 0

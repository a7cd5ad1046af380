"""``mpwatch records SOURCE... [--parsed] [--from-beginning] [--exit]``: what was shipped, per record.

The operator's view of the wire, like kcat for this format. SOURCE is a ``file://`` output file of the
shipper (a path or a file:// URL; one wire batch per line) or a topic, ``kafka://HOST:PORT/TOPIC``.
Each record prints as {"id", "host", "kind", "path", "file", "file_id", "offset", "size", "line", "raw",
"truncated"}; ``--parsed`` adds the parsed record (``wire.parse_records``) under "record".

A topic is read like kafka-console-consumer: new messages only, following until Ctrl-C, unless
``--from-beginning``; ``--exit`` stops at the end the topic had when reading started (kcat -e). Files are
read to their end.

A malformed message, or one with an unknown major wire version, gets one line on stderr naming the
file and line (or topic[partition]@offset), is counted and skipped; a summary goes to stderr at the
end, and the exit status is 1 if anything was skipped, 2 for an unusable source (missing file, broker
unreachable, topic that does not exist).

Examples:
  mpwatch records file:///var/lib/mpwatch/out.jsonl --parsed | jq .record.message
  mpwatch records kafka://127.0.0.1:9092/mpwatch-records --from-beginning --exit
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from streams.cli.help import description
from streams.errors import WireFormatError
from streams.shipped import decode_all, drain, file_path, is_kafka_url, read_file, read_topic
from streams.wire import ShippedBatch, flatten

_JSON = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def register(subparsers: Any) -> None:
    """Add the ``records`` sub-command."""
    parser = subparsers.add_parser(
        "records",
        help="print shipped records (file:// output or a Kafka topic) as JSON lines",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="file:// output file (path or URL) or kafka://HOST:PORT/TOPIC",
    )
    parser.add_argument("--parsed", action="store_true", help="add the parsed fields of each record")
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="topics: start at the oldest message (default: new only)",
    )
    parser.add_argument(
        "--exit", action="store_true", help="topics: stop at the end the topic had at start (default: follow)"
    )
    parser.set_defaults(func=run)


def batch_lines(batch: ShippedBatch, parsed: bool) -> list[bytes]:
    """The JSON lines ``mpwatch records`` prints for one batch (``wire.flatten``)."""
    return [orjson.dumps(obj, option=_JSON, default=str) for obj in flatten(batch, parsed=parsed)]


def run(args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    shown = skipped = 0

    def malformed(where: str, exc: WireFormatError) -> None:
        nonlocal skipped
        skipped += 1
        print(f"mpwatch records: {where}: skipped: {exc}", file=sys.stderr)

    try:
        for source in args.sources:
            if is_kafka_url(source):
                messages = drain(read_topic(source, from_beginning=args.from_beginning, until_end=args.exit))
            else:
                messages = read_file(file_path(source))
            for batch in decode_all(messages, malformed):
                for item in batch_lines(batch, args.parsed):
                    out.write(item)
                    shown += 1
                out.flush()
    finally:
        print(f"mpwatch records: {shown} records, {skipped} malformed messages skipped", file=sys.stderr)
    return 1 if skipped else 0

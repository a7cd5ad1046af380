"""``mpwatch parse FILE... [--format NAME]``: every record of log files as JSON lines on stdout.

One JSON object per record (``Record.to_dict``: time, format, component, thread, severity, message, file,
offset, line, fields ...). The format of each file is detected from its content unless ``--format`` is
given; lines no format understands are still printed, as ``"format": "raw"``. A one-line summary goes to
stderr. A file that cannot be read gets a one-line error naming it; the other files are still parsed
and the exit status is 1 at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

from streams.cli.help import description
from streams.errors import MpwatchError
from streams.formats.api import ParseStats, parse_path
from streams.formats.record import FORMATS

_JSON_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS


def register(subparsers: Any) -> None:
    """Add the ``parse`` sub-command."""
    parser = subparsers.add_parser(
        "parse",
        help="print the records of log files as JSON lines",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log file(s) to parse")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        metavar="NAME",
        help=f"skip detection and parse every file as NAME ({', '.join(FORMATS)})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse every file, print its records; 0 if all files were read, 1 otherwise."""
    out = sys.stdout.buffer
    stats = ParseStats()
    failed = 0
    try:
        for path in args.files:
            try:
                for record in parse_path(path, args.fmt, stats=stats):
                    out.write(orjson.dumps(record.to_dict(), option=_JSON_OPTIONS))
            except MpwatchError as exc:
                failed += 1
                out.flush()
                print(f"mpwatch parse: error: {exc}", file=sys.stderr)
        out.flush()
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    print(summary(stats, failed), file=sys.stderr)
    return 1 if failed else 0


def summary(stats: ParseStats, failed: int = 0) -> str:
    """One line: files, records per format, raw/blank/directive lines, failures."""
    per_format = ", ".join(f"{name} {count}" for name, count in sorted(stats.records.items())) or "none"
    text = (
        f"mpwatch parse: {stats.files} file(s), {stats.total_records} record(s) ({per_format}), "
        f"{stats.raw_lines} raw line(s), {stats.blank_lines} blank, {stats.directive_lines} directive(s)"
    )
    if failed:
        text += f"; {failed} file(s) could not be read"
    return text

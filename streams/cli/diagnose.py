"""``mpwatch diagnose PATH... [--json] [--now TIME] [--host NAME=PATH] [--tz HOST=+HH:MM]``

Reads collected logs and tells, per management point: its state, what went wrong, why, what to do,
and a compact timeline. PATH is a folder whose immediate subfolders are host names (each holding that
host's logs at any depth, e.g. SERVER1/SMS/Logs/sitecomp.log, MGTPOINT1/SMS/Logs/MPSetup.log), a
single log file, or a .zip of such a folder. ``--host NAME=PATH`` names the host of a file or folder.
PATH may also be shipped data, read through the same engine with the same answer: a ``file://`` output
file of ``mpwatch ship`` (recognised by its first line) or a topic, ``kafka://HOST:PORT/TOPIC``, read
from its beginning to its current end. Malformed shipped messages are named, counted and skipped.
``--now`` sets the evaluation time (ISO 8601; default: the latest time in the logs). ``--jobs N`` spreads
the hosts over N processes (default: one per core for big inputs) with the same answer. ``--tz`` gives a
host's UTC offset when none of its logs states it (MPSetup.log and MSI logs carry local time only).

Exit status 0 when the logs were read (whatever was found), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import orjson

from streams.cli.common import add_layout_options, bulk_gc, parse_tz_option, use_colour
from streams.cli.help import description
from streams.core.events import parse_iso
from streams.core.servers import canonical_server
from streams.errors import InputError, WireFormatError
from streams.loader import discover, parse_host_option
from streams.offline import RunStats, run
from streams.parallel import MIN_PARALLEL_BYTES, all_plain, can_fork, default_jobs, run_parallel
from streams.render import render
from streams.sanitize import visible
from streams.shipped import collect, file_path, is_kafka_url, looks_shipped
from streams.wire import ShippedBatch


def register(subparsers: Any) -> None:
    """Add the ``diagnose`` sub-command."""
    parser = subparsers.add_parser(
        "diagnose",
        help="diagnose management point installs from collected logs",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="folder of host folders, log file, or .zip")
    parser.add_argument("--json", action="store_true", help="print the JSON view instead of text")
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="evaluation time, ISO 8601, UTC when no zone is given (default: latest log time)",
    )
    add_layout_options(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="worker processes (hosts are spread over them; same answer as one). Default: one per core "
        f"for inputs over {MIN_PARALLEL_BYTES >> 20} MB of plain files, else 1",
    )
    parser.set_defaults(func=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    with bulk_gc():  # a bulk command: see streams.cli.common.bulk_gc
        return _run_cli(args)


def _run_cli(args: argparse.Namespace) -> int:
    hosts = [parse_host_option(text) for text in args.host]
    if not args.paths and not hosts:
        raise InputError("give at least one PATH (or --host NAME=PATH)")
    now = _parse_now(args.now)
    tz = dict(parse_tz_option(text) for text in args.tz)
    shipped_paths = [p for p in args.paths if is_kafka_url(p) or looks_shipped(file_path(p))]
    log_paths = [p for p in args.paths if p not in shipped_paths]
    notes: list[str] = []
    sources = discover(log_paths, hosts, notes) if log_paths or hosts else []
    for note in notes:
        print(f"mpwatch diagnose: note: {visible(note)}", file=sys.stderr)  # names are untrusted
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    skipped: list[str] = []

    def malformed(where: str, exc: WireFormatError) -> None:
        skipped.append(where)
        print(
            f"mpwatch diagnose: warning: {where}: malformed shipped message skipped: {exc}", file=sys.stderr
        )

    shipped_hosts: set[str] = set()

    def shipped() -> Iterator[ShippedBatch]:
        for batch in collect(shipped_paths, malformed):
            shipped_hosts.add(batch.header.host)
            yield batch

    jobs = args.jobs if args.jobs is not None else default_jobs(sources)
    if jobs < 1:
        raise InputError(f"--jobs {jobs}: need at least 1")
    if jobs > 1 and not shipped_paths and can_fork() and all_plain(sources):
        result = run_parallel(sources, jobs, now=now, tz=tz, progress=progress)
    else:
        result = run(sources, now=now, tz=tz, progress=progress, shipped=shipped())
    if progress is not None:
        progress.done()
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps(result.view, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        )
        sys.stdout.flush()
    else:
        sys.stdout.write(render(result.view, colour=use_colour(sys.stdout)))
    _notes(result.stats, sys.stderr)
    if skipped:
        print(
            f"mpwatch diagnose: warning: {len(skipped)} malformed shipped message(s) skipped", file=sys.stderr
        )
    if not result.view["servers"]:
        formats = ", ".join(f"{name} {n}" for name, n in sorted(result.stats.formats.items())) or "none"
        print(
            f"mpwatch diagnose: note: read {result.stats.files_total or len(shipped_paths)} file(s), "
            f"{result.stats.records} record(s) (formats: {formats}); none named a management point "
            "(expected SiteComp.log, MPSetup.log, MPMSI.log, MPControl.log or IIS logs of a site system)",
            file=sys.stderr,
        )
    _unused_tz_hosts(tz, {source.host for source in sources} | shipped_hosts, sys.stderr)
    return 0


def _unused_tz_hosts(tz: dict[str, int], hosts: set[str], out: TextIO) -> None:
    """A --tz for a host that no log came from is most likely a typo: say so instead of ignoring it."""
    known = {canonical_server(host) for host in hosts}
    for host in sorted(tz):
        if canonical_server(host) not in known:
            print(f"mpwatch diagnose: warning: --tz {host}=...: no log of that host was read", file=out)


NOW_MIN_US = 0  # 1970-01-01T00:00:00Z: logs of any SMS version are later
NOW_MAX_US = 253_402_127_999_000_000  # 9999-12-30T23:59:59Z: a day of margin for any time zone


def _parse_now(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = parse_iso(text)
    except OverflowError as exc:
        raise InputError(f"--now {text!r} is out of range (1970-01-01 .. 9999-12-30 UTC)") from exc
    except ValueError as exc:
        raise InputError(f"bad --now {text!r} (expected ISO 8601, e.g. 2004-12-06T19:00:00Z)") from exc
    if not NOW_MIN_US <= value <= NOW_MAX_US:
        raise InputError(f"--now {text!r} is out of range (1970-01-01 .. 9999-12-30 UTC)")
    return value


def _notes(stats: RunStats, out: TextIO) -> None:
    """Warnings worth a line on stderr: unreadable files, events that could not be placed."""
    for error in stats.errors:
        print(f"mpwatch diagnose: warning: {visible(error)}", file=out)
    for switch in stats.encoding_switches:
        print(f"mpwatch diagnose: note: encoding changes inside a file: {visible(switch)}", file=out)
    untimed = stats.extractor.get("untimed", 0)
    if untimed:
        print(f"mpwatch diagnose: warning: {untimed} event(s) had no time and were left out", file=out)
    placed = stats.extractor.get("placed_from_context", 0)
    if placed:
        print(
            f"mpwatch diagnose: note: {placed} event(s) came from log lines with no time of their own or "
            "of their file; they were placed from context (the host's mp.msi start, its other logs)",
            file=out,
        )
    for host, (offset, source) in sorted(stats.guessed_offsets.items()):
        basis = "the site's offset" if source == "site" else "UTC, no zone known"
        print(
            f"mpwatch diagnose: note: no log of {host} states its time zone; its local times were placed "
            f"at {_format_offset(offset)} ({basis}); set it with --tz {host}=+HH:MM",
            file=out,
        )


def _format_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Progress:
    """``files 3/12, 120.5/1024.0 MB (11%)`` on one refreshed stderr line, at most 5 times a second."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = 0.0
        self.width = 0

    def __call__(self, stats: RunStats) -> None:
        moment = time.monotonic()
        if moment - self.last < 0.2 and stats.files_done < stats.files_total:
            return
        self.last = moment
        total = max(stats.bytes_total, 1)
        text = (
            f"mpwatch diagnose: files {stats.files_done}/{stats.files_total}, "
            f"{stats.bytes_done / 1e6:.1f}/{stats.bytes_total / 1e6:.1f} MB "
            f"({100 * stats.bytes_done // total}%)"
        )
        self.width = max(self.width, len(text))
        self.out.write("\r" + text.ljust(self.width))
        self.out.flush()

    def done(self) -> None:
        if self.width:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()

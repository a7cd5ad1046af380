"""The ``mpwatch`` command line: the composition root that assembles the shells.

Every sub-command lives in its own module of this package and exposes ``register(subparsers)``, which
adds its parser and sets ``func``. This package is the only place that imports the shells (the shipper,
the offline engine, ...); the shells never import the command line. Where each shell lives:

- ``mpwatch parse``    -> ``streams.formats`` (the format library)
- ``mpwatch diagnose`` -> ``streams.offline`` (the offline shell over collected logs)
- ``mpwatch ship``     -> ``shipper`` (tailing and delivery on site systems)
- ``mpwatch records``  -> ``streams.wire`` (what was shipped, decoded)
- ``mpwatch run``      -> ``streams.embedded`` + ``streams.http`` (the embedded default: tail, engine, API)
- ``mpwatch timeline`` -> ``streams.render`` over the query API of a running service
- ``mpwatch worker``   -> ``streams.worker`` (the distributed shell: Faust agents over Kafka)
- ``mpwatch probe``    -> ``streams.probe`` (the seed's MP checks over HTTP(S))
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from streams import __version__
from streams.errors import MpwatchError

#: the sub-command modules (``streams.cli.NAME``), in the order ``mpwatch --help`` lists them
SUBCOMMANDS = ("run", "timeline", "diagnose", "probe", "parse", "ship", "records", "worker")
#: sub-commands that only need their own module: ``mpwatch parse`` does not import the web server, the
#: HTTP client and Kafka for nothing (about 0.5 s of start-up, as much as parsing 100,000 lines);
#: ``mpwatch ship`` needs its Kafka client but not the web server and HTTP client (0.25 CPU s)
STANDALONE = frozenset({"parse", "ship"})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``mpwatch`` parser with every sub-command, or with ``only`` that one."""
    parser = argparse.ArgumentParser(
        prog="mpwatch",
        description="Watch SMS / ConfigMgr management point installs through their logs.",
    )
    parser.add_argument("--version", action="version", version=f"mpwatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else (only,):
        importlib.import_module(f"streams.cli.{name}").register(subparsers)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and words[0] in STANDALONE else None)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = int(func(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _silence_stdout()
        return 0
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG):  # stdout on a full disk
            _silence_stdout()
            print(f"mpwatch {args.command}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
            return 1
        raise
    except MpwatchError as exc:
        print(f"mpwatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

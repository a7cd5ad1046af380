"""The ``mpwatch`` command line: one sub-command per job, each registered by its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams import __version__
from streams.errors import MpwatchError

# module path -> each module exposes ``register(subparsers)`` which sets ``func`` on its parser.
SUBCOMMAND_MODULES = (
    "streams.cli_parse",
    "streams.cli_diagnose",
    "shipper.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpwatch",
        description="Watch SMS / ConfigMgr management point installs through their logs.",
    )
    parser.add_argument("--version", action="version", version=f"mpwatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # sub-command not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args))
    except MpwatchError as exc:
        print(f"mpwatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What several sub-commands share: the log-layout options, colour on terminals, stopping on signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Iterator
from typing import TextIO

from streams.core.clock import parse_offset
from streams.errors import InputError


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    """``--host NAME=PATH`` and ``--tz HOST=+HH:MM``, as ``diagnose`` and ``run`` read logs alike."""
    parser.add_argument(
        "--host", action="append", default=[], metavar="NAME=PATH", help="logs under PATH are host NAME's"
    )
    parser.add_argument(
        "--tz", action="append", default=[], metavar="HOST=+HH:MM", help="UTC offset of HOST's local times"
    )


def parse_tz_option(text: str) -> tuple[str, int]:
    host, sep, offset = text.partition("=")
    if not sep or not host.strip():
        raise InputError(f"bad --tz {text!r} (expected HOST=+HH:MM)")
    return host.strip(), parse_offset(offset)


def use_colour(stream: TextIO) -> bool:
    """ANSI colours on a terminal, unless ``NO_COLOR`` is set or ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def stop_on_signals(stop: asyncio.Event, log: logging.Logger, message: str) -> None:
    """SIGTERM and Ctrl-C set ``stop`` (logging ``message`` the first time); call on the running loop."""
    loop = asyncio.get_running_loop()

    def request_stop(*_args: object) -> None:
        if not stop.is_set():
            log.info("%s", message)
        loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, request_stop)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, request_stop)


BULK_GC_THRESHOLD = (20_000, 20, 20)


@contextlib.contextmanager
def bulk_gc() -> Iterator[None]:
    """For the bulk commands (``parse``, ``diagnose``): young collections every 20,000 allocations
    instead of 700. Records and events hold no cycles, so reference counting frees them; the cyclic
    collector only walks them, about a tenth of these commands' CPU. The old thresholds come back after
    (tests run the commands in-process)."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)

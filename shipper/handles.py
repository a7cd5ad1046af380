"""Open descriptors of tracked files, kept within a budget.

Every file being read holds one descriptor (and its ``FileTailer``). With more watched files than the
process may open (``limits.open_budget``), opening must never fail in a way that loses a file or crashes
the checkpoint write, so ``OpenFiles`` is the only place that opens and closes tailers and counts them:
over the budget it closes the least recently changed idle handles first (they reopen by identity when
the file changes), and a file that still finds no descriptor waits in ``starved`` until one is free.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from shipper.config import TailSettings
from shipper.filetable import FileTable, ReadyQueue
from shipper.metrics import ShipperMetrics
from shipper.state import FileState
from shipper.tailer import FileTailer
from shipper.winfile import open_shared
from streams.errors import MpwatchError

log = logging.getLogger("mpwatch.shipper")


def read_error(metrics: ShipperMetrics, path: str, exc: OSError) -> None:
    """A file could not be opened or read: say so and count it (the next scan or wake-up retries)."""
    log.warning("cannot read %s: %s", path, exc)
    metrics.read_errors.inc()


class OpenFiles:
    """Opens, closes and counts tailers; at most ``max_open`` at once (see the module docstring)."""

    def __init__(
        self,
        table: FileTable,
        ready: ReadyQueue,
        tail: TailSettings,
        metrics: ShipperMetrics,
        clock: Callable[[], float],
        max_open: int,
    ) -> None:
        self.table = table
        self.ready = ready
        self.tail = tail
        self.metrics = metrics
        self.clock = clock
        self.max_open = max_open
        self.count = 0
        self.starved: set[FileState] = set()  # files with data to read, waiting for a descriptor

    def open(self, state: FileState, fd: int) -> None:
        """Attach a tailer on ``fd`` (which this takes over) at the state's resume position."""
        if self.count >= self.max_open and not self._make_room(1):
            os.close(fd)  # over the descriptor budget: opened again once idle files were closed
            self.starved.add(state)
            return
        self.starved.discard(state)
        offset, line = state.position
        try:
            state.tailer = FileTailer(
                fd,
                state.path,
                fmt=state.fmt,
                encoding=state.encoding,
                offset=offset,
                line=line,
                max_line_bytes=self.tail.max_line_bytes,
                chunk_bytes=self.tail.read_chunk_bytes,
            )
        except OSError as exc:
            os.close(fd)
            read_error(self.metrics, state.path, exc)
            return
        except MpwatchError as exc:  # no parser for the stored format: never stall, ship raw lines
            log.warning("%s: %s; shipping its lines as raw records", state.path, exc)
            state.fmt = "raw"
            self.open(state, fd)
            return
        self.count += 1
        state.last_change = self.clock()
        self.ready.mark(state)

    def reopen(self, state: FileState) -> None:
        try:
            fd = open_shared(state.path)
        except OSError as exc:
            read_error(self.metrics, state.path, exc)
            return
        self.open(state, fd)

    def close(self, state: FileState) -> None:
        """Close the handle, keeping where to resume (and the encoding) for a later reopen."""
        tailer = state.tailer
        if tailer is not None:
            state.position = tailer.resume
            state.encoding = tailer.encoding
            tailer.close()
            state.tailer = None
            self.count -= 1

    def discard(self, state: FileState) -> None:
        """Close the handle of a file whose identity ends (no position to keep); stop waiting for one."""
        if state.tailer is not None:
            state.tailer.close()
            state.tailer = None
            self.count -= 1
        self.starved.discard(state)

    def retry_starved(self) -> None:
        """Give descriptors to files waiting for one, closing idle handles to make room."""
        if not self.starved:
            return
        self._make_room(len(self.starved))
        for state in list(self.starved):
            if self.count >= self.max_open:
                break
            self.starved.discard(state)
            if state.tailer is None and not state.retired and self.table.states.get(state.key) is state:
                self.reopen(state)

    def _make_room(self, wanted: int) -> bool:
        """Close up to ``wanted`` (at least an eighth of the budget) idle handles, least recently
        changed first: files read to their end, nothing queued or held, not being drained."""
        idle = [
            s
            for s in self.table.states.values()
            if s.tailer is not None
            and s.tailer.at_eof
            and not (s.gone or s.outbox or s.tailer.holds_record)
            and s not in self.ready
        ]
        idle.sort(key=lambda s: s.last_change)
        for state in idle[: max(wanted, self.max_open // 8)]:
            self.close(state)
        return self.count < self.max_open

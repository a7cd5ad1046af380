"""The set of tracked files, as the pipeline sees it: scan, read into batches, confirm, apply timers.

``FileRegistry`` is the shipper's file server. It is synchronous (the pipeline calls it between awaits)
and keyed by identity, never by path. It wires together the pieces that each do one job and applies the
per-file timers itself:

* ``reconciler.Reconciler`` — listed paths vs tracked identities: renames (SMS rollover), deletions,
  inode reuse, truncation and copy-truncate, new files;
* ``scheduler.ReadScheduler`` — which file is read next (round-robin) and how its records fill a
  bounded ``Batch``;
* ``handles.OpenFiles`` — opening and closing tailers within the descriptor budget;
* ``lag.LagMeter`` — ``lag_bytes`` and the file gauges, also while the output is down;
* ``filetable`` — the shared indexes (identity key, inode, path) and the ready queue.

Timers (``housekeeping``): a held multi-line record is flushed after ``multiline_idle_s``; a renamed or
deleted file is finished (its partial last line included) and closed ``rotate_wait_s`` after its last
growth; an unchanged file's descriptor is closed after ``close_inactive_s``. ``commit`` moves each
file's confirmed position once the output accepted a batch; ``entries`` is the checkpoint content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable

from shipper.batch import Batch
from shipper.checkpoint import CheckpointEntry, now_iso
from shipper.config import ShipperConfig
from shipper.filetable import FileTable, ReadyQueue
from shipper.handles import OpenFiles
from shipper.identifier import Identifier
from shipper.lag import LagMeter
from shipper.limits import open_budget
from shipper.metrics import ShipperMetrics
from shipper.paths import PathsProvider
from shipper.reconciler import Reconciler
from shipper.scheduler import ReadScheduler
from shipper.state import FileState

log = logging.getLogger("mpwatch.shipper")


class FileRegistry:
    """Tracks files by identity; see the module docstring."""

    def __init__(
        self,
        config: ShipperConfig,
        saved: dict[str, CheckpointEntry],
        metrics: ShipperMetrics,
        *,
        max_record_bytes: int = 64 << 20,
        in_process: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.tail = config.tail
        self.metrics = metrics
        self.clock = clock
        self.provider = PathsProvider(config.paths, config.tail.exclude)
        self.table = FileTable()
        self.states = self.table.states
        self.ready = ReadyQueue()
        self.identifier = Identifier(saved, config.tail, metrics, clock)
        self.handles = OpenFiles(
            self.table, self.ready, config.tail, metrics, clock, open_budget(config.tail.max_open_files)
        )
        self.reconciler = Reconciler(
            self.table, self.ready, self.handles, self.identifier, self.provider, metrics, clock
        )
        self.scheduler = ReadScheduler(
            self.table,
            self.ready,
            self.handles,
            self.reconciler.rewritten,
            metrics,
            clock,
            host=config.host,
            max_record_bytes=max_record_bytes,
            in_process=in_process,
            name_of=self.provider.display_name,
            wire_version=config.wire_version,
        )
        self.lag = LagMeter(self.table, self.identifier, self.provider, metrics)
        self.scan_requested = True

    @property
    def dirty(self) -> bool:
        """The checkpoint content changed since the last save."""
        return self.table.dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self.table.dirty = value

    # ------------------------------------------------------------------ discovery
    def scan(self, *, force_identify: bool = False) -> None:
        """List the patterns and reconcile them with the tracked files (``reconciler``)."""
        self.scan_requested = False
        self.reconciler.scan(force_identify)
        self.lag.update()

    def hint(self, path: str) -> None:
        """A change notification for ``path`` (any kind); unknown paths trigger a scan."""
        state = self.table.by_path.get(path)
        if state is not None and state.tailer is not None:
            self.ready.mark(state)
        else:
            self.scan_requested = True

    # ------------------------------------------------------------------ timers
    def housekeeping(self) -> None:
        """Apply idle timers (held records, rotated/deleted files, inactive handles)."""
        now = self.clock()
        tail = self.tail
        for state in list(self.states.values()):
            tailer = state.tailer
            if tailer is None:
                if state.gone and not state.outbox:
                    self.table.forget(state)
                continue
            if not tailer.at_eof:
                continue
            idle = now - state.last_change
            if tailer.holds_record and idle >= tail.multiline_idle_s:
                state.queue(tailer.flush_held(), tailer.resume)
                self.ready.mark(state)
            if (state.moved or state.gone) and idle >= tail.rotate_wait_s:
                if _size(state) > tailer.read_pos:
                    self.ready.mark(state)
                    continue
                state.queue(tailer.finish(), tailer.resume)
                self.handles.close(state)
                log.info("closed %s (read to its end)", state.path)
                self.ready.mark(state)
            elif idle >= tail.close_inactive_s and not tailer.holds_record and not state.outbox:
                self.handles.close(state)
        if self.identifier.any_due():
            self.scan_requested = True
        self.handles.retry_starved()
        self.lag.update()

    @property
    def needs_timers(self) -> bool:
        """True while some file waits on a timer (a held multi-line record, a rotated or deleted file
        to finish, records not yet sent, a file to identify, a descriptor to get); when False the
        pipeline may sleep until the next scan or notification."""
        if self.identifier.waiting or self.handles.starved:
            return True
        for state in self.states.values():
            tailer = state.tailer
            if state.outbox or state.moved or state.gone:
                return True
            if tailer is not None and (tailer.holds_record or not tailer.at_eof or tailer.partial_bytes):
                return True
        return False

    def end_of_run(self) -> None:
        """End of a ``--once`` run: held multi-line records are shipped, and a last line ended by a bare CR
        (what ``parse`` counts as a line); rotated files (``.lo_``, never appended to again) are finished,
        partial last line included. Other partial lines (no terminator yet) still wait."""
        for state in list(self.states.values()):
            tailer = state.tailer
            if tailer is None:
                continue
            if state.moved or state.gone:
                state.queue(tailer.finish(), tailer.resume)
                self.handles.close(state)
            else:
                records = tailer.complete_cr_line()
                if tailer.holds_record:
                    records.extend(tailer.flush_held())
                if records:
                    state.queue(records, tailer.resume)
            if state.outbox:
                self.ready.mark(state)

    # ------------------------------------------------------------------ reading into batches
    @property
    def has_ready(self) -> bool:
        """Records or reads are waiting (including files waiting for a descriptor)."""
        return bool(self.ready) or bool(self.handles.starved)

    def fill(self, batch: Batch, *, read: bool = True) -> None:
        """Move records into ``batch`` until it is full or nothing is ready; ``read=False`` only drains
        records already read (shutdown)."""
        self.scheduler.fill(batch, read=read)

    # ------------------------------------------------------------------ confirmed positions
    def commit(self, batch: Batch) -> None:
        """The output accepted ``batch``: move each file's confirmed position."""
        for state, resume in batch.marks.items():
            state.committed = resume
            state.updated = ""
        self.dirty = True

    def settle(self) -> None:
        """Nothing is in flight: every framed record was delivered, so positions may advance past lines
        that produced no record (headers, blank lines)."""
        for state in self.states.values():
            if state.outbox or state.retired:
                continue
            resume = state.tailer.resume if state.tailer else state.position
            if resume[0] > state.committed[0]:
                state.committed = resume
                state.updated = ""
                self.dirty = True

    def entries(self) -> dict[str, CheckpointEntry]:
        """The checkpoint content: confirmed positions of files that still exist."""
        stamp = now_iso()
        return {
            key: state.checkpoint_entry(stamp)
            for key, state in self.states.items()
            if not state.retired and not (state.gone and state.tailer is None)
        }

    def idle(self) -> bool:
        """True when nothing is ready and every open file was read to its current end."""
        return not self.ready and all(not s.outbox for s in self.states.values())

    # ------------------------------------------------------------------ gauges
    def refresh_lag(self) -> None:
        """Re-read sizes (tracked and newly appeared files) and update the gauges (``lag``)."""
        self.lag.refresh()

    def update_gauges(self, untracked: dict[str, int] | None = None) -> None:
        self.lag.update(untracked)

    def close(self) -> None:
        for state in self.states.values():
            self.handles.close(state)


def _size(state: FileState) -> int:
    """The file's current size (from the open descriptor; the last known one if that fails)."""
    with contextlib.suppress(OSError):
        state.size = os.fstat(state.tailer.fd).st_size if state.tailer else state.size
    return state.size

"""Reconciling what the patterns list (paths) with what the shipper tracks (identities).

Paths are only where files are seen; the shipper follows identities (device, inode, fingerprint). Every
scan, and every wake-up of a file read to its end, asks the same questions, answered here:

* a known inode under a new name is a rename (SMS rollover ``X.log`` -> ``X.lo_``): the open descriptor
  keeps reading it;
* a known inode no longer listed was deleted (or moved away): what is left is drained;
* a *closed* file's inode listed again with other bytes at its start is inode reuse: a new file, not a
  rename and not a truncation (an open descriptor pins its inode, so only closed files can lose theirs);
* a size below what was read, or a changed fingerprint, is truncation or copy-truncate: the old state is
  retired (records already read are still shipped) and the file restarts at offset 0 under a new
  identity, so record ids never repeat;
* an unknown inode is identified (``Identifier``: resumed from the checkpoint when one matches) and
  opened.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from shipper.filetable import FileTable, ReadyQueue
from shipper.handles import OpenFiles, read_error
from shipper.identifier import Identifier
from shipper.metrics import ShipperMetrics
from shipper.paths import PathsProvider, log_kind
from shipper.state import FileState
from shipper.tailer import FileTailer
from shipper.winfile import open_shared, pread

log = logging.getLogger("mpwatch.shipper")


class Reconciler:
    """Maps listed paths onto tracked identities (see the module docstring)."""

    def __init__(
        self,
        table: FileTable,
        ready: ReadyQueue,
        handles: OpenFiles,
        identifier: Identifier,
        provider: PathsProvider,
        metrics: ShipperMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.table = table
        self.ready = ready
        self.handles = handles
        self.identifier = identifier
        self.provider = provider
        self.metrics = metrics
        self.clock = clock
        self._first_scan = True

    def scan(self, force_identify: bool) -> None:
        """List the patterns and reconcile every match with the tracked files."""
        seen = self.provider.listing()
        for inode, state in list(self.table.by_inode.items()):
            if inode in seen:
                path, st = seen[inode]
                if state.tailer is None and self._inode_reused(state, path, st):
                    # the tracked file is gone and a new one got its inode number: no rename, no
                    # truncation; the new file is discovered below like any other
                    log.info("%s is a new file (the inode of %s was reused)", path, state.path)
                    self.retire(state)
                    continue
                del seen[inode]
                if path != state.path:
                    self._renamed(state, path)
                state.gone = False
                self._check(state, st)
            elif not state.gone:
                log.info("%s is gone (deleted or moved away); draining what is left", state.path)
                state.gone = True
                self.metrics.rotations.inc()
                self.ready.mark(state)
        self.identifier.keep_waiting(set(seen))
        for path, st in seen.values():
            self._discover(path, st, force_identify)
        if self._first_scan:
            self._first_scan = False
            self.identifier.drop_unmatched()

    def rewritten(self, state: FileState, tailer: FileTailer) -> bool:
        """Before reading on from an earlier end of file: was the file truncated or rewritten meanwhile?
        If so it restarts under a new identity. (Checked on every wake-up, not only at rescans, so a
        rewrite is never read as a continuation.)"""
        try:
            st = os.fstat(tailer.fd)
        except OSError:
            return False
        if st.st_size == tailer.read_pos or (st.st_size > tailer.read_pos and self._head_matches(state)):
            return False
        self._restart(state, st)
        return True

    def retire(self, state: FileState) -> None:
        """The identity ends (truncation, inode reuse): unreachable from now on, shipped until drained."""
        self.table.dirty = True
        state.retired = state.gone = True
        self.handles.discard(state)
        self.table.unindex(state)
        if state.outbox:
            self.ready.mark(state)  # records read before the truncation are still shipped
        else:
            self.table.states.pop(state.key, None)

    def _renamed(self, state: FileState, path: str) -> None:
        log.info("%s was renamed to %s; reading it to its end", state.path, path)
        self.table.rename(state, path)
        state.moved = True
        self.metrics.rotations.inc()
        if state.tailer is not None:
            state.tailer.path = path

    def _inode_reused(self, state: FileState, path: str, st: os.stat_result) -> bool:
        """A closed file's inode listed again (same or other name): is it still the same file?

        An open descriptor pins its inode, so only closed files can have theirs handed to a new file.
        The first bytes are only read when the name, size or modification time changed."""
        if path == state.path and (st.st_size, st.st_mtime_ns) == state.stamp:
            return False
        try:
            with open(path, "rb") as handle:
                head = handle.read(state.identity.fp_length)
        except OSError:
            return False  # cannot tell now; the next scan checks again
        return not state.identity.matches(head)

    def _check(self, state: FileState, st: os.stat_result) -> None:
        """Compare a tracked file with a fresh stat: growth, truncation, rewrite."""
        changed = (st.st_size, st.st_mtime_ns) != state.stamp
        state.stamp = (st.st_size, st.st_mtime_ns)
        state.size = st.st_size
        tailer = state.tailer
        read = state.read_offset()
        if st.st_size < read or ((tailer is not None or changed) and not self._head_matches(state)):
            self._restart(state, st)
        elif tailer is not None:
            if st.st_size > tailer.read_pos or state.outbox:
                self.ready.mark(state)
        elif st.st_size > read:
            self.handles.reopen(state)

    def _head_matches(self, state: FileState) -> bool:
        fd = state.tailer.fd if state.tailer else None
        try:
            if fd is None:
                with open(state.path, "rb") as handle:
                    head = handle.read(state.identity.fp_length)
            else:
                head = pread(fd, state.identity.fp_length, 0)
        except OSError:
            return True  # cannot tell now; the next scan checks again
        return state.identity.matches(head)

    def _restart(self, state: FileState, st: os.stat_result) -> None:
        log.warning("%s was truncated or rewritten; reading it again from the start", state.path)
        self.metrics.truncations.inc()
        self.retire(state)
        self._discover(state.path, st, force=True)

    def _discover(self, path: str, st: os.stat_result, force: bool) -> None:
        inode = (st.st_dev, st.st_ino)
        if st.st_size == 0:
            return
        try:
            fd = open_shared(path)
        except OSError as exc:
            read_error(self.metrics, path, exc)
            return
        try:
            found = self.identifier.identify(fd, path, inode, force)
        except OSError as exc:
            os.close(fd)
            read_error(self.metrics, path, exc)
            return
        except BaseException:
            os.close(fd)
            raise
        if found is None:
            os.close(fd)
            return
        start = found.start
        state = FileState(
            found.identity,
            path,
            log_kind(path),
            found.fmt,
            found.encoding,
            committed=start,
            position=start,
            last_change=self.clock(),
            moved=path.lower().endswith(".lo_"),
        )
        self.table.add(state, inode, path)
        self.handles.open(state, fd)

"""The set of tracked files: discovery, identity, rotation, truncation, and handing records to batches.

``FileRegistry`` is the shipper's file server. It is synchronous (the pipeline calls it between awaits)
and keyed by identity, never by path:

* ``scan`` lists the patterns, stats every match and maps (device, inode) to a ``FileState``. A known
  inode under a new name is a rename (SMS rollover ``X.log`` -> ``X.lo_``): the open descriptor keeps
  reading it. An inode no longer listed was deleted (or moved away): the descriptor is drained. A new
  inode is identified (fingerprint; resumed from the checkpoint when one matches) and opened.
* A size below what was read, or a changed fingerprint, means truncation or copy-truncate: the old state
  is retired (records already read are still shipped) and the file restarts at offset 0 under a new
  identity, so record ids never repeat.
* ``housekeeping`` applies the timers: a held multi-line record is flushed after ``multiline_idle_s``; a
  renamed or deleted file is finished (its partial last line included) and closed ``rotate_wait_s`` after
  its last growth; an unchanged file's descriptor is closed after ``close_inactive_s``.
* ``fill`` reads ready files round-robin, one chunk at a time, into a bounded ``Batch``; ``commit`` moves
  each file's confirmed position once the output accepted that batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable

from shipper.batch import Batch
from shipper.checkpoint import CheckpointEntry, now_iso
from shipper.config import ShipperConfig
from shipper.envelope import EnvelopeEncoder
from shipper.identifier import Identifier
from shipper.identity import FileIdentity
from shipper.limits import open_budget
from shipper.metrics import ShipperMetrics
from shipper.paths import KINDS, PathsProvider, log_kind
from shipper.state import FileState, Inode
from shipper.tailer import FileTailer
from shipper.winfile import open_shared, pread
from streams.errors import MpwatchError

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.tail = config.tail
        self.metrics = metrics
        self.clock = clock
        self.max_record_bytes = max_record_bytes
        self.provider = PathsProvider(config.paths, config.tail.exclude)
        self.states: dict[str, FileState] = {}
        self._by_inode: dict[Inode, FileState] = {}
        self._by_path: dict[str, FileState] = {}
        self.identifier = Identifier(saved, config.tail, metrics, clock)
        self._ready: deque[FileState] = deque()
        self._ready_set: set[FileState] = set()
        self._first_scan = True
        self.max_open = open_budget(config.tail.max_open_files)
        self._open_count = 0
        self._starved: set[FileState] = set()  # files with data to read, waiting for a descriptor
        self.scan_requested = True
        self.dirty = False  # the checkpoint content changed since the last save

    # ------------------------------------------------------------------ discovery
    def scan(self, *, force_identify: bool = False) -> None:
        """List the patterns and reconcile them with the tracked files (see the module docstring)."""
        self.scan_requested = False
        seen: dict[Inode, tuple[str, os.stat_result]] = {}
        for path in self.provider.paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen.setdefault((st.st_dev, st.st_ino), (path, st))
        for inode, state in list(self._by_inode.items()):
            if inode in seen:
                path, st = seen[inode]
                if state.tailer is None and self._inode_reused(state, path, st):
                    # the tracked file is gone and a new one got its inode number: no rename, no
                    # truncation; the new file is discovered below like any other
                    log.info("%s is a new file (the inode of %s was reused)", path, state.path)
                    self._retire(state)
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
                self._mark_ready(state)
        self.identifier.keep_waiting(set(seen))
        for path, st in seen.values():
            self._discover(path, st, force_identify)
        if self._first_scan:
            self._first_scan = False
            self.identifier.drop_unmatched()
        self.update_gauges()

    def hint(self, path: str) -> None:
        """A change notification for ``path`` (any kind); unknown paths trigger a scan."""
        state = self._by_path.get(path)
        if state is not None and state.tailer is not None:
            self._mark_ready(state)
        else:
            self.scan_requested = True

    def _renamed(self, state: FileState, path: str) -> None:
        log.info("%s was renamed to %s; reading it to its end", state.path, path)
        if self._by_path.get(state.path) is state:
            del self._by_path[state.path]
        state.path = path
        state.moved = True
        self._by_path[path] = state
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
                self._mark_ready(state)
        elif st.st_size > read:
            self._reopen(state)

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
        self._retire(state)
        self._discover(state.path, st, force=True)

    def _retire(self, state: FileState) -> None:
        self.dirty = True
        state.retired = state.gone = True
        if state.tailer is not None:
            state.tailer.close()
            state.tailer = None
            self._open_count -= 1
        self._starved.discard(state)
        if self._by_inode.get(state.inode) is state:
            del self._by_inode[state.inode]
        if self._by_path.get(state.path) is state:
            del self._by_path[state.path]
        if state.outbox:
            self._mark_ready(state)  # records read before the truncation are still shipped
        else:
            self.states.pop(state.key, None)

    def _discover(self, path: str, st: os.stat_result, force: bool) -> None:
        inode = (st.st_dev, st.st_ino)
        if st.st_size == 0:
            return
        try:
            fd = open_shared(path)
        except OSError as exc:
            self._read_error(path, exc)
            return
        try:
            found = self.identifier.identify(fd, path, inode, force)
        except OSError as exc:
            os.close(fd)
            self._read_error(path, exc)
            return
        except BaseException:
            os.close(fd)
            raise
        if found is None:
            os.close(fd)
            return
        state = self._state(found.identity, path, found.fmt, found.encoding, found.start)
        self.dirty = True
        self.states[state.key] = state
        self._by_inode[inode] = state
        self._by_path[path] = state
        self._open(state, fd)

    def _state(
        self, identity: FileIdentity, path: str, fmt: str, encoding: str | None, start: tuple[int, int]
    ) -> FileState:
        return FileState(
            identity,
            path,
            log_kind(path),
            fmt,
            encoding,
            committed=start,
            position=start,
            last_change=self.clock(),
            moved=path.lower().endswith(".lo_"),
        )

    def _reopen(self, state: FileState) -> None:
        try:
            fd = open_shared(state.path)
        except OSError as exc:
            self._read_error(state.path, exc)
            return
        self._open(state, fd)

    def _open(self, state: FileState, fd: int) -> None:
        if self._open_count >= self.max_open and not self._make_room(1):
            os.close(fd)  # over the descriptor budget: opened again once idle files were closed
            self._starved.add(state)
            return
        self._starved.discard(state)
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
            self._read_error(state.path, exc)
            return
        except MpwatchError as exc:  # no parser for the stored format: never stall, ship raw lines
            log.warning("%s: %s; shipping its lines as raw records", state.path, exc)
            state.fmt = "raw"
            self._open(state, fd)
            return
        self._open_count += 1
        state.last_change = self.clock()
        self._mark_ready(state)

    def _make_room(self, wanted: int) -> bool:
        """Close up to ``wanted`` (at least an eighth of the budget) idle handles, least recently
        changed first: files read to their end, nothing queued or held, not being drained."""
        idle = [
            s
            for s in self.states.values()
            if s.tailer is not None
            and s.tailer.at_eof
            and not (s.gone or s.outbox or s.tailer.holds_record)
            and s not in self._ready_set
        ]
        idle.sort(key=lambda s: s.last_change)
        for state in idle[: max(wanted, self.max_open // 8)]:
            self._close(state)
        return self._open_count < self.max_open

    def _read_error(self, path: str, exc: OSError) -> None:
        log.warning("cannot read %s: %s", path, exc)
        self.metrics.read_errors.inc()

    def _close(self, state: FileState) -> None:
        tailer = state.tailer
        if tailer is not None:
            state.position = tailer.resume
            state.encoding = tailer.encoding
            tailer.close()
            state.tailer = None
            self._open_count -= 1

    # ------------------------------------------------------------------ timers
    def housekeeping(self) -> None:
        """Apply idle timers (held records, rotated/deleted files, inactive handles)."""
        now = self.clock()
        tail = self.tail
        for state in list(self.states.values()):
            tailer = state.tailer
            if tailer is None:
                if state.gone and not state.outbox:
                    self._forget(state)
                continue
            if not tailer.at_eof:
                continue
            idle = now - state.last_change
            if tailer.holds_record and idle >= tail.multiline_idle_s:
                state.queue(tailer.flush_held(), tailer.resume)
                self._mark_ready(state)
            if (state.moved or state.gone) and idle >= tail.rotate_wait_s:
                if self._size(state) > tailer.read_pos:
                    self._mark_ready(state)
                    continue
                state.queue(tailer.finish(), tailer.resume)
                self._close(state)
                log.info("closed %s (read to its end)", state.path)
                self._mark_ready(state)
            elif idle >= tail.close_inactive_s and not tailer.holds_record and not state.outbox:
                self._close(state)
        if self.identifier.any_due():
            self.scan_requested = True
        if self._starved:
            self._make_room(len(self._starved))
            for state in list(self._starved):
                if self._open_count >= self.max_open:
                    break
                self._starved.discard(state)
                if state.tailer is None and not state.retired and self.states.get(state.key) is state:
                    self._reopen(state)
        self.update_gauges()

    def _size(self, state: FileState) -> int:
        with contextlib.suppress(OSError):
            state.size = os.fstat(state.tailer.fd).st_size if state.tailer else state.size
        return state.size

    def _forget(self, state: FileState) -> None:
        self.dirty = True
        self.states.pop(state.key, None)
        if self._by_inode.get(state.inode) is state:
            del self._by_inode[state.inode]
        if self._by_path.get(state.path) is state:
            del self._by_path[state.path]

    def end_of_run(self) -> None:
        """End of a ``--once`` run: held multi-line records are shipped; rotated files (``.lo_``, never
        appended to again) are finished, partial last line included. Other partial lines still wait."""
        for state in list(self.states.values()):
            tailer = state.tailer
            if tailer is None:
                continue
            if state.moved or state.gone:
                state.queue(tailer.finish(), tailer.resume)
                self._close(state)
            elif tailer.holds_record:
                state.queue(tailer.flush_held(), tailer.resume)
            if state.outbox:
                self._mark_ready(state)

    # ------------------------------------------------------------------ reading into batches
    def _mark_ready(self, state: FileState) -> None:
        if state not in self._ready_set:
            self._ready_set.add(state)
            self._ready.append(state)

    @property
    def has_ready(self) -> bool:
        """Records or reads are waiting (including files waiting for a descriptor)."""
        return bool(self._ready) or bool(self._starved)

    def fill(self, batch: Batch, *, read: bool = True) -> None:
        """Move records into ``batch`` until it is full or nothing is ready; ``read=False`` only drains
        records already read (shutdown)."""
        while self._ready and not batch.full:
            state = self._ready.popleft()
            self._ready_set.discard(state)
            tailer = state.tailer
            if read and not state.outbox and tailer is not None:
                if tailer.at_eof and self._replaced(state, tailer):
                    continue
                self._read(state, tailer)
            self._move(state, batch)
            if state.outbox or (read and tailer is not None and state.tailer is tailer and not tailer.at_eof):
                self._mark_ready(state)
            elif state.retired and not state.outbox:
                self.states.pop(state.key, None)

    def _replaced(self, state: FileState, tailer: FileTailer) -> bool:
        """Before reading on from an earlier end of file: was the file truncated or rewritten meanwhile?
        (Checked on every wake-up, not only at rescans, so a rewrite is never read as a continuation.)"""
        try:
            st = os.fstat(tailer.fd)
        except OSError:
            return False
        if st.st_size == tailer.read_pos or (st.st_size > tailer.read_pos and self._head_matches(state)):
            return False
        self._restart(state, st)
        return True

    def _read(self, state: FileState, tailer: FileTailer) -> None:
        cut_before = tailer.truncated_lines
        try:
            records, count = tailer.read()
        except OSError as exc:
            self._read_error(state.path, exc)
            self._close(state)
            return
        if count:
            state.last_change = self.clock()
            state.size = max(state.size, tailer.read_pos)
        if tailer.truncated_lines != cut_before:
            self.metrics.truncated_lines.inc(tailer.truncated_lines - cut_before)
        state.queue(records, tailer.resume)

    def _move(self, state: FileState, batch: Batch) -> None:
        outbox = state.outbox
        if not outbox:
            return
        encoder = state.encoder
        if encoder is None or encoder.args[2] != state.path:
            encoder = state.encoder = EnvelopeEncoder(
                self.config.host, state.kind, state.path, state.key, self.max_record_bytes
            )
        values = batch.values
        room_records, room_bytes = batch.room()
        count = nbytes = source = fallbacks = 0
        check_raw = state.fmt != "raw"
        while outbox and count < room_records and nbytes < room_bytes:
            record = outbox.popleft()
            data = encoder(record)
            values.append(data)
            count += 1
            nbytes += len(data)
            source += record.size
            if check_raw and record.format == "raw":
                fallbacks += 1
        # resume at the next record still queued, or where the tailer stood after the last one
        resume = (outbox[0].offset, outbox[0].line) if outbox else state.outbox_end
        batch.added(state, state.kind, count, nbytes, source, resume)
        batch.fallbacks += fallbacks

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
        return not self._ready and all(not s.outbox for s in self.states.values())

    def refresh_lag(self) -> None:
        """Re-read file sizes and update the gauges (called while the output is down: nothing else
        runs then, and the lag must keep growing with the files)."""
        for state in self.states.values():
            if state.retired:
                continue
            try:
                state.size = (
                    os.fstat(state.tailer.fd).st_size if state.tailer else os.stat(state.path).st_size
                )
            except OSError:
                continue
        # files that appeared meanwhile are not tracked yet (no scans while waiting): count them too
        untracked: dict[str, int] = {}
        seen: set[Inode] = set()
        for path in self.provider.paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            inode = (st.st_dev, st.st_ino)
            if inode in seen or inode in self._by_inode or inode in self.identifier.waiting:
                continue
            seen.add(inode)
            kind = log_kind(path)
            untracked[kind] = untracked.get(kind, 0) + st.st_size
        self.update_gauges(untracked)

    def update_gauges(self, untracked: dict[str, int] | None = None) -> None:
        lag: dict[str, int] = dict(untracked or {})
        open_files = 0
        for state in self.states.values():
            if state.retired:
                continue
            open_files += state.tailer is not None
            lag[state.kind] = lag.get(state.kind, 0) + state.lag()
        for path, _since, size in self.identifier.waiting.values():
            kind = log_kind(path)
            lag[kind] = lag.get(kind, 0) + size
        for kind in KINDS:  # every series is set, so a caught-up kind shows 0
            self.metrics.lag_bytes.labels(kind).set(lag.get(kind, 0))
        self.metrics.files_watched.set(len(self._by_inode) + len(self.identifier.waiting))
        self.metrics.files_open.set(open_files)

    def close(self) -> None:
        for state in self.states.values():
            self._close(state)

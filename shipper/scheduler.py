"""Per-file read scheduling: which file is read next, and how its records become batch entries.

Files with work (bytes to read or records already read) wait in the ``ReadyQueue``; ``fill`` serves them
round-robin, one chunk per turn, so one busy file can never starve the others, and stops as soon as the
bounded ``Batch`` is full (backpressure: what does not fit stays in the files). Records read from a
tailer go to the file's outbox first and are serialised into the batch only as far as it has room;
the batch remembers, per file, where reading resumes once it is delivered.
"""

from __future__ import annotations

from collections.abc import Callable

from shipper.batch import Batch
from shipper.envelope import EnvelopeEncoder
from shipper.filetable import FileTable, ReadyQueue
from shipper.handles import OpenFiles, read_error
from shipper.metrics import ShipperMetrics
from shipper.state import FileState
from shipper.tailer import FileTailer


class ReadScheduler:
    """Moves records from ready files into batches (see the module docstring)."""

    def __init__(
        self,
        table: FileTable,
        ready: ReadyQueue,
        handles: OpenFiles,
        rewritten: Callable[[FileState, FileTailer], bool],
        metrics: ShipperMetrics,
        clock: Callable[[], float],
        *,
        host: str,
        max_record_bytes: int,
    ) -> None:
        self.table = table
        self.ready = ready
        self.handles = handles
        self.rewritten = rewritten  # truncation check before reading on from an earlier end of file
        self.metrics = metrics
        self.clock = clock
        self.host = host
        self.max_record_bytes = max_record_bytes

    def fill(self, batch: Batch, *, read: bool = True) -> None:
        """Move records into ``batch`` until it is full or nothing is ready; ``read=False`` only drains
        records already read (shutdown)."""
        ready = self.ready
        while ready and not batch.full:
            state = ready.pop()
            tailer = state.tailer
            if read and not state.outbox and tailer is not None:
                if tailer.at_eof and self.rewritten(state, tailer):
                    continue
                self._read(state, tailer)
            self._move(state, batch)
            if state.outbox or (read and tailer is not None and state.tailer is tailer and not tailer.at_eof):
                ready.mark(state)
            elif state.retired and not state.outbox:
                self.table.states.pop(state.key, None)

    def _read(self, state: FileState, tailer: FileTailer) -> None:
        cut_before = tailer.truncated_lines
        try:
            records, count = tailer.read()
        except OSError as exc:
            read_error(self.metrics, state.path, exc)
            self.handles.close(state)
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
                self.host, state.kind, state.path, state.key, self.max_record_bytes
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

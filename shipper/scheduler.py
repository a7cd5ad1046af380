"""Per-file read scheduling: which file is read next, and how its records become batch entries.

Files with work (bytes to read or records already read) wait in the ``ReadyQueue``; ``fill`` serves them
round-robin, one chunk per turn, so one busy file can never starve the others, and stops as soon as the
bounded ``Batch`` is full (backpressure: what does not fit stays in the files). Records read from a
tailer go to the file's outbox first and are framed into the batch only as far as it has room;
the batch remembers, per file, where reading resumes once it is delivered.

What goes into the batch is wire messages (``streams.wire``): the records of one file taken in one
turn become one ``ShippedBatch`` (header once, then offset/size/line/raw text per record), cut where
the file's parser context changed (an IIS ``#Fields`` line) and encoded within the output's message
size limit. The header carries the context in force before the first record, so a consumer parses the
raw text exactly as the framing parser did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from shipper.batch import Batch
from shipper.filetable import FileTable, ReadyQueue
from shipper.handles import OpenFiles, read_error
from shipper.metrics import ShipperMetrics
from shipper.state import FileState
from shipper.tailer import FileTailer
from streams.wire import DEFAULT_LIMIT, FileHeader, Framed, ShippedBatch, encode, with_last_time

_FRAMED_OVERHEAD = 24  # bytes a framed record adds to its raw text in a message (offsets, quotes)


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
        name_of: Callable[[str], str],
    ) -> None:
        self.table = table
        self.ready = ready
        self.handles = handles
        self.rewritten = rewritten  # truncation check before reading on from an earlier end of file
        self.metrics = metrics
        self.clock = clock
        self.host = host
        self.message_limit = min(DEFAULT_LIMIT, max_record_bytes)
        self.name_of = name_of  # path -> display name relative to its watched root

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
        header = state.header
        if header is None or header.path != state.path or header.format != state.fmt:
            encoding = state.tailer.encoding if state.tailer else state.encoding
            header = state.header = FileHeader(
                self.host, state.kind, state.path, self.name_of(state.path), state.key, state.fmt, encoding
            )
        contexts = state.contexts
        room_records, room_bytes = batch.room()
        count = nbytes = source = fallbacks = 0
        check_raw = state.fmt != "raw"
        framed: list[Framed] = []
        piece_last = state.last_time
        piece_context = state.context
        last_time = state.last_time
        values = batch.values
        while outbox and count < room_records and nbytes < room_bytes:
            record = outbox[0]
            if contexts and contexts[0][0] <= record.offset:
                cut = False
                while contexts and contexts[0][0] <= record.offset:
                    _, state.context, split = contexts.popleft()
                    cut = cut or split
                if framed and cut:  # the parser learnt something no record carries: new message
                    nbytes += self._emit(values, header, piece_context, piece_last, framed)
                    framed = []
                if not framed:
                    piece_context, piece_last = state.context, last_time
            outbox.popleft()
            framed.append(Framed(record.offset, record.size, record.line, record.raw, record.truncated))
            count += 1
            nbytes += len(record.raw) + _FRAMED_OVERHEAD
            source += record.size
            if record.time is not None:
                last_time = record.time
            if check_raw and record.format == "raw":
                fallbacks += 1
        if framed:
            nbytes += self._emit(values, header, piece_context, piece_last, framed)
        state.last_time = last_time
        # resume at the next record still queued, or where the tailer stood after the last one
        resume = (outbox[0].offset, outbox[0].line) if outbox else state.outbox_end
        batch.added(state, state.kind, count, nbytes, source, resume)
        batch.fallbacks += fallbacks

    def _emit(
        self,
        values: list[bytes],
        header: FileHeader,
        context: dict[str, Any],
        last_time: datetime | None,
        framed: list[Framed],
    ) -> int:
        """Encode one piece as wire messages; returns the bytes they add beyond the estimate."""
        if context:
            header = replace(header, context=with_last_time(context, last_time))
        messages = encode(ShippedBatch(header, framed), self.message_limit)
        values.extend(messages)
        estimate = sum(len(f.text) + _FRAMED_OVERHEAD for f in framed)
        return sum(len(m) for m in messages) - estimate

"""Per-file read scheduling: which file is read next, and how its records become batch entries.

Files with work (bytes to read or records already read) wait in the ``ReadyQueue``; ``fill`` serves them
round-robin, one chunk per turn, so one busy file can never starve the others, and stops as soon as the
bounded ``Batch`` is full (backpressure: what does not fit stays in the files). Records read from a
tailer go to the file's outbox first and are framed into the batch only as far as it has room;
the batch remembers, per file, where reading resumes once it is delivered.

What goes into the batch is wire messages (``streams.wire``): the records of one file taken in one
turn become one ``ShippedBatch`` (header once, then offset/size/line/raw text per record, or a record
block for a run of single-line records: the tailer's ``Block`` items are carried whole, and cut at a
line boundary only where the batch's room ends), cut where the file's parser context changed (an IIS
``#Fields`` line) and encoded within the output's message size limit. The header carries the context
in force before the first record, so a consumer parses the raw text exactly as the framing parser did.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shipper.batch import Batch
from shipper.filetable import FileTable, ReadyQueue
from shipper.handles import OpenFiles, read_error
from shipper.metrics import ShipperMetrics
from shipper.state import FileState
from shipper.tailer import FileTailer
from streams.formats.record import Block, expand
from streams.wire import DEFAULT_LIMIT, WIRE_VERSION, FileHeader, Framed, ShippedBatch, encode_items

log = logging.getLogger("mpwatch.shipper")

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
        in_process: bool = False,
        name_of: Callable[[str], str],
        wire_version: str = WIRE_VERSION,
    ) -> None:
        self.table = table
        self.ready = ready
        self.handles = handles
        self.rewritten = rewritten  # truncation check before reading on from an earlier end of file
        self.metrics = metrics
        self.clock = clock
        self.host = host
        self.message_limit = min(DEFAULT_LIMIT, max_record_bytes)
        self.in_process = in_process  # hand over ShippedBatch objects, not their encoded bytes
        self.name_of = name_of  # path -> display name relative to its watched root
        self.wire_version = wire_version  # "1.0": rows only, for consumers not yet reading 2.0

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
        switches_before = len(tailer.decoder.switches)
        raw_before = tailer.parser.raw_lines
        try:
            records, count = tailer.read_items()
        except OSError as exc:
            read_error(self.metrics, state.path, exc)
            self.handles.close(state)
            return
        if count:
            state.last_change = self.clock()
            state.size = max(state.size, tailer.read_pos)
        for at, old, new in tailer.decoder.switches[switches_before:]:
            self.metrics.encoding_switches.inc()
            log.warning(
                "%s: encoding changes at byte %d from %s to %s; reading on in %s",
                state.path,
                at,
                old,
                new,
                new,
            )
        if tailer.truncated_lines != cut_before:
            self.metrics.truncated_lines.inc(tailer.truncated_lines - cut_before)
        if tailer.parser.raw_lines != raw_before and state.fmt != "raw":
            self.metrics.parse_fallbacks.inc(tailer.parser.raw_lines - raw_before)
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
        count = nbytes = source = 0
        values = batch.values
        while outbox and count < room_records and nbytes < room_bytes:
            # one piece: records up to the next context change that cuts (IIS directives), or the room
            if contexts and contexts[0][0] <= outbox[0].offset:
                offset = outbox[0].offset
                while contexts and contexts[0][0] <= offset:
                    state.context = contexts.popleft()[1]
            stop_at = next((c[0] for c in contexts if c[2]), None) if contexts else None
            room = (room_records - count, room_bytes - nbytes)
            piece, records, texts, spans = self._take(outbox, *room, stop_at)
            count += records
            source += spans
            nbytes += texts + _FRAMED_OVERHEAD * records
            nbytes += self._emit(values, header, state.context, piece, texts, records)
        # resume at the next record still queued, or where the tailer stood after the last one
        resume = (outbox[0].offset, outbox[0].line) if outbox else state.outbox_end
        batch.added(state, state.kind, count, nbytes, source, resume)

    @staticmethod
    def _take(
        outbox: deque[Framed | Block], max_records: int, max_bytes: int, stop_at: int | None
    ) -> tuple[list[Framed | Block], int, int, int]:
        """Items from the outbox's head while there is room and before ``stop_at``: (items, records, text
        bytes, source bytes). At least one record is taken; a block is cut at a line boundary where the
        room (or ``stop_at``) ends."""
        piece: list[Framed | Block] = []
        append, popleft = piece.append, outbox.popleft
        records = texts = spans = 0
        while outbox and records < max_records and texts + _FRAMED_OVERHEAD * records < max_bytes:
            head = outbox[0]
            if stop_at is not None and piece and head.offset >= stop_at:
                break
            if isinstance(head, Block):
                room = max_bytes - texts - _FRAMED_OVERHEAD * records  # estimated like records
                length = len(head.text)
                chars = room * length // (length + _FRAMED_OVERHEAD * head.count)
                if stop_at is not None and head.offset < stop_at < head.end:
                    chars = min(chars, (stop_at - head.offset) // head.unit)
                if head.count > max_records - records or len(head.text) > chars:
                    head, rest = head.cut(chars, max_records - records)
                    if rest is not None:
                        outbox[0] = rest
                    else:
                        popleft()
                else:
                    popleft()
                append(head)
                records += head.count
                texts += len(head.text)
                spans += head.size
                continue
            popleft()
            append(head)
            records += 1
            texts += len(head.text)
            spans += head.size
        return piece, records, texts, spans

    def _emit(
        self,
        values: list[Any],
        header: FileHeader,
        context: dict[str, Any],
        piece: list[Framed | Block],
        texts: int,
        records: int,
    ) -> int:
        """Encode one piece as wire messages; returns the bytes they add beyond the estimate."""
        if context:
            header = replace(header, context=context)
        if self.in_process:
            values.append(ShippedBatch(header, expand(piece)))
            return 0
        messages = encode_items(header, piece, self.message_limit, self.wire_version)
        values.extend(messages)
        return sum(len(m) for m in messages) - texts - _FRAMED_OVERHEAD * records

"""Reading one open file into framed records.

``FileTailer`` owns one file descriptor, a ``LineDecoder`` (bytes -> complete lines, byte offsets, BOM
and UTF-16 handling, lines cut at ``max_line_bytes``) and one format ``Parser`` used as a framer
(``Parser.frame_lines``: lines -> ``Framed`` records, multi-line records held until complete, without
parsing them for use: that happens on the consumer). Every read returns the records it completed, and
``resume`` is the position a restart must resume from once those records (and everything before them)
are delivered; within a read, the resume point after a record is the start of the next one:

* normally the end of the last line the parser consumed;
* while the parser holds the start of a multi-line record, ``parser.pending_offset()``, so the held
  lines are read again after a restart and the record is never shipped cut in two;
* a partial last line (no terminator yet) is kept inside the decoder and never shipped: it waits for its
  newline. Only ``finish`` (the writer is done with the file: rotated or deleted) emits it.

``flush_held`` ships a held multi-line record after the file stayed idle (the registry decides when);
that only empties the parser, never the decoder's partial line.

The hot path (``read_items``) never makes an object per line: the decoder gives runs of fast-path lines
as one ``Block`` (``LineDecoder.feed_blocks``) and the parser frames a block where every line is a
complete record with one whole-block test (``Parser.frame_items``), so such a run of records stays one
``Block`` up to the wire (``streams.wire``); only the other lines go through ``Line`` and the per-line
rule. ``read`` gives the same records as ``Framed`` objects (``Block.framed``).

Reads are plain ``os.read`` calls of at most ``read_chunk_bytes`` on the event-loop thread: local log
files are in the page cache and a 64 KiB read costs microseconds, far less than handing it to a thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shipper.winfile import pread
from streams.formats.base import Parser
from streams.formats.decode import LineDecoder
from streams.formats.record import Block, Framed, Line, expand
from streams.wire import CONTEXT_FORMATS, ContextChange, ContextTracker

#: Formats whose parser needs what came before the resume offset: IIS its ``#Fields`` header lines, MSI
#: its banner date, date order, clock and the time clock-less lines inherit (the whole prefix is parsed
#: again on resume; MSI logs are small).
PRIMED_FORMATS = frozenset({"iis", "msi"})
DETECT_BYTES = 64 * 1024


def make_parser(fmt: str, path: str) -> Parser:
    from streams.formats.api import make_parser as _make

    return _make(fmt, path)


def detect(
    fd: int, path: str, *, encoding: str | None, fmt: str, max_line_bytes: int
) -> tuple[str, str | None]:
    """(format, encoding) of a file from its first lines; ``fmt`` other than "auto" is kept as given."""
    head = pread(fd, DETECT_BYTES, 0)
    decoder = LineDecoder(encoding=encoding, max_line_bytes=max_line_bytes)
    lines = decoder.feed(head)
    if not lines:
        lines = decoder.flush()
    if fmt == "auto":
        from streams.formats.api import detect_format

        fmt = detect_format([line.text for line in lines], path)
    return fmt, decoder.initial_encoding  # reading starts at byte 0, in the file's first encoding


class FileTailer:
    """One open file: read chunks, frame records, remember where to resume."""

    def __init__(
        self,
        fd: int,
        path: str,
        *,
        fmt: str,
        encoding: str | None,
        offset: int = 0,
        line: int = 1,
        max_line_bytes: int = 1 << 20,
        chunk_bytes: int = 64 * 1024,
    ) -> None:
        self.fd = fd
        self.path = path
        self.fmt = fmt
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self._encoding = encoding
        self.decoder = LineDecoder(
            encoding=encoding, start_offset=offset, start_line=line, max_line_bytes=max_line_bytes
        )
        self.parser = make_parser(fmt, path)
        self.read_pos = offset  # bytes consumed from the file (including a partial line in the decoder)
        self.resume = (offset, line)  # restart point once every record returned so far is delivered
        self.at_eof = False
        self.truncated_lines = 0
        last_time = self._prime(offset) if offset > 0 and fmt in PRIMED_FORMATS else None
        # formats whose parser state crosses records: note its changes for the batches' headers
        self.tracker = ContextTracker(self.parser, offset, last_time) if fmt in CONTEXT_FORMATS else None
        os.lseek(fd, offset, os.SEEK_SET)

    @property
    def encoding(self) -> str | None:
        return self.decoder.encoding or self._encoding

    @property
    def holds_record(self) -> bool:
        """True while the parser holds lines of an unfinished (multi-line) record."""
        return self.parser.pending_offset() is not None

    @property
    def partial_bytes(self) -> int:
        """Bytes of an unterminated last line waiting in the decoder."""
        return self.decoder.pending_bytes

    def take_contexts(self) -> list[ContextChange]:
        """Parser context changes noted since the last call (``streams.wire.ContextTracker``)."""
        return self.tracker.take() if self.tracker is not None else []

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self) -> tuple[list[Framed], int]:
        """Read at most one chunk; returns the records it completed and the bytes read (0 at EOF)."""
        items, count = self.read_items()
        return expand(items), count

    def read_items(self) -> tuple[list[Framed | Block], int]:
        """``read``, with runs of single-line records left as ``Block`` items (the shipper's hot path)."""
        data = os.read(self.fd, self.chunk_bytes)
        self.at_eof = len(data) < self.chunk_bytes
        count = len(data)
        if not count:
            return [], 0
        self.read_pos += count
        # chunks may cut a UTF-16 code unit (even a CR-LF pair) in half: the decoder holds the odd byte
        return self._frame_items(self.decoder.feed_blocks(data)), count

    def complete_cr_line(self) -> list[Framed]:
        """End of a ``--once`` run: a last line ended by a bare CR is complete (no LF will be waited
        for); it is framed like any line. A line with no terminator at all still waits."""
        return self._frame(self.decoder.take_cr_line())

    def flush_held(self) -> list[Framed]:
        """Emit a held multi-line record (the file stayed idle); a partial line still waits."""
        records = self.parser.flush_framed()
        self.resume = (self.decoder.offset, self.decoder.line_number)
        return records

    def finish(self) -> list[Framed]:
        """The writer is done (file rotated away or deleted): emit everything, partial line included."""
        out = self._frame(self.decoder.flush())
        out.extend(self.flush_held())
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # ------------------------------------------------------------------ framing
    def _frame(self, lines: list[Line]) -> list[Framed]:
        return expand(self._frame_items(list(lines)))

    def _frame_items(self, items: list[Line | Block]) -> list[Framed | Block]:
        """Frame complete lines (and blocks of them) into records; move ``resume`` past them, or back to
        the first line still held."""
        if not items:
            return []
        tracker = self.tracker
        records = tracker.frame_items(items) if tracker is not None else self.parser.frame_items(items)
        self.truncated_lines += sum(1 for item in items if isinstance(item, Line) and item.truncated)
        pending = self.parser.pending_offset()
        if pending is None:
            self.resume = (self.decoder.offset, self.decoder.line_number)  # past the last line fed
        elif pending != self.resume[0]:
            number = _line_at(items, pending)
            # the held record's first line is in this chunk; if not, the parser names an offset it was
            # never fed: trust it, keep the oldest line number known
            self.resume = (pending, number if number is not None else _first_line(items))
        return records

    def _prime(self, offset: int) -> datetime | None:
        """Feed what came before ``offset`` to the parser, shipping nothing: IIS header lines (column
        names), every MSI line (banner date, clock). Returns the latest record time seen (MSI)."""
        decoder = LineDecoder(encoding=self._encoding, max_line_bytes=self.max_line_bytes)
        every_line = self.fmt != "iis"
        last: datetime | None = None
        position = 0
        while position < offset:
            data = pread(self.fd, min(self.chunk_bytes, offset - position), position)
            if not data:
                break
            position += len(data)
            for line in decoder.feed(data):
                if every_line or line.text.startswith("#"):
                    last = _latest(self.parser.feed(line), last)
        last = _latest(self.parser.flush(), last)
        return last


def _line_at(items: list[Line | Block], offset: int) -> int | None:
    """Number of the line starting at byte ``offset`` among the items, None when none starts there."""
    for item in reversed(items):
        if isinstance(item, Block):
            if item.offset <= offset < item.end:
                return item.line_at(offset)
        elif item.offset == offset:
            return item.number
    return None


def _first_line(items: list[Line | Block]) -> int:
    first = items[0]
    return first.line if isinstance(first, Block) else first.number


def _latest(records: Iterable[Any], last: datetime | None) -> datetime | None:
    for record in records:
        if record.time is not None:
            last = record.time
    return last

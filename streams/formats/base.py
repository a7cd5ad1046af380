"""The incremental parser contract every format implements.

A parser receives decoded physical lines in file order and emits complete records. Records that can
span lines (SMS continuation lines, CMTrace multi-line messages, MPSetup wrapped lines) are held until
they are known to be complete; ``flush`` emits whatever is still held (end of file, or a tailer that
decided a partial record has waited long enough). ``pending_offset`` tells a tailer where a restart must
resume so that no held line is lost: the byte offset of the oldest line not yet emitted in a record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

from streams.formats.record import Framed, Line, Record


def framed(records: list[Record]) -> list[Framed]:
    """Records reduced to what a shipper sends (their span and raw text)."""
    return [Framed(r.offset, r.size, r.line, r.raw, r.truncated) for r in records]


class Parser(ABC):
    """Turns physical lines of one file into records. One instance per file; not thread-safe."""

    name: str = ""

    def __init__(self, file: str = "") -> None:
        self.file = file
        # Line accounting, so callers can prove no byte was lost (see streams.formats.api.ParseStats):
        self.raw_lines = 0  # physical lines emitted as format 'raw' records (not understood)
        self.blank_lines = 0  # whitespace-only lines outside any record: no record, bytes counted below
        self.directive_lines = 0  # lines that configure the parser (IIS '#Fields:' ...): no record
        self.skipped_bytes = 0  # bytes of those blank and directive lines
        # Lean mode (set by callers that only correlate: ``mpwatch diagnose``): a format may fold runs of
        # records no rule can match into one ``record.RUN`` record each (times and counts kept, fields
        # dropped). ``folded`` counts the records folded away, so record counts stay those of full mode.
        self.lean = False
        self.folded = 0

    def feed_lines(self, lines: Iterable[Line]) -> list[Record]:
        """Consume many lines at once (same result as calling ``feed`` on each; parsers may do it faster)."""
        out: list[Record] = []
        for line in lines:
            out.extend(self.feed(line))
        return out

    def frame_lines(self, lines: Iterable[Line]) -> list[Framed]:
        """Delimit records without parsing them for use (the shipper's hot path): exactly the spans and
        raw texts ``feed_lines`` would give. Formats override it with a cheaper end-of-record test."""
        return framed(self.feed_lines(lines))

    def flush_framed(self) -> list[Framed]:
        """``flush`` for a framer."""
        return framed(self.flush())

    @abstractmethod
    def feed(self, line: Line) -> list[Record]:
        """Consume one physical line; return the records it completed (often zero or one)."""

    @abstractmethod
    def flush(self) -> list[Record]:
        """Emit every record still held (end of input)."""

    @abstractmethod
    def pending_offset(self) -> int | None:
        """Byte offset of the first line held but not yet emitted, or None when nothing is held."""

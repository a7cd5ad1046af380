"""The incremental parser contract every format implements.

A parser receives decoded physical lines in file order and emits complete records. Records that can
span lines (SMS continuation lines, CMTrace multi-line messages, MPSetup wrapped lines) are held until
they are known to be complete; ``flush`` emits whatever is still held (end of file, or a tailer that
decided a partial record has waited long enough). ``pending_offset`` tells a tailer where a restart must
resume so that no held line is lost: the byte offset of the oldest line not yet emitted in a record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from streams.formats.record import Line, Record


class Parser(ABC):
    """Turns physical lines of one file into records. One instance per file; not thread-safe."""

    name: str = ""

    def __init__(self, file: str = "") -> None:
        self.file = file

    @abstractmethod
    def feed(self, line: Line) -> list[Record]:
        """Consume one physical line; return the records it completed (often zero or one)."""

    @abstractmethod
    def flush(self) -> list[Record]:
        """Emit every record still held (end of input)."""

    @abstractmethod
    def pending_offset(self) -> int | None:
        """Byte offset of the first line held but not yet emitted, or None when nothing is held."""

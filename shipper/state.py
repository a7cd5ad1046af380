"""What the shipper knows about one identified file (its ``FileRegistry`` entry)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from shipper.checkpoint import CheckpointEntry
from shipper.identity import FileIdentity
from shipper.tailer import FileTailer
from streams.formats.record import Block, Framed
from streams.wire import ContextChange, FileHeader

Inode = tuple[int, int]


@dataclass(eq=False)
class FileState:
    """One identified file and everything known about reading it."""

    identity: FileIdentity
    path: str
    kind: str
    fmt: str
    encoding: str | None
    committed: tuple[int, int]  # confirmed by the output: (offset, line)
    size: int = 0
    stamp: tuple[int, int] = (-1, -1)  # (size, mtime_ns) at the last scan
    tailer: FileTailer | None = None
    position: tuple[int, int] = (0, 1)  # resume point while no tailer is open
    outbox: deque[Framed | Block] = field(default_factory=deque)  # framed (Block: a run), not yet batched
    outbox_end: tuple[int, int] = (0, 1)  # resume point after the last queued record
    last_change: float = 0.0
    moved: bool = False  # renamed (rotated): the writer no longer appends to it
    gone: bool = False  # no longer listed: deleted or moved out of the patterns
    retired: bool = False  # replaced by a new identity after truncation
    updated: str = ""  # when ``committed`` last moved (ISO 8601; "" = not stamped yet)
    header: FileHeader | None = None  # the wire header of this file's batches (rebuilt when path changes)
    contexts: deque[ContextChange] = field(default_factory=deque)  # parser context changes not yet passed
    context: dict[str, Any] = field(default_factory=dict)  # parser context before the next queued record

    key: str = ""  # identity.key, computed once

    def __post_init__(self) -> None:
        self.key = self.identity.key

    def queue(self, records: list[Framed] | list[Framed | Block], resume: tuple[int, int]) -> None:
        """Records read from the tailer, and where it stood after them."""
        if self.tailer is not None:
            self.contexts.extend(self.tailer.take_contexts())
        self.outbox.extend(records)
        self.outbox_end = resume

    @property
    def inode(self) -> Inode:
        return (self.identity.device, self.identity.inode)

    def read_offset(self) -> int:
        return self.tailer.read_pos if self.tailer else self.position[0]

    def checkpoint_entry(self, stamp: str) -> CheckpointEntry:
        """The confirmed position as a checkpoint entry (stamped when it last moved)."""
        if not self.updated:
            self.updated = stamp
        offset, line = self.committed
        encoding = self.tailer.encoding if self.tailer else self.encoding
        return CheckpointEntry(self.identity, offset, line, self.path, encoding, self.fmt, self.updated)

    def lag(self) -> int:
        """Bytes behind: last seen size minus the confirmed offset."""
        return max(0, self.size - self.committed[0])

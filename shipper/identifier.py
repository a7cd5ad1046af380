"""Deciding which file an open descriptor is: a checkpointed file to resume, or a new one to start.

``Identifier`` holds the checkpoint entries not yet matched to a file, the keys already handed out (a
new identity never reuses one, so record ids never repeat), and the files still too short to
fingerprint (see ``identity``). It reads at most the first ``FINGERPRINT_MAX`` bytes plus, for a new
file, the first 64 KiB to detect its format and encoding.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from shipper.checkpoint import CheckpointEntry
from shipper.config import TailSettings
from shipper.identity import FINGERPRINT_MAX, FileIdentity, fingerprint_length
from shipper.metrics import ShipperMetrics
from shipper.tailer import detect
from shipper.winfile import pread

log = logging.getLogger("mpwatch.shipper")
Inode = tuple[int, int]


@dataclass(slots=True)
class Identified:
    """What is known about a file once identified: who it is and where reading starts."""

    identity: FileIdentity
    fmt: str
    encoding: str | None
    start: tuple[int, int]  # (offset, line)


class Identifier:
    """Matches descriptors to checkpoint entries or gives them new, never-reused identities."""

    def __init__(
        self,
        saved: dict[str, CheckpointEntry],
        tail: TailSettings,
        metrics: ShipperMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.tail = tail
        self.metrics = metrics
        self.clock = clock
        self._saved: dict[Inode, list[CheckpointEntry]] = {}
        for entry in saved.values():
            self._saved.setdefault((entry.identity.device, entry.identity.inode), []).append(entry)
        self.reserved: set[str] = set(saved)  # every key handed out or checkpointed
        self.waiting: dict[Inode, tuple[str, float, int]] = {}  # too short: (path, since, size)

    def identify(self, fd: int, path: str, inode: Inode, force: bool) -> Identified | None:
        """Who ``fd`` (opened from ``path``) is; None while it is too short to tell (or was replaced)."""
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) != inode:
            return None  # replaced between stat and open: the next scan sees the new file
        head = pread(fd, FINGERPRINT_MAX, 0)
        for entry in self._saved.pop(inode, []):
            if entry.identity.matches(head) and fst.st_size >= entry.offset:
                log.debug("%s resumes at offset %d", path, entry.offset)
                self.waiting.pop(inode, None)
                return Identified(entry.identity, entry.format, entry.encoding, (entry.offset, entry.line))
            if entry.identity.matches(head):
                log.warning("%s shrank below its checkpoint while stopped; reading it from the start", path)
                self.metrics.truncations.inc()
        length = fingerprint_length(head)
        if length is None:
            if not force and not self._due(inode, path, fst.st_size):
                return None
            length = len(head)
        self.waiting.pop(inode, None)
        identity = FileIdentity.from_head(inode[0], inode[1], head, length)
        n = 1
        while identity.key in self.reserved:
            identity = identity.with_suffix(f"~{n}")
            n += 1
        self.reserved.add(identity.key)
        tail = self.tail
        fmt, encoding = detect(
            fd, path, encoding=tail.encoding or None, fmt=tail.format, max_line_bytes=tail.max_line_bytes
        )
        log.info("tracking %s (format %s, encoding %s, id %s)", path, fmt, encoding, identity.key)
        return Identified(identity, fmt, encoding, (0, 1))

    def _due(self, inode: Inode, path: str, size: int) -> bool:
        """A short file is identified once it stayed unchanged for ``identify_wait_s``."""
        now = self.clock()
        previous = self.waiting.get(inode)
        if previous is None or previous[2] != size:
            self.waiting[inode] = (path, now, size)
            return self.tail.identify_wait_s == 0
        return now - previous[1] >= self.tail.identify_wait_s

    def keep_waiting(self, present: set[Inode]) -> None:
        """Forget short files that disappeared."""
        for inode in [i for i in self.waiting if i not in present]:
            del self.waiting[inode]

    def any_due(self) -> bool:
        now = self.clock()
        return any(now - since >= self.tail.identify_wait_s for _p, since, _s in self.waiting.values())

    def drop_unmatched(self) -> None:
        """After the first scan: entries of files that no longer exist (their keys stay reserved)."""
        self._saved.clear()

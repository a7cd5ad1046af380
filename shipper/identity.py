"""File identity: which physical file this is, whatever its name is now.

A path is not an identity: SMS renames ``X.log`` to ``X.lo_`` and starts a new ``X.log``; IIS opens a new
file every day; a deleted file's inode number is handed to the next file created. The identity used here
combines:

* the **device and inode** (on Windows: volume serial number and file index), from ``fstat``; and
* a **fingerprint** of the file's first bytes, which tells a reused inode from the file that had it.

The fingerprint must look past lines every file shares: every IIS file starts with the same ``#Software``
and ``#Version`` lines, so it covers the first ``FINGERPRINT_LINES`` (4) lines, which include the IIS
``#Date`` and ``#Fields`` lines and, for SMS logs, timestamped records; capped at ``FINGERPRINT_MAX``
bytes. The covered length is a deterministic function of the content (4 newlines, or the cap), so the same
file gets the same identity in every run even when it is first seen half-written. A file shorter than that
is identified once it has stayed unchanged for ``identify_wait_s`` (or at once in ``--once`` runs) with
whatever it holds; the covered length is stored in the checkpoint and later runs check exactly those bytes.

The identity key (``dev-ino-fingerprint``) goes into every record id, so consumers drop duplicates exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FINGERPRINT_LINES = 4
FINGERPRINT_MAX = 4096


def fingerprint_length(head: bytes) -> int | None:
    """How many leading bytes the fingerprint covers, or None while the file is too short to decide.

    ``head`` is the file's first ``FINGERPRINT_MAX`` bytes (or fewer when the file is shorter).
    """
    end = 0
    for _ in range(FINGERPRINT_LINES):
        pos = head.find(b"\n", end)
        if pos < 0:
            return FINGERPRINT_MAX if len(head) >= FINGERPRINT_MAX else None
        end = pos + 1
    return min(end, FINGERPRINT_MAX)


def digest(data: bytes) -> str:
    """Hex digest used for fingerprints (BLAKE2b, 8 bytes: collisions need identical inodes as well)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Device, inode and the fingerprint of the first ``fp_length`` bytes; ``key`` names it in ids."""

    device: int
    inode: int
    fp_length: int
    fp_digest: str
    suffix: str = ""

    @classmethod
    def from_head(cls, device: int, inode: int, head: bytes, length: int) -> FileIdentity:
        """Identity of a file whose first bytes are ``head`` (fingerprint over ``head[:length]``)."""
        return cls(device, inode, length, digest(head[:length]))

    @property
    def key(self) -> str:
        base = f"{self.device:x}-{self.inode:x}-{self.fp_digest}"
        return base + self.suffix

    def with_suffix(self, suffix: str) -> FileIdentity:
        """The same file under a distinct key (used when a truncated file restarts with the same head)."""
        return FileIdentity(self.device, self.inode, self.fp_length, self.fp_digest, suffix)

    def same_inode(self, device: int, inode: int) -> bool:
        return self.device == device and self.inode == inode

    def matches(self, head: bytes) -> bool:
        """True when ``head`` (a file's first bytes) starts with the bytes this identity fingerprinted."""
        return len(head) >= self.fp_length and digest(head[: self.fp_length]) == self.fp_digest

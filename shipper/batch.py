"""One in-flight batch: serialised envelopes plus, per file, where reading resumes once it is delivered.

The batch is the shipper's only read-ahead. Its bounds (``batch.max_records`` / ``batch.max_bytes``) are
what keeps memory flat while the output is down: the pipeline does not read again until this batch is
accepted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class Batch:
    """Envelopes to send and the checkpoint marks they move when delivered."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.values: list[bytes] = []
        self.nbytes = 0
        #: file state -> (offset, line) to resume from once this batch is delivered
        self.marks: dict[Any, tuple[int, int]] = {}
        self.records_by_kind: Counter[str] = Counter()
        self.source_bytes_by_kind: Counter[str] = Counter()
        self.fallbacks = 0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def full(self) -> bool:
        return len(self.values) >= self.max_records or self.nbytes >= self.max_bytes

    def add(self, owner: Any, kind: str, value: bytes, source_bytes: int, resume: tuple[int, int]) -> None:
        self.values.append(value)
        self.nbytes += len(value)
        self.marks[owner] = resume
        self.records_by_kind[kind] += 1
        self.source_bytes_by_kind[kind] += source_bytes

    def room(self) -> tuple[int, int]:
        """(records, bytes) that still fit."""
        return self.max_records - len(self.values), self.max_bytes - self.nbytes

    def added(
        self, owner: Any, kind: str, count: int, nbytes: int, source_bytes: int, resume: tuple[int, int]
    ) -> None:
        """Account for ``count`` values appended to ``values`` directly (the hot path)."""
        self.nbytes += nbytes
        self.marks[owner] = resume
        self.records_by_kind[kind] += count
        self.source_bytes_by_kind[kind] += source_bytes

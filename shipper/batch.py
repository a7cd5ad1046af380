"""One in-flight batch: wire messages (``streams.wire``, each holding records of one file) plus, per
file, where reading resumes once it is delivered.

The batch is the shipper's only read-ahead. Its bounds (``batch.max_records`` / ``batch.max_bytes``) are
what keeps memory flat while the output is down: the pipeline does not read again until this batch is
accepted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class Batch:
    """Messages to send, the records they hold, and the checkpoint marks they move when delivered."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        #: encoded wire messages, or the ``ShippedBatch`` objects themselves for an in-process output
        #: (``Output.in_process``: the embedded ``mpwatch run`` skips the encode/decode round trip)
        self.values: list[Any] = []
        self.records = 0  # records inside them
        self.nbytes = 0
        #: file state -> (offset, line) to resume from once this batch is delivered
        self.marks: dict[Any, tuple[int, int]] = {}
        self.records_by_kind: Counter[str] = Counter()
        self.source_bytes_by_kind: Counter[str] = Counter()

    def __len__(self) -> int:
        """Records in the batch (not messages)."""
        return self.records

    @property
    def full(self) -> bool:
        return self.records >= self.max_records or self.nbytes >= self.max_bytes

    def room(self) -> tuple[int, int]:
        """(records, bytes) that still fit."""
        return self.max_records - self.records, self.max_bytes - self.nbytes

    def added(
        self, owner: Any, kind: str, count: int, nbytes: int, source_bytes: int, resume: tuple[int, int]
    ) -> None:
        """Account for ``count`` records (in messages of ``nbytes``) appended to ``values`` directly."""
        self.records += count
        self.nbytes += nbytes
        self.marks[owner] = resume
        self.records_by_kind[kind] += count
        self.source_bytes_by_kind[kind] += source_bytes

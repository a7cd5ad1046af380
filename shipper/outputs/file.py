"""``file:///PATH.jsonl``: one wire message per line (``streams.wire``), appended, flushed and fsynced before
``send`` returns.

Meant for debugging and tests. The write and fsync run in a worker thread so the event loop (and the
watcher hints it receives) never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Sequence
from typing import BinaryIO

from shipper.errors import OutputError
from shipper.outputs.base import Output

_PERMANENT = frozenset({errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT})


class FileOutput(Output):
    """Appends wire messages to a file, one per line."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._handle: BinaryIO | None = None

    def describe(self) -> str:
        return f"file://{self.path}"

    async def start(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> BinaryIO:
        if self._handle is None:
            try:
                folder = os.path.dirname(self.path)
                os.makedirs(folder, exist_ok=True)
                handle = open(self.path, "ab")  # noqa: SIM115 - kept open across batches
                if handle.tell() > 0 and not _ends_with_newline(self.path):
                    handle.write(b"\n")  # a failed earlier write left a partial line: never glue onto it
                self._handle = handle
            except OSError as exc:
                # a folder, a read-only place or one where files cannot be created: no retry fixes it
                permanent = exc.errno in _PERMANENT
                raise OutputError(
                    f"{self.describe()}: cannot open: {exc}", reason="io", permanent=permanent
                ) from exc
        return self._handle

    def _write(self, batch: Sequence[bytes]) -> None:
        handle = self._open()
        try:
            handle.write(b"\n".join(batch) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            # the file may now end with part of this batch: drop the handle so the next attempt reopens
            # (and starts on a fresh line); the partial line is garbage a reader must skip
            self._handle = None
            with contextlib.suppress(OSError):
                handle.close()
            raise OutputError(f"{self.describe()}: write failed: {exc}", reason="io") from exc

    async def send(self, batch: Sequence[bytes]) -> None:
        if batch:
            await asyncio.to_thread(self._write, batch)

    async def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            await asyncio.to_thread(handle.close)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"

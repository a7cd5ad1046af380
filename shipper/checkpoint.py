"""Durable read positions, keyed by file identity, written atomically.

File layout (JSON)::

    {"version": 1,
     "files": {"<identity key>": {"offset": 1234, "line": 57, "path": "...", "encoding": "utf-8",
                                  "format": "sms", "updated": "2024-01-01T00:00:00Z",
                                  "device": 2049, "inode": 1234567, "fp_length": 310, "fp_digest": "..."}}}

``offset`` / ``line`` is where reading resumes: every record before it was confirmed by the output. A
checkpoint is only written after the output confirmed delivery, so a crash can repeat records but never
skip them. Writes are atomic: a temporary file in the same folder, fsync, ``os.replace`` over the old file,
then fsync of the folder so the rename itself survives a power cut. A reader sees the old or the new file,
never a mix.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import orjson

from shipper.errors import CheckpointError
from shipper.identity import FileIdentity

VERSION = 1
FILE_NAME = "checkpoint.json"
_TMP_PREFIX = ".checkpoint-"


@dataclass(slots=True)
class CheckpointEntry:
    """The confirmed position in one file."""

    identity: FileIdentity
    offset: int
    line: int
    path: str
    encoding: str | None
    format: str
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "offset": self.offset,
            "line": self.line,
            "path": self.path,
            "encoding": self.encoding,
            "format": self.format,
            "updated": self.updated,
            "device": ident.device,
            "inode": ident.inode,
            "fp_length": ident.fp_length,
            "fp_digest": ident.fp_digest,
            "suffix": ident.suffix,
        }

    @classmethod
    def from_json(cls, key: str, data: Any) -> CheckpointEntry:
        try:
            identity = FileIdentity(
                int(data["device"]),
                int(data["inode"]),
                int(data["fp_length"]),
                str(data["fp_digest"]),
                str(data.get("suffix", "")),
            )
            entry = cls(
                identity,
                int(data["offset"]),
                int(data["line"]),
                str(data["path"]),
                data.get("encoding"),
                str(data["format"]),
                str(data.get("updated", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint entry {key!r} is malformed: {exc!r}{_REMEDY}") from exc
        if identity.key != key:
            raise CheckpointError(
                f"checkpoint entry {key!r} does not match its identity {identity.key!r}{_REMEDY}"
            )
        if entry.offset < 0 or entry.line < 1 or identity.fp_length < 0:
            raise CheckpointError(
                f"checkpoint entry {key!r} has an impossible position (offset {entry.offset}, line "
                f"{entry.line}){_REMEDY}"
            )
        return entry


_REMEDY = (
    "; the checkpoint is corrupt: fix the entry, or move the file away to start over (which re-ships "
    "every file; consumers drop the duplicates by record id)"
)


class Checkpointer:
    """Loads and atomically saves the checkpoint file in ``state_dir``."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, FILE_NAME)
        self.writes = 0
        self._last: bytes | None = None

    def load(self) -> dict[str, CheckpointEntry]:
        """Entries by identity key; an empty dict when no checkpoint exists yet."""
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            self._remove_stale_temps()
        except OSError as exc:  # e.g. the state folder is a file, or not writable
            raise CheckpointError(f"cannot use state folder {self.state_dir}: {exc.strerror or exc}") from exc
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint {self.path}: {exc}") from exc
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CheckpointError(f"checkpoint {self.path} is not valid JSON: {exc}{_REMEDY}") from exc
        if not isinstance(data, dict) or "version" not in data:
            raise CheckpointError(f"checkpoint {self.path} has no 'version' field{_REMEDY}")
        if data["version"] != VERSION:
            raise CheckpointError(
                f"checkpoint {self.path} has version {data['version']!r}; this mpwatch reads version "
                f"{VERSION} only (move the file away to start over, which re-ships every file)"
            )
        files = data.get("files")
        if not isinstance(files, dict):
            raise CheckpointError(f"checkpoint {self.path}: 'files' must be an object{_REMEDY}")
        self._last = raw
        return {key: CheckpointEntry.from_json(key, value) for key, value in files.items()}

    def check_writable(self) -> None:
        """Fail now, with the reason, when checkpoints could not be written (a read-only or full state
        folder would otherwise only show when the first batch is confirmed)."""
        tmp = ""
        if os.path.exists(self.state_dir) and not os.path.isdir(self.state_dir):
            raise CheckpointError(
                f"state folder {self.state_dir} exists and is not a folder (choose another --state-dir)"
            )
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=self.state_dir)
            os.close(fd)
        except OSError as exc:
            raise CheckpointError(
                f"state folder {self.state_dir} is not writable: {exc.strerror or exc} (checkpoints go there;"
                " choose another --state-dir or fix its permissions)"
            ) from exc
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def save(self, entries: dict[str, CheckpointEntry]) -> bool:
        """Write all entries atomically; returns False (and writes nothing) when nothing changed."""
        payload = orjson.dumps(
            {"version": VERSION, "files": {key: e.to_json() for key, e in sorted(entries.items())}},
            option=orjson.OPT_INDENT_2,
        )
        if payload == self._last:
            return False
        try:
            write_atomic(self.path, payload, _TMP_PREFIX)
        except OSError as exc:
            raise CheckpointError(f"cannot write checkpoint {self.path}: {exc}") from exc
        self._last = payload
        self.writes += 1
        return True

    def _remove_stale_temps(self) -> None:
        """Temp files left by a crash mid-write are garbage (the real file was never replaced)."""
        for name in os.listdir(self.state_dir):
            if name.startswith(_TMP_PREFIX) and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.state_dir, name))


def write_atomic(path: str, payload: bytes, tmp_prefix: str) -> None:
    """Replace ``path`` with ``payload`` so that a reader (or a crash) sees the old or the new content:
    temporary file in the same folder, fsync, rename, fsync of the folder. Raises OSError."""
    folder = os.path.dirname(path) or "."
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=tmp_prefix, suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        tmp = ""
        _fsync_dir(folder)
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _fsync_dir(path: str) -> None:
    if sys.platform == "win32":  # pragma: no cover - directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Finding the logs of an offline run: folders, single files and .zip archives -> sources per host.

Layout rules (``mpwatch diagnose PATH...``):

* A folder's **immediate subfolders are host names**, each holding that host's logs at any depth
  (``SERVER1/SMS/Logs/sitecomp.log``, ``MGTPOINT1/W3SVC1/ex041206.log``). If the folder itself looks like
  one host's folder (it holds log files, or subfolders such as ``SMS``, ``Logs``, ``W3SVC1``), it is one
  host, named as below.
* A **.zip** is read like a folder (a single wrapping top folder that is not a host folder is skipped).
* A **single file** belongs to the host named before ``SMS`` / ``W3SVC*`` in its path, else ``UNKNOWN``.
* ``--host NAME=PATH`` says that everything under PATH (file or folder) is host NAME's.

Files are logs when their names end in ``.log``, ``.lo_`` or ``.txt`` or contain ``.log.`` (for example
``MPMSI.log.LastError``); files given one by one are always read. Within a folder a rotated
``X.lo_`` is ordered before ``X.log``, and both form one *stream* (one extractor keeps their SiteComp
thread context). Each source's ``file_id`` is its path relative to its host folder.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from streams.core.servers import canonical_server
from streams.errors import InputError
from streams.logfiles import is_log_name, is_rotated, log_kind, rotation_stem

_LOG_DIRS = re.compile(r"^(sms|logs|sms_ccm|ccm|logfiles|w3svc\d*|system32|windows|inetpub)$", re.I)
UNKNOWN_HOST = "UNKNOWN"
#: what reading a source can raise: file-system errors, and damaged zip members (bad CRC, bad header,
#: corrupt deflate data, cut-off archive), which are per-file read errors too, not bugs
READ_ERRORS: tuple[type[Exception], ...] = (OSError, zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class Source:
    """One log file of one host, with a way to open it."""

    host: str
    file_id: str  # path relative to the host folder, '/'-separated
    size: int
    open: Callable[[], IO[bytes]]
    origin: str  # where it came from, for messages

    @property
    def stream(self) -> tuple[str, str]:
        """(host, rotation stream): ``SMS/Logs/sitecomp.lo_`` and ``.log`` share ``sms/logs/sitecomp``."""
        return self.host, rotation_stem(self.file_id)

    @property
    def kind(self) -> str:
        """The log kind its name stands for (``streams.logfiles``)."""
        return log_kind(self.file_id)

    @property
    def order(self) -> tuple[str, str, int, str]:
        return (*self.stream, 0 if is_rotated(self.file_id) else 1, self.file_id)


@dataclass(frozen=True)
class _Entry:
    rel: PurePosixPath
    size: int
    open: Callable[[], IO[bytes]]
    origin: str


def parse_host_option(text: str) -> tuple[str, str]:
    """``NAME=PATH`` -> (canonical NAME, PATH)."""
    name, sep, path = text.partition("=")
    host = canonical_server(name)
    if not sep or not host or not path:
        raise InputError(f"bad --host {text!r} (expected NAME=PATH)")
    return host, path


def discover(
    paths: Iterable[str], hosts: Iterable[tuple[str, str]] = (), notes: list[str] | None = None
) -> list[Source]:
    """Every log source under the given paths, in reading order. InputError for unusable paths.
    What was passed over (FIFOs and devices, zip members with unsafe names, files outside any host
    folder) is said once each in ``notes`` when given."""
    sources: list[Source] = []
    said: list[str] = notes if notes is not None else []
    for host, path in hosts:
        sources.extend(_under(Path(path), forced=host, notes=said))
    for path in paths:
        sources.extend(_under(Path(path), forced=None, notes=said))
    if not sources:
        raise InputError("no log files found in " + ", ".join([*map(str, paths), *(p for _, p in hosts)]))
    unique = {(s.host, s.file_id.lower()): s for s in sources}
    return sorted(unique.values(), key=lambda s: s.order)


def _under(path: Path, forced: str | None, notes: list[str]) -> list[Source]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        return _layout(_folder_entries(path, notes), path.name, forced, str(path), notes)
    if not stat.S_ISREG(mode):  # a FIFO or a device would block or never end: never read one
        raise InputError(f"{path}: not a regular file, folder or .zip (a FIFO, socket or device)")
    if zipfile.is_zipfile(path):
        return _layout(_zip_entries(path, notes), path.stem, forced, str(path), notes)
    if path.suffix.lower() == ".zip":  # a damaged or cut-off download, not a log to read as text
        raise InputError(f"{path}: not a readable zip archive")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file, folder or .zip")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    host = forced or host_from_path(path.resolve().parts) or UNKNOWN_HOST
    return [Source(host, path.name, size, _opener(path), str(path))]


def host_from_path(parts: Iterable[str]) -> str:
    """The folder name before ``SMS`` or ``W3SVC*`` in a path ('' if none)."""
    items = list(parts)
    for i in range(len(items) - 1, 0, -1):
        if re.fullmatch(r"sms|w3svc\d*", items[i], re.I):
            return canonical_server(items[i - 1])
    return ""


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")  # the caller closes it


def _folder_entries(root: Path, notes: list[str]) -> list[_Entry]:
    entries: list[_Entry] = []
    for folder, dirs, files in os.walk(root, onerror=_walk_error):
        dirs.sort()
        for name in sorted(files):
            full = Path(folder) / name
            try:
                info = full.stat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                notes.append(f"{full}: skipped: not a regular file (FIFO, socket or device)")
                continue
            size = info.st_size
            rel = PurePosixPath(*full.relative_to(root).parts)
            entries.append(_Entry(rel, size, _opener(full), str(full)))
    return entries


def _walk_error(exc: OSError) -> None:
    raise InputError(f"{exc.filename}: {exc.strerror or exc}")


def _zip_entries(path: Path, notes: list[str]) -> list[_Entry]:
    """The archive's file members. The archive is opened once and shared by every member's opener
    (reopening it per member re-reads the central directory: quadratic in members). Names made on
    Windows (backslashes) are mapped; absolute names lose their root or drive, with a note; names that
    climb out (``..``) are skipped, with a note."""
    try:
        archive = zipfile.ZipFile(path)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: unreadable zip ({exc})") from exc

    def opener(info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        return lambda: archive.open(info)

    entries = []
    for info in infos:
        name = info.filename.replace("\\", "/")
        stripped = re.sub(r"^(?:[A-Za-z]:)?/+", "", name)
        if stripped != name:
            notes.append(f"{path}!{info.filename}: absolute name read as {stripped!r}")
        rel = PurePosixPath(stripped)
        if ".." in rel.parts or not rel.parts:
            notes.append(f"{path}!{info.filename}: skipped: the name leaves the archive's folder")
            continue
        entries.append(_Entry(rel, info.file_size, opener(info), f"{path}!{info.filename}"))
    return entries


def _looks_like_host_folder(entries: list[_Entry]) -> bool:
    """True when the entries (relative to a folder) are one host's logs rather than host folders."""
    for entry in entries:
        parts = entry.rel.parts
        if len(parts) == 1 and is_log_name(parts[0]):
            return True
        if len(parts) > 1 and _LOG_DIRS.match(parts[0]):
            return True
    return False


def _has_host_folders(entries: list[_Entry]) -> bool:
    """True when some top-level subfolder (not a log folder name itself) holds a host's logs."""
    inner: dict[str, list[_Entry]] = {}
    for e in entries:
        if len(e.rel.parts) >= 2 and not _LOG_DIRS.match(e.rel.parts[0]):
            inner.setdefault(e.rel.parts[0], []).append(
                _Entry(PurePosixPath(*e.rel.parts[1:]), e.size, e.open, e.origin)
            )
    return any(_looks_like_host_folder(group) for group in inner.values())


def _layout(
    entries: list[_Entry], name: str, forced: str | None, origin: str, notes: list[str]
) -> list[Source]:
    while not forced and entries and len({e.rel.parts[0] for e in entries}) == 1:
        top = entries[0].rel.parts[0]
        inner = [_Entry(PurePosixPath(*e.rel.parts[1:]), e.size, e.open, e.origin) for e in entries]
        if any(len(e.rel.parts) == 1 for e in entries) or _looks_like_host_folder(inner):
            break
        entries, name = inner, top  # a wrapper folder (zip of a folder): look inside
    stray_files = [e for e in entries if len(e.rel.parts) == 1]
    collection = not forced and bool(stray_files) and _has_host_folders(entries)
    if collection:  # host folders plus a README or collect.log beside them: the files are not a host
        logs = [e for e in stray_files if is_log_name(e.rel.name)]
        for entry in logs:
            notes.append(f"{entry.origin}: skipped: a log beside the host folders, not inside one")
        if len(stray_files) > len(logs):
            notes.append(
                f"{origin}: {len(stray_files) - len(logs)} other file(s) beside the host folders ignored"
            )
    if forced or (not collection and _looks_like_host_folder(entries)):
        host = forced or host_from_path((*Path(origin).parts, name)) or canonical_server(name)
        return [_source(host, e.rel, e) for e in entries if is_log_name(e.rel.name)]
    sources = []
    for entry in entries:
        if len(entry.rel.parts) < 2 or not is_log_name(entry.rel.name):
            continue
        host = canonical_server(entry.rel.parts[0]) or UNKNOWN_HOST
        sources.append(_source(host, PurePosixPath(*entry.rel.parts[1:]), entry))
    if not sources and entries:
        raise InputError(f"{origin}: no host folders with log files (expected HOST/.../*.log)")
    return sources


def _source(host: str, rel: PurePosixPath, entry: _Entry) -> Source:
    return Source(host, str(rel), entry.size, entry.open, entry.origin)

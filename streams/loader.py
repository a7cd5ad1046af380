"""Finding the logs of an offline run: folders, single files and .zip archives -> sources per host.

Layout rules (``mpwatch diagnose PATH...``):

* A folder's **immediate subfolders are host names**, each holding that host's logs at any depth
  (``SERVER1/SMS/Logs/sitecomp.log``, ``MGTPOINT1/W3SVC1/ex041206.log``, ``MGTPOINT1/C$/SMS/Logs/...``).
  The folder itself is one host's folder (named as below) when it has log folders of its own (``SMS``,
  ``Logs``, ``W3SVC1``, a ``C$`` share, ...), or well-known logs at its top (MPSetup.log, sitecomp.log)
  and no subfolder holding such log folders. Other files at the top (a README.txt, a collect.log) never
  make it a host: beside host folders they are skipped, with a note. A subfolder without logs is no host
  (a note). A single wrapper folder around host folders is looked into, with a README beside it or not.
* A **.zip** is read like a folder. Member names made on Windows (``\\``), absolute ones (``/x``,
  ``C:\\x``, ``\\\\server\\share\\x``) are mapped and ``..`` names skipped, each with a note.
* A **single file** belongs to the host named before ``SMS`` / ``W3SVC*`` in its path, else ``UNKNOWN``.
* ``--host NAME=PATH`` says that everything under PATH (file or folder) is host NAME's.

Files are logs when their names end in ``.log``, ``.lo_`` or ``.txt`` or contain ``.log.`` (for example
``MPMSI.log.LastError``); files given one by one are always read. Within a folder a rotated
``X.lo_`` is ordered before ``X.log``, and both form one *stream* (one extractor keeps their SiteComp
thread context). Each source's ``file_id`` is its path relative to its host folder.
"""

from __future__ import annotations

import enum
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

#: folder names that are part of one host's log layout, never a host: SMS and IIS log folders, the
#: Windows folders above them and a drive's admin share (``C$``) or letter as collected from a server
_LOG_DIRS = re.compile(
    r"^(sms|logs|sms_ccm|ccm|logfiles|w3svc\d*|system32|windows|inetpub|[a-z]\$|program files( \(x86\))?"
    r"|microsoft configuration manager|sms_[a-z0-9]{3})$",
    re.I,
)
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
    Windows (backslashes) are mapped, with one note per archive; absolute names lose their root, drive
    or ``\\\\server\\share``, with a note each; names that climb out (``..``) are skipped, with a note
    each."""
    try:
        archive = zipfile.ZipFile(path)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: unreadable zip ({exc})") from exc

    def opener(info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        return lambda: archive.open(info)

    entries = []
    windows = 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        windows += name != info.filename
        stripped = re.sub(r"^(?://+[^/]+/+[^/]+/+|(?:[A-Za-z]:)?/+|[A-Za-z]:)", "", name)
        if stripped != name:
            notes.append(f"{path}!{info.filename}: absolute name read as {stripped!r}")
        rel = PurePosixPath(stripped)
        if ".." in rel.parts or not rel.parts:
            notes.append(f"{path}!{info.filename}: skipped: the name leaves the archive's folder")
            continue
        entries.append(_Entry(rel, info.file_size, opener(info), f"{path}!{info.filename}"))
    if windows:
        notes.append(
            f"{path}: {windows} member name(s) with '\\' separators (made on Windows) read as folders"
        )
    return entries


class _Shape(enum.Enum):
    """What a folder's entries look like: one host's logs, host folders, or loose subfolders."""

    HOST = "host"  # its own log folders (SMS, Logs, W3SVC1, C$) or well-known logs at its top
    COLLECTION = "collection"  # subfolders that hold SMS/IIS logs: host folders
    LOOSE = "loose"  # subfolders with some logs, nothing at the top: host folders too, weakly
    EMPTY = "empty"  # no log anywhere


def _groups(entries: list[_Entry]) -> dict[str, list[_Entry]]:
    """Top-level subfolder -> its entries, relative to it."""
    inner: dict[str, list[_Entry]] = {}
    for e in entries:
        if len(e.rel.parts) >= 2:
            inner.setdefault(e.rel.parts[0], []).append(
                _Entry(PurePosixPath(*e.rel.parts[1:]), e.size, e.open, e.origin)
            )
    return inner


def _logs(entries: list[_Entry]) -> list[_Entry]:
    return [e for e in entries if is_log_name(e.rel.name)]


def _shape(entries: list[_Entry]) -> _Shape:
    """Classify a folder by its own top level and what its subfolders hold (never by file contents).

    A log folder of its own (``SMS``, ``Logs``, ``W3SVC1``, a ``C$`` share) makes it a host. Well-known
    logs at the top (MPSetup.log, sitecomp.log, ex041206.log) make it a host unless a subfolder holds a
    log folder (then those logs sit beside host folders). A README or collect.log at the top says
    nothing: subfolders with logs are the hosts then."""
    groups = {name: _logs(inner) for name, inner in _groups(entries).items()}
    groups = {name: logs for name, logs in groups.items() if logs}
    top = _logs([e for e in entries if len(e.rel.parts) == 1])
    if any(_LOG_DIRS.match(name) for name in groups):
        return _Shape.HOST
    deep = any(any(_LOG_DIRS.match(p) for p in e.rel.parts[:-1]) for logs in groups.values() for e in logs)
    known = any(log_kind(e.rel.name) != "other" for logs in groups.values() for e in logs)
    if top and any(log_kind(e.rel.name) != "other" for e in top) and not deep:
        return _Shape.HOST
    if deep or known:
        return _Shape.COLLECTION
    if groups and not top:
        return _Shape.LOOSE
    return _Shape.HOST if top else _Shape.EMPTY


def _note_beside(entries: list[_Entry], origin: str, notes: list[str]) -> None:
    """Files at the top of a folder of host folders belong to no host: one note per log, one for the rest."""
    stray = [e for e in entries if len(e.rel.parts) == 1]
    logs = _logs(stray)
    for entry in logs:
        notes.append(f"{entry.origin}: skipped: a log beside the host folders, not inside one")
    if len(stray) > len(logs):
        notes.append(f"{origin}: {len(stray) - len(logs)} other file(s) beside the host folders ignored")


def _layout(
    entries: list[_Entry], name: str, forced: str | None, origin: str, notes: list[str]
) -> list[Source]:
    """Sources of a folder or archive: one host's, or one per host folder (after wrapper folders)."""
    if forced:
        return [_source(forced, e.rel, e) for e in _logs(entries)]
    shape = _shape(entries)
    while shape is not _Shape.HOST:
        groups = {n: inner for n, inner in _groups(entries).items() if _logs(inner)}
        if len(groups) != 1:
            break
        ((top, inner),) = groups.items()
        inner_shape = _shape(inner)
        alone = all(len(e.rel.parts) > 1 for e in entries)
        if inner_shape is _Shape.HOST or (inner_shape is not _Shape.COLLECTION and not alone):
            break
        _note_beside(entries, origin, notes)  # a wrapper folder (zip of a folder), perhaps with a README
        entries, name, shape = inner, top, inner_shape
    if shape is _Shape.HOST:
        host = host_from_path((*Path(origin).parts, name)) or canonical_server(name) or UNKNOWN_HOST
        return [_source(host, e.rel, e) for e in _logs(entries)]
    _note_beside(entries, origin, notes)
    sources: list[Source] = []
    for folder, inner in sorted(_groups(entries).items()):
        logs = _logs(inner)
        host = canonical_server(folder)
        if not logs or not host:
            notes.append(f"{origin}: {folder}/ ignored: no log files in it, so not a host folder")
            continue
        sources.extend(_source(host, e.rel, e) for e in logs)
    if not sources and entries:
        raise InputError(f"{origin}: no host folders with log files (expected HOST/.../*.log)")
    return sources


def _source(host: str, rel: PurePosixPath, entry: _Entry) -> Source:
    return Source(host, str(rel), entry.size, entry.open, entry.origin)

"""Linux change notifications read on the event loop itself: inotify without a thread.

watchdog's observer costs three threads and three hand-offs per event (a reader, a delayed queue that
pairs moves, an emitter, a dispatcher, then ``call_soon_threadsafe`` into the loop). On a site server
tailing hundreds of files that appear one line at a time, those wake-ups cost more than reading the
lines. Here the inotify descriptor is registered with the loop (``add_reader``): a burst of events is one
callback that reads every queued event (the kernel already merges identical successive events), turns
them into a set of paths and hands each to ``on_hint`` once.

* **Hints, never the truth** (as with watchdog): a path changed, look at it. A queue overflow
  (``IN_Q_OVERFLOW``) hints every root, which makes the shipper scan; the periodic rescan stays the
  safety net for everything else (a watch limit reached, a network share).
* **Recursive roots** get a watch per folder. A folder created or moved in is watched at once and
  hinted (files written into it before its watch existed are found by the scan that hint causes); a
  folder moved away or deleted loses its watches. A root that disappears is watched again by
  ``refresh`` once it exists again.
* **The mask** asks only for writes, closes after writing, creations, deletions and moves: the
  shipper's own opens and reads never reach the queue.
* ``coalesce_s`` > 0 waits that long after the first event of a burst before reading, so a writer
  appending line by line costs one callback per interval instead of one per line.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mpwatch.shipper")

IN_NONBLOCK = 0o4000  # inotify_init1 flags (= O_NONBLOCK / O_CLOEXEC on Linux; spelled out so the
IN_CLOEXEC = 0o2000000  # module type-checks on every platform the shipper runs on)
IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

WATCH_MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_EXCL_UNLINK
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of NUL-padded name)
_READ_BYTES = 64 * 1024
_MAX_READS = 64  # per callback (4 MiB of events), so a flood cannot hold the loop; the rest comes next


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


def available() -> bool:
    """True where this module works: Linux with a libc that has inotify."""
    return _LIBC is not None


class InotifyWatcher:
    """Observes folders; calls ``on_hint(path)`` on the event loop for every changed path (see the
    module docstring). Same interface as ``shipper.watcher.WatchdogWatcher``."""

    def __init__(
        self,
        roots: list[tuple[str, bool]],
        on_hint: Callable[[str], None],
        loop: asyncio.AbstractEventLoop,
        *,
        coalesce_s: float = 0.0,
    ) -> None:
        if _LIBC is None:
            raise OSError("inotify is not available on this system")
        self.roots = roots
        self._on_hint = on_hint
        self._loop = loop
        self.coalesce_s = coalesce_s
        self._fd = -1
        self._paths: dict[int, str] = {}  # watch descriptor -> folder
        self._wds: dict[str, int] = {}  # folder -> watch descriptor
        self._recursive: dict[int, bool] = {}  # whether folders created inside get watches too
        self._watched_roots: set[str] = set()
        self._limit_logged = False
        self._waiting = False  # a coalescing timer is pending (the reader is off meanwhile)
        self.overflows = 0  # kernel queue overflows seen (each made every root a hint)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        fd = _LIBC.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)} (fs.inotify.max_user_instances?)")
        self._fd = fd
        self.refresh()
        self._loop.add_reader(fd, self._readable)

    def refresh(self) -> None:
        """Watch every root folder that exists now and is not watched yet."""
        if self._fd < 0:
            return
        for root, recursive in self.roots:
            if root in self._watched_roots or not os.path.isdir(root):
                continue
            if self._add_tree(root, recursive) is not None:
                self._watched_roots.add(root)

    def stop(self) -> None:
        if self._fd < 0:
            return
        if not self._waiting:
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        self._paths.clear()
        self._wds.clear()

    @property
    def watches(self) -> int:
        """How many folders are watched now."""
        return len(self._paths)

    # ------------------------------------------------------------------ watches
    def _add(self, folder: str, recursive: bool) -> int | None:
        wd = _LIBC.inotify_add_watch(self._fd, os.fsencode(folder), WATCH_MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err == 28 and not self._limit_logged:  # ENOSPC: fs.inotify.max_user_watches reached
                log.warning(
                    "inotify watch limit reached (fs.inotify.max_user_watches) at %s; "
                    "relying on periodic rescans for folders not watched",
                    folder,
                )
                self._limit_logged = True
            return None  # ENOENT / ENOTDIR: gone meanwhile; EACCES: the rescan reports it
        self._paths[wd] = folder
        self._wds[folder] = wd
        self._recursive[wd] = self._recursive.get(wd, False) or recursive
        return wd

    def _add_tree(self, folder: str, recursive: bool) -> int | None:
        wd = self._add(folder, recursive)
        if wd is not None and recursive:
            for parent, dirs, _files in os.walk(folder):
                for name in dirs:
                    self._add(os.path.join(parent, name), True)
        return wd

    def _forget_tree(self, folder: str) -> None:
        """``folder`` moved away or was deleted: drop its watches and those below it."""
        inside = folder + os.sep
        for path, wd in [(p, w) for p, w in self._wds.items() if p == folder or p.startswith(inside)]:
            _LIBC.inotify_rm_watch(self._fd, wd)  # EINVAL when the kernel dropped it already: fine
            self._drop(wd, path)

    def _drop(self, wd: int, path: str) -> None:
        self._paths.pop(wd, None)
        self._recursive.pop(wd, None)
        if self._wds.get(path) == wd:
            del self._wds[path]
        self._watched_roots.discard(path)  # a root gone is watched again by refresh once it exists

    # ------------------------------------------------------------------ events
    def _readable(self) -> None:
        if self.coalesce_s > 0:
            self._loop.remove_reader(self._fd)
            self._waiting = True
            self._loop.call_later(self.coalesce_s, self._drain)
        else:
            self._drain()

    def _drain(self) -> None:
        if self._fd < 0:
            return
        paths: set[str] = set()
        more = True
        for _ in range(_MAX_READS):
            try:
                data = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                more = False
                break
            except OSError as exc:
                log.warning("reading change notifications failed (%s); relying on rescans", exc)
                more = False
                break
            if not data:
                more = False
                break
            self._parse(data, paths)
        if self._waiting:
            self._waiting = False
            self._loop.add_reader(self._fd, self._readable)
        if more:  # still queued: read on in the next round, after other callbacks had their turn
            self._loop.call_soon(self._drain)
        for path in paths:
            self._on_hint(path)

    def _parse(self, data: bytes, paths: set[str]) -> None:
        offset, end, size = 0, len(data), _HEADER.size
        while offset + size <= end:
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            name = data[offset + size : offset + size + length].rstrip(b"\0")
            offset += size + length
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                log.warning("change notifications overflowed the kernel queue; scanning everything")
                paths.update(root for root, _ in self.roots)
                continue
            folder = self._paths.get(wd)
            if folder is None:
                continue
            if mask & IN_IGNORED:  # the folder was deleted, or unmounted: its watch is gone
                self._drop(wd, folder)
                paths.add(folder)
                continue
            if not name:  # an event on the watched folder itself (deleted or moved)
                paths.add(folder)
                continue
            path = os.path.join(folder, os.fsdecode(name))
            if mask & IN_ISDIR:
                if mask & IN_MOVED_FROM:
                    self._forget_tree(path)
                elif mask & (IN_CREATE | IN_MOVED_TO) and self._recursive.get(wd):
                    self._add_tree(path, True)
            paths.add(path)

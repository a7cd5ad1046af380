"""Change notifications: file-system events turned into hints on the event loop.

Notifications only say *look here now*; they are never trusted to be complete (inotify queues overflow,
network shares drop events, a folder may not exist yet). The pipeline's periodic rescan is the safety net
and ``refresh`` schedules folders that appeared since the start.

``open_watcher`` picks the backend (``tail.notify``):

* ``inotify`` (``auto`` on Linux): ``shipper.inotify``, the kernel's queue read on the loop, no thread;
* ``watchdog`` (``auto`` elsewhere: Windows' ReadDirectoryChangesW, macOS FSEvents): a watchdog
  ``Observer`` whose events arrive on its threads and are coalesced into one ``call_soon_threadsafe``
  per burst, so a busy writer does not flood the loop;
* ``off``: no notifications, rescans only (network shares that never report changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from shipper import inotify

log = logging.getLogger("mpwatch.shipper")

# the shipper's own reads must not wake it up again ("opened", "closed_no_write")
_USEFUL = frozenset({"created", "modified", "moved", "deleted", "closed"})
# ... nor even reach the kernel queue: the inotify mask only asks for these (with every event type, a
# process reading thousands of files floods the queue with its own opens and closes until it overflows)
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


class _Handler(FileSystemEventHandler):
    def __init__(self, post: Callable[[str], None]) -> None:
        self._post = post

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _USEFUL or (event.is_directory and event.event_type == "modified"):
            return  # a folder's "modified" accompanies every change inside it: the file event suffices
        self._post(os.fsdecode(event.src_path))
        dest = getattr(event, "dest_path", "")
        if dest:
            self._post(os.fsdecode(dest))


class ChangeWatcher(Protocol):
    """What the pipeline needs of a backend: observe the roots, hand hints to the loop."""

    def start(self) -> None: ...

    def refresh(self) -> None: ...

    def stop(self) -> None: ...


def open_watcher(
    roots: list[tuple[str, bool]],
    on_hint: Callable[[str], None],
    loop: asyncio.AbstractEventLoop,
    *,
    notify: str = "auto",
    coalesce_s: float = 0.0,
) -> ChangeWatcher | None:
    """A started watcher over ``roots`` (see the module docstring), or None for ``off``. OSError when
    the system refuses (inotify instance limit, ...): the caller then relies on rescans."""
    if notify == "off":
        return None
    watcher: ChangeWatcher
    if notify == "inotify" or (notify == "auto" and inotify.available()):
        watcher = inotify.InotifyWatcher(roots, on_hint, loop, coalesce_s=coalesce_s)
    else:
        watcher = WatchdogWatcher(roots, on_hint, loop)
    watcher.start()
    return watcher


class WatchdogWatcher:
    """Observes folders with watchdog; calls ``on_hint(path)`` on the event loop for every changed path."""

    def __init__(
        self,
        roots: list[tuple[str, bool]],
        on_hint: Callable[[str], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.roots = roots
        self._on_hint = on_hint
        self._loop = loop
        self._observer = Observer()
        self._handler = _Handler(self._post)
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._started = False

    def start(self) -> None:
        self.refresh()
        self._observer.start()
        self._started = True

    def refresh(self) -> None:
        """Schedule every root folder that exists now and is not observed yet."""
        for root, recursive in self.roots:
            if root in self._scheduled or not os.path.isdir(root):
                continue
            try:
                self._observer.schedule(self._handler, root, recursive=recursive, event_filter=_EVENT_FILTER)
            except OSError as exc:  # e.g. inotify watch limit: the rescan still covers the folder
                log.warning("cannot watch %s (%s); relying on periodic rescans", root, exc)
                continue
            self._scheduled.add(root)

    def stop(self) -> None:
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._started = False

    def _post(self, path: str) -> None:  # watchdog thread
        with self._lock:
            first = not self._pending
            self._pending.add(path)
        if first:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:  # event loop
        with self._lock:
            paths, self._pending = self._pending, set()
        for path in paths:
            self._on_hint(path)

"""shipper.inotify against the real kernel: hints for writes, folders watched as they appear and
forgotten as they go, bursts coalesced, the shipper's own reads silent; open_watcher's backends."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from shipper import inotify
from shipper.watcher import WatchdogWatcher, open_watcher

pytestmark = pytest.mark.skipif(not inotify.available(), reason="inotify is Linux-only")


class Hints:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str) -> None:
        self.paths.append(path)

    async def until(self, path: Path, timeout: float = 3.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while str(path) not in self.paths:
            assert asyncio.get_running_loop().time() < deadline, f"no hint for {path}: {self.paths}"
            await asyncio.sleep(0.01)


async def settle() -> None:
    await asyncio.sleep(0.15)


def append(path: Path, text: str = "line\n") -> None:
    with open(path, "a") as handle:
        handle.write(text)


async def test_a_write_in_a_watched_folder_is_a_hint(tmp_path: Path) -> None:
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(tmp_path), False)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        log = tmp_path / "SiteComp.log"
        append(log)
        await hints.until(log)
    finally:
        watcher.stop()


async def test_reading_a_file_gives_no_hint(tmp_path: Path) -> None:
    log = tmp_path / "MPControl.log"
    log.write_text("old\n")
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(tmp_path), True)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        for _ in range(5):
            assert log.read_text() == "old\n"  # the shipper's own opens and reads
        await settle()
        assert hints.paths == []
    finally:
        watcher.stop()


async def test_folders_created_later_are_watched_recursively(tmp_path: Path) -> None:
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(tmp_path), True)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        assert watcher.watches == 1
        deep = tmp_path / "W3SVC1" / "sub"
        deep.mkdir(parents=True)
        await hints.until(tmp_path / "W3SVC1")
        assert watcher.watches == 3  # the root, W3SVC1 and sub (created before its parent was watched)
        log = deep / "u_ex260101.log"
        append(log)
        await hints.until(log)
    finally:
        watcher.stop()


async def test_a_non_recursive_root_does_not_watch_sub_folders(tmp_path: Path) -> None:
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(tmp_path), False)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        (tmp_path / "inner").mkdir()
        await hints.until(tmp_path / "inner")  # the folder itself is a hint (the shipper scans)
        append(tmp_path / "inner" / "x.log")
        await settle()
        assert watcher.watches == 1
        assert str(tmp_path / "inner" / "x.log") not in hints.paths
    finally:
        watcher.stop()


async def test_folders_moved_away_lose_their_watches_and_moved_in_ones_gain_them(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(root), True)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        assert watcher.watches == 3
        os.rename(root / "a", outside / "a")
        await hints.until(root / "a")
        assert watcher.watches == 1
        append(outside / "a" / "b" / "gone.log")  # no longer inside a watched tree
        os.rename(outside / "a", root / "c")
        await hints.until(root / "c")
        assert watcher.watches == 3
        append(root / "c" / "b" / "new.log")
        await hints.until(root / "c" / "b" / "new.log")
        assert str(outside / "a" / "b" / "gone.log") not in hints.paths
    finally:
        watcher.stop()


async def test_a_root_deleted_and_created_again_is_watched_again_by_refresh(tmp_path: Path) -> None:
    root = tmp_path / "Logs"
    root.mkdir()
    hints = Hints()
    watcher = inotify.InotifyWatcher([(str(root), True)], hints, asyncio.get_running_loop())
    watcher.start()
    try:
        shutil.rmtree(root)
        await hints.until(root)
        await settle()
        assert watcher.watches == 0
        root.mkdir()
        watcher.refresh()  # what the shipper's rescan does
        assert watcher.watches == 1
        append(root / "SiteComp.log")
        await hints.until(root / "SiteComp.log")
    finally:
        watcher.stop()


async def test_a_burst_is_read_once_per_coalescing_interval(tmp_path: Path) -> None:
    hints = Hints()
    watcher = inotify.InotifyWatcher(
        [(str(tmp_path), False)], hints, asyncio.get_running_loop(), coalesce_s=0.2
    )
    watcher.start()
    try:
        logs = [tmp_path / f"MP{i}.log" for i in range(3)]
        for _ in range(20):  # 60 writes, each opened and closed: modify + close_write events
            for log in logs:
                append(log)
        for log in logs:
            await hints.until(log)
        await settle()
        assert sorted(hints.paths) == sorted(str(log) for log in logs)  # one hint per path
    finally:
        watcher.stop()


async def test_stop_while_coalescing_is_clean(tmp_path: Path) -> None:
    hints = Hints()
    watcher = inotify.InotifyWatcher(
        [(str(tmp_path), False)], hints, asyncio.get_running_loop(), coalesce_s=0.2
    )
    watcher.start()
    append(tmp_path / "a.log")
    await asyncio.sleep(0.05)
    watcher.stop()  # the pending read finds the descriptor closed and does nothing
    await asyncio.sleep(0.3)
    assert hints.paths == []


async def test_open_watcher_backends(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    hints = Hints()
    assert open_watcher([(str(tmp_path), True)], hints, loop, notify="off") is None
    auto = open_watcher([(str(tmp_path), True)], hints, loop)
    assert isinstance(auto, inotify.InotifyWatcher)
    auto.stop()
    fallback = open_watcher([(str(tmp_path), True)], hints, loop, notify="watchdog")
    assert isinstance(fallback, WatchdogWatcher)
    try:
        append(tmp_path / "SiteComp.log")
        await hints.until(tmp_path / "SiteComp.log")
    finally:
        fallback.stop()
